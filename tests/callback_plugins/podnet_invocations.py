# -*- coding: utf-8 -*-
"""Test/benchmark callback: counts module executions on the managed hosts, per host.

Enabled with ANSIBLE_CALLBACK_PLUGINS=tests/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=podnet_invocations; writes {host: count, ...} as JSON to
$PODNET_INVOCATIONS_FILE at the end of the run. Each loop item counts once; tasks whose
action runs only on the controller (set_fact, assert, debug, include_*, pause, ...) and
skipped tasks do not count.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: podnet_invocations
type: aggregate
short_description: count module executions per host
description: Counts module executions on managed hosts, per host, and writes them as JSON.
requirements: [PODNET_INVOCATIONS_FILE in the environment]
'''

CONTROLLER_ONLY = {
    'set_fact', 'assert', 'debug', 'include_role', 'include_tasks', 'import_role', 'import_tasks',
    'validate_argument_spec', 'pause', 'fail', 'meta', 'add_host', 'group_by', 'include_vars', 'set_stats',
}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'podnet_invocations'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.counts = {}

    def _count(self, result):
        action = result._task.action.split('.')[-1]
        if action in CONTROLLER_ONLY or result._result.get('skipped'):
            return
        host = result._host.get_name()
        self.counts[host] = self.counts.get(host, 0) + 1

    def _count_task(self, result):
        if result._task.loop is None and not result._result.get('results'):
            self._count(result)

    v2_runner_on_ok = _count_task

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count_task(result)

    v2_runner_item_on_ok = _count
    v2_runner_item_on_failed = _count

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('PODNET_INVOCATIONS_FILE')
        if path:
            with open(path, 'w') as f:
                json.dump(self.counts, f, sort_keys=True)
