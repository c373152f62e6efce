# -*- coding: utf-8 -*-
"""The collection's molecule scenarios (extensions/molecule/), run as a user runs them:
`molecule test -s NAME` from the repository root, on this machine's kernel: host-gw, vxlan,
crosssubnet on the namespace lab, machines (vxlan) on the booted Debian machines. ipip needs a
kernel with ipip: test_molecule_uml.py. Each run must succeed, must have run idempotence and verify
(the testinfra tests, all passed), and must leave no lab behind. Molecule's working files go to a
temporary directory (MOLECULE_EPHEMERAL_DIRECTORY).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from lab import REPO, VENV_BIN, lab_leftovers, machine_leftovers
from molecule_kit import SCENARIOS_HERE, check_run, lab_name, molecule_env


@pytest.mark.parametrize('scenario', SCENARIOS_HERE)
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
