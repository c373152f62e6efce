# -*- coding: utf-8 -*-
"""What the molecule tests share: how many testinfra tests a scenario has, its lab's name, what a
passed `molecule test` prints, and the environment molecule runs in."""

from __future__ import annotations

import os
import re

from lab import VENV_BIN

# ipip is not in this machine's kernel: test_molecule_uml.py. machines: vxlan on the booted Debian machines.
SCENARIOS_HERE = ('host-gw', 'vxlan', 'crosssubnet', 'machines')
# In make test's pool, vxlan stands for the four: host-gw and crosssubnet repeat what tests/integration/modes
# and hardening prove on the same labs, machines what tests/integration/machines proves on the same machines;
# `make molecule` runs every scenario.
if os.environ.get('PODNET_MOLECULE_ALL') != '1':
    SCENARIOS_HERE = ('vxlan',)
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
