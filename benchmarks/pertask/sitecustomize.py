# -*- coding: utf-8 -*-
"""Loaded by every Python process started with this folder on PYTHONPATH (benchmarks/pertask.py sets it for
ansible-playbook only): in ansible-playbook's main process, records the CPU of every task worker Ansible forks
(its own, and that of the processes it waited for: the connection and the module) by task name, and the main
process's own CPU at exit. One line per record in $PODNET_PERTASK_LOG. Nothing else changes."""

import atexit
import os
import resource
import sys

LOG = os.environ.get('PODNET_PERTASK_LOG')


def _cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _write(kind, name, own, children):
    with open(LOG, 'a') as handle:
        handle.write('%s\t%s\t%.4f\t%.4f\n' % (kind, name.replace('\t', ' '), own, children))


def _install():
    import multiprocessing.process  # pylint: disable=import-outside-toplevel

    bootstrap = multiprocessing.process.BaseProcess._bootstrap

    def accounted(self, *args, **kwargs):
        try:
            return bootstrap(self, *args, **kwargs)
        finally:  # the fork's own CPU, and its children's (connection, module), before os._exit
            task = getattr(self, '_task', None)
            name = str(getattr(task, 'name', None) or getattr(task, 'action', None) or type(self).__name__)
            _write('worker', name, _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN))

    multiprocessing.process.BaseProcess._bootstrap = accounted
    atexit.register(lambda: _write('main', 'ansible-playbook', _cpu(resource.RUSAGE_SELF), 0.0))


if LOG and sys.argv and os.path.basename(sys.argv[0]) == 'ansible-playbook':
    _install()
