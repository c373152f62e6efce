# -*- coding: utf-8 -*-
"""The second-kernel harness itself: which kernel it chooses, exit status, output, kernel modules,
the venv, the timeout, and QEMU (the fallback) working on every machine, whichever kernel is chosen."""

from __future__ import annotations

import json
import os
import time

import pytest

from . import harness
from .harness import KERNELS, PROBE, REPO, UmlError, UmlTimeout, _boot, _session_pids, run_in_uml, second_kernel

pytestmark = pytest.mark.uml

VENV_PYTHON = os.path.join(REPO, '.venv', 'bin', 'python')


def test_packaged_uml_is_chosen_where_it_boots():
    """The choice follows the policy: Debian's User-Mode Linux when its probe passes on this machine
    (booted here, independently of the harness's own choice), QEMU otherwise. Either way the line says why."""
    name, why = second_kernel()
    try:
        uml_boots = _boot(KERNELS['uml'], PROBE, 180, '512M', '/', None, ('ip_tables',)).rc == 0
    except UmlError:
        uml_boots = False
    if os.environ.get('PODNET_SECOND_KERNEL'):
        assert name == os.environ['PODNET_SECOND_KERNEL'].split(',')[0].strip()
    else:
        assert name == ('uml' if uml_boots else 'qemu'), why
    assert why.startswith('second kernel: %s (' % name) and 'ipip' in why, why
    print(why)


def test_no_bootable_kernel_fails_naming_each_and_why(monkeypatch):
    """When no candidate boots, the error names every kernel tried and how it failed (a real panic:
    the kernel is started with an init that does not exist), and every later call fails the same way."""
    monkeypatch.setattr(harness, '_choice', {})
    monkeypatch.setenv('PODNET_SECOND_KERNEL', 'uml,qemu')
    broken = {}
    for name, kernel in KERNELS.items():
        if kernel.missing():
            continue
        real = kernel.command
        monkeypatch.setattr(kernel, 'command', lambda init, mem, real=real: real('/nonexistent/init', mem))
        broken[name] = True
    with pytest.raises(UmlError) as first:
        second_kernel()
    message = str(first.value)
    assert message.startswith('no second kernel boots on this machine (tried uml, qemu): uml: '), message
    assert '; qemu: ' in message, message
    for name in broken:  # each one's console says why it stopped
        reason = message.split('%s: ' % name, 1)[1]
        assert 'did not finish the probe' in reason and 'init' in reason.lower(), message
    with pytest.raises(UmlError) as again:
        run_in_uml('true')
    assert str(again.value) == message


def test_unknown_kernel_name_is_refused(monkeypatch):
    monkeypatch.setattr(harness, '_choice', {})
    monkeypatch.setenv('PODNET_SECOND_KERNEL', 'kvm')
    with pytest.raises(UmlError, match=r'PODNET_SECOND_KERNEL=kvm: unknown kernel kvm \(known: uml, qemu\)'):
        second_kernel()


@pytest.mark.parametrize('rc', [0, 3])
def test_exit_status_and_output(rc):
    result = run_in_uml('echo out-$((40 + 2)); echo err-line >&2; exit %d' % rc, timeout=180)
    print('%s boot + run + poweroff: %.2f s' % (result.kernel, result.seconds))
    assert result.rc == rc
    assert 'out-42' in result.output
    assert 'err-line' in result.output


def test_runs_in_repo_with_private_scratch():
    result = run_in_uml('pwd; echo "home=$HOME tmp=$TMPDIR"; findmnt -n -o FSTYPE /run', timeout=180)
    assert result.rc == 0, result.output
    lines = result.output.split()
    assert lines[0] == REPO  # the checkout is visible, wherever it is (also under /tmp)
    assert 'home=/run/home' in lines and 'tmp=/run/tmp' in lines
    assert lines[-1] == 'tmpfs'


def _ipip_between_namespaces(kernel):
    """Two namespaces joined by a veth, a one-to-many ipip device in each, a ping across, the links read back."""
    return run_in_uml(
        'set -e\n'
        'ip link add t0 type ipip local 10.0.0.1\n'
        'ip -j -d link show\n'
        'ip link del t0\n'
        'ip netns add a; ip netns add b\n'
        'ip link add va netns a type veth peer vb netns b\n'
        'ip -n a addr add 10.0.0.1/24 dev va; ip -n b addr add 10.0.0.2/24 dev vb\n'
        'for n in a b; do ip -n $n link set lo up; done; ip -n a link set va up; ip -n b link set vb up\n'
        'ip -n a link add t0 type ipip local 10.0.0.1; ip -n b link add t0 type ipip local 10.0.0.2\n'
        'ip -n a addr add 192.168.10.1/32 dev t0; ip -n b addr add 192.168.11.1/32 dev t0\n'
        'ip -n a link set t0 up; ip -n b link set t0 up\n'
        'ip -n a route add 192.168.11.0/24 via 10.0.0.2 dev t0 onlink\n'
        'ip -n b route add 192.168.10.0/24 via 10.0.0.1 dev t0 onlink\n'
        'ip netns exec a ping -c 2 -W 2 -I 192.168.10.1 192.168.11.1 > /dev/null\n'
        'echo ping-ok\n'
        'ip netns exec b iptables-legacy -A INPUT -p 4 -j ACCEPT\n'
        'ip netns exec b iptables-legacy-save -t filter | grep -c -- "-p ipencap -j ACCEPT"\n'
        'ip netns del a; ip netns del b\n', timeout=300, kernel=kernel)


@pytest.mark.parametrize('kernel', ['chosen', 'qemu'])
def test_ipip_exists_inside(kernel):
    """ipip (and a ping through it between two namespaces, and legacy iptables) in the chosen kernel and
    in QEMU, the fallback: QEMU must work on every machine, whichever kernel this one chose."""
    result = _ipip_between_namespaces(None if kernel == 'chosen' else kernel)
    assert result.rc == 0, result.output
    links = {link['ifname']: link for link in json.loads(result.output.splitlines()[0])}
    assert links['t0']['linkinfo']['info_kind'] == 'ipip'
    assert links['t0']['linkinfo']['info_data']['local'] == '10.0.0.1'
    # nothing but loopback and our tunnel (and the kernel's tunl0 fallback device): no way out
    assert set(links) <= {'lo', 't0', 'tunl0'}
    assert links['lo']['operstate'] == 'UNKNOWN'
    assert result.output.split()[-2:] == ['ping-ok', '1'], result.output
    print('%s: ipip, ping through it, iptables-legacy: %.1f s' % (result.kernel, result.seconds))


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
        run_in_uml('echo before-hang; sync; sleep 600', timeout=20)
    elapsed = time.monotonic() - start
    assert elapsed < 30 * KERNELS[second_kernel()[0]].slowdown + 15
    assert 'before-hang' in info.value.output  # the shared file system writes through: partial output survives
    # the guest and every helper process it forked are gone
    assert info.value.pid
    assert _session_pids(info.value.pid) == []
    assert not os.path.exists('/proc/%d' % info.value.pid)
