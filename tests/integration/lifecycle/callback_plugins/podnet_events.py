# -*- coding: utf-8 -*-
"""Test callback: one JSON line per task result and host, for the lifecycle tests.

Enabled with ANSIBLE_CALLBACK_PLUGINS=tests/integration/lifecycle/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=podnet_events; appends to $PODNET_EVENTS_FILE, one line per
(task, host) as soon as the result arrives (so a killed run still leaves what it saw):

    {"task": "openkube.podnet.podnet : Apply the plan ...", "action": "openkube.podnet.converge",
     "host": "worker2", "status": "ok|changed|failed|skipped|unreachable", "changed": true,
     "items": [...changed flag per loop item...], "actions": [...], "steps": [...], "msg": "..."}

``actions``/``steps`` are the converge module's own report (what it did or, in check mode,
would do), so check mode and a real run can be compared object by object.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: podnet_events
type: aggregate
short_description: one JSON line per task result and host
description: Writes every task result (task name, host, status, changed, the converge module's actions) as JSON lines.
requirements: [PODNET_EVENTS_FILE in the environment]
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'podnet_events'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status):
        path = os.environ.get('PODNET_EVENTS_FILE')
        if not path:
            return
        res = result._result
        items = res.get('results') if isinstance(res.get('results'), list) else None
        event = dict(
            task=result._task.get_name(),
            action=result._task.action,
            host=result._host.get_name(),
            status=status,
            changed=bool(res.get('changed')),
            items=[bool(i.get('changed')) for i in items if isinstance(i, dict)] if items is not None else None,
            actions=res.get('actions'),
            steps=res.get('steps'),
            msg=str(res.get('msg', ''))[:4000],
        )
        with open(path, 'a') as f:
            f.write(json.dumps(event, sort_keys=True) + '\n')

    def v2_runner_on_ok(self, result):
        self._write(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._write(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._write(result, 'unreachable')
