# -*- coding: utf-8 -*-
"""The User-Mode Linux harness itself: exit status, output, kernel modules, the venv, the timeout."""

from __future__ import annotations

import json
import os
import time

import pytest

from .harness import REPO, UmlTimeout, _session_pids, run_in_uml

pytestmark = pytest.mark.uml

VENV_PYTHON = os.path.join(REPO, '.venv', 'bin', 'python')


@pytest.mark.parametrize('rc', [0, 3])
def test_exit_status_and_output(rc):
    result = run_in_uml('echo out-$((40 + 2)); echo err-line >&2; exit %d' % rc, timeout=120)
    print('UML boot + run + poweroff: %.2f s' % result.seconds)
    assert result.rc == rc
    assert 'out-42' in result.output
    assert 'err-line' in result.output


def test_runs_in_repo_with_private_scratch():
    result = run_in_uml('pwd; echo "home=$HOME tmp=$TMPDIR"; findmnt -n -o FSTYPE /run', timeout=120)
    assert result.rc == 0, result.output
    lines = result.output.split()
    assert lines[0] == REPO  # the checkout is visible, wherever it is (also under /tmp)
    assert 'home=/run/home' in lines and 'tmp=/run/tmp' in lines
    assert lines[-1] == 'tmpfs'


def test_ipip_exists_inside():
    result = run_in_uml(
        'set -e\n'
        'ip link add t0 type ipip local 10.0.0.1\n'
        'ip -j -d link show\n', timeout=120)
    assert result.rc == 0, result.output
    links = {link['ifname']: link for link in json.loads(result.output)}
    assert links['t0']['linkinfo']['info_kind'] == 'ipip'
    assert links['t0']['linkinfo']['info_data']['local'] == '10.0.0.1'
    # nothing but loopback and our tunnel (and the kernel's tunl0 fallback device): no way out
    assert set(links) <= {'lo', 't0', 'tunl0'}
    assert links['lo']['operstate'] == 'UNKNOWN'


def test_venv_python_imports_pyroute2():
    assert os.access(VENV_PYTHON, os.X_OK), 'run make setup first'
    result = run_in_uml(
        '%s -c "import pyroute2, sys; print(sys.version_info[:2], pyroute2.__version__)\n'
        'from pyroute2 import IPRoute\n'
        'with IPRoute() as ipr: print(\'links\', len(ipr.get_links()))"' % VENV_PYTHON, timeout=180)
    assert result.rc == 0, result.output
    assert '(3, 11)' in result.output
    assert 'links' in result.output


def test_timeout_kills_hanging_guest():
    start = time.monotonic()
    with pytest.raises(UmlTimeout) as info:
        run_in_uml('echo before-hang; sleep 600', timeout=15)
    elapsed = time.monotonic() - start
    assert elapsed < 30
    assert 'before-hang' in info.value.output  # hostfs writes through: partial output survives
    # the guest and every helper process it forked are gone
    assert info.value.pid
    assert _session_pids(info.value.pid) == []
    assert not os.path.exists('/proc/%d' % info.value.pid)
