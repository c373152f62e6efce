# -*- coding: utf-8 -*-
"""Which pyroute2 the modules run with, and a pyroute2 older than supported refused before any change.

The whole module suite runs twice in `make test`: with the controller's venv (pyroute2 0.9 from PyPI)
and with ``PODNET_MODULE_PYTHON=/usr/bin/python3`` (Debian 12's ``python3-pyroute2``, 0.7.2), as a
managed Debian host has it (``make modules-distro``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kernel import COLLECTIONS, MODULE_PATH, MODULE_PYTHON, REPO, sh

OLD = '0.6.13'  # the newest release before the supported range; EPEL 9 ships 0.5.14
OLD_TARGET = os.path.join(REPO, '.tmp', 'pyroute2-%s' % OLD)


def _version_in(python, path):
    code = ('from ansible_collections.openkube.podnet.plugins.module_utils._netlink import pyroute2_version, IPRoute; '
            'import pyroute2.iproute.linux as m; print(".".join(map(str, pyroute2_version())), m.__file__)')
    proc = subprocess.run([python, '-c', code], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=path), cwd='/')
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_modules_run_with_the_pyroute2_of_their_python():
    """The Python the suite's modules run with, and its pyroute2 (read by the collection itself); with
    PODNET_MODULE_PYTHON set it is another pyroute2 than the venv's, loaded from that Python's own path."""
    version, where = _version_in(MODULE_PYTHON, MODULE_PATH)
    print('modules run with %s: pyroute2 %s from %s' % (MODULE_PYTHON, version, where))
    assert tuple(int(x) for x in version.split('.')) >= (0, 7, 2)
    if MODULE_PYTHON != sys.executable:
        venv_version = _version_in(sys.executable, COLLECTIONS)[0]
        assert version != venv_version
        assert not where.startswith(os.path.join(REPO, '.venv'))


def test_too_old_pyroute2_is_refused_before_any_change():
    """pyroute2 0.6 (from PyPI, ahead of the venv's own on the module's path): the module fails with a
    message naming the version found, the version needed, the host, its Python and what to install,
    and the namespace it was asked for is not made."""
    if not os.path.isdir(os.path.join(OLD_TARGET, 'pyroute2')):
        sh(sys.executable, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--no-deps',
           '--target', OLD_TARGET, 'pyroute2==%s' % OLD)
    name = 'pnt-old-%d' % os.getpid()
    result = _run_with_path('netns', dict(name=name, state='present'), OLD_TARGET)
    assert result.get('failed'), result
    msg = result['msg']
    for part in ('pyroute2 %s is too old' % OLD, 'needs 0.7.2 or later', os.uname()[1], sys.executable,
                 'python3-pyroute2', 'virtual environment'):
        assert part in msg, msg
    assert 'Traceback' not in msg
    assert not os.path.exists('/run/netns/%s' % name)


def _run_with_path(module, args, first):
    """tests/kernel.run_module, with ``first`` ahead of the collection on the module's path (the venv's Python)."""
    payload = dict(args, _ansible_check_mode=False, _ansible_diff=True)
    proc = subprocess.run(
        [sys.executable, '-m', 'ansible_collections.openkube.podnet.plugins.modules.' + module],
        input=json.dumps({'ANSIBLE_MODULE_ARGS': payload}), capture_output=True, text=True, cwd='/', check=False,
        env=dict(os.environ, PYTHONPATH='%s:%s' % (first, COLLECTIONS)))
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('module %s printed no JSON (rc %d): %s %s' % (module, proc.returncode, proc.stdout,
                                                                           proc.stderr))
