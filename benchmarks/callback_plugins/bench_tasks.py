# -*- coding: utf-8 -*-
"""Benchmark callback: wall time of every task (from its start to the next task's start), as JSON.

Enabled with ANSIBLE_CALLBACK_PLUGINS=benchmarks/callback_plugins ANSIBLE_CALLBACKS_ENABLED=bench_tasks;
writes [[task name, action, seconds], ...] to $BENCH_TASKS_FILE at the end of the run.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: bench_tasks
type: aggregate
short_description: wall time per task, for benchmarks/run.py
description: Records the wall time of each task and writes it as JSON to $BENCH_TASKS_FILE.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_tasks'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []
        self.current = None

    def _close(self):
        if self.current is not None:
            name, action, start = self.current
            self.tasks.append([name, action, round(time.monotonic() - start, 3)])
            self.current = None

    def _start(self, task):
        self._close()
        self.current = (task.get_name(), task.action, time.monotonic())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def v2_playbook_on_play_start(self, play):
        self._close()

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get('BENCH_TASKS_FILE')
        if path:
            with open(path, 'w') as f:
                json.dump(self.tasks, f)
