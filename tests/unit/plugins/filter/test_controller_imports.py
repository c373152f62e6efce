# -*- coding: utf-8 -*-
"""The controller's plugins that run in a worker for every host and task (the filters cluster_check and host_check,
the actions host_plan and converge) import neither pyroute2 nor the resource modules: Ansible forks a worker per
host and task, and each imported them again (about 0.2 s of CPU per host and task, the cost of a module run).
Looking up one filter of the collection loads every filter file of it, verify.py too."""

from __future__ import annotations

import subprocess
import sys

PLUGINS = ('filter.plan', 'filter.verify', 'action.host_plan', 'action.converge')


def test_the_controller_plugins_import_no_pyroute2():
    probe = ('import sys\nsys.path[:0] = %r\n' % (sys.path,)  # where this test found the collection
             + ''.join('import ansible_collections.openkube.podnet.plugins.%s\n' % name for name in PLUGINS)
             + 'print(",".join(sorted(m for m in sys.modules if m.split(".")[0] == "pyroute2" '
               'or m.rsplit(".", 1)[-1] in ("_netlink", "_converge", "_cni", "_resource"))))')
    out = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '', out.stdout
