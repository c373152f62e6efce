# -*- coding: utf-8 -*-
"""The collection's molecule scenarios (extensions/molecule/), run as a user runs them:
`molecule test -s NAME` from the repository root.

host-gw and vxlan run on this machine's kernel; ipip needs a kernel with ipip, so its scenario
runs inside User-Mode Linux (tests/uml/harness.py), which sees the same files. Each run must
succeed, must have run idempotence and verify (the testinfra tests, all passed), and must leave
no lab behind. Molecule's working files go to a temporary directory (MOLECULE_EPHEMERAL_DIRECTORY).
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from lab import LAB_ROOT, REPO, VENV_BIN, lab_leftovers, machine_leftovers

SCENARIOS_HERE = ('host-gw', 'vxlan', 'crosssubnet')  # no ipip in this machine's kernel: see test_ipip_scenario_under_uml
HOSTS = {'crosssubnet': 4}  # two subnets, two hosts each; the others have 2


def verify_tests(scenario):
    """4 checks per host + one pod-to-pod test per ordered pair (extensions/molecule/shared/tests)."""
    n = HOSTS.get(scenario, 2)
    return 4 * n + n * (n - 1)


def lab_name(scenario):
    return {'machines': 'mol-mach'}.get(scenario, 'molecule-' + scenario)  # extensions/molecule/<scenario>/molecule.yml


def check_run(scenario, rc, output):
    """A `molecule test -s SCENARIO` that passed, with idempotence and verify among its actions."""
    tail = output[-8000:]
    assert rc == 0, 'molecule test -s %s failed (rc %d):\n%s' % (scenario, rc, tail)
    for action in ('create', 'converge', 'idempotence', 'verify', 'destroy'):
        assert '%s > %s: Executed: Successful' % (scenario, action) in output, (action, tail)
    assert 'Molecule executed 1 scenario (1 successful)' in output, tail
    passed = re.findall(r'^(\d+) passed in ', output, re.M)
    assert passed == [str(verify_tests(scenario))], (passed, tail)
    assert ' failed' not in ''.join(re.findall(r'^\d+ passed.*$', output, re.M))


def molecule_env(ephemeral):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PYTEST_', 'ANSIBLE_', 'MOLECULE_')))
    env.update(PATH=VENV_BIN + os.pathsep + env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin'),
               NO_COLOR='1', ANSIBLE_NOCOLOR='1', MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral))
    return env


@pytest.mark.parametrize('scenario', SCENARIOS_HERE + ('machines',))
def test_scenario(scenario, tmp_path, capsys):
    """`molecule test -s SCENARIO`; scenario machines: vxlan on booted Debian machines over SSH and sudo."""
    leftovers = machine_leftovers if scenario == 'machines' else lab_leftovers
    assert not leftovers(lab_name(scenario)), 'a lab %s is already there' % lab_name(scenario)
    start = time.monotonic()
    try:
        proc = subprocess.run([os.path.join(VENV_BIN, 'molecule'), 'test', '-s', scenario], cwd=REPO,
                              env=molecule_env(tmp_path / 'molecule'), capture_output=True, text=True, check=False, timeout=900)
    finally:
        seconds = time.monotonic() - start
        left = leftovers(lab_name(scenario))
    with capsys.disabled():
        print('\nmolecule test -s %s: %.0f s' % (scenario, seconds))
    check_run(scenario, proc.returncode, proc.stdout + proc.stderr)
    assert not left, left


UML_SCRIPT = '''\
export PATH={venv_bin}:$PATH NO_COLOR=1 ANSIBLE_NOCOLOR=1 MOLECULE_EPHEMERAL_DIRECTORY=/run/tmp/molecule-ipip
cd {repo}
# This User-Mode Linux kernel has no nf_tables for IPv4 (`nft add table ip t` fails with EOPNOTSUPP):
# the role's encapsulation filter takes the legacy iptables backend there (podnet_iptables).
molecule test -s ipip -- -e podnet_iptables=iptables-legacy
rc=$?
# /run is the guest's own tmpfs: anything of the lab left there would show here.
echo "leftover-labs: $(ls {lab_root} 2>/dev/null | tr '\\n' ' ')"
echo "leftover-netns: $(ip netns list 2>/dev/null | wc -l)"
exit $rc
'''


UML_IPTABLES_MODULES = ('ip_tables', 'iptable_filter', 'xt_tcpudp')


@pytest.mark.uml
def test_ipip_scenario_under_uml(uml, capsys):
    result = uml(UML_SCRIPT.format(venv_bin=VENV_BIN, repo=REPO, lab_root=LAB_ROOT), timeout=1200, mem='2G',
                 modules=UML_IPTABLES_MODULES)
    with capsys.disabled():
        print('\nmolecule test -s ipip under User-Mode Linux: %.0f s (boot included)' % result.seconds)
    check_run('ipip', result.rc, result.output)
    assert 'leftover-labs: \n' in result.output or re.search(r'^leftover-labs: *$', result.output, re.M), result.output[-2000:]
    assert re.search(r'^leftover-netns: 0$', result.output, re.M), result.output[-2000:]
