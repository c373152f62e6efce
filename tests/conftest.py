# -*- coding: utf-8 -*-
"""Shared pytest fixtures: throwaway namespaces and User-Mode Linux.

Every namespace a test makes is removed at teardown, also when the test fails.
The helpers the tests import (run_module, four_runs, ipj, bridgej, sh) live in tests/kernel.py:
a module named conftest would clash with the conftest.py of other test folders.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

# tests/ on sys.path for the helper modules (kernel, lab): pytest puts it there itself, but
# ansible-test units loads this file through the collection loader.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kernel import sh  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def netns():
    """Factory of throwaway network namespaces: netns() -> name. All are deleted at teardown."""
    made = []

    def make(prefix='pnt'):
        name = '%s-%s' % (prefix, uuid.uuid4().hex[:8])
        sh('ip', 'netns', 'add', name)
        made.append(name)
        sh('ip', '-n', name, 'link', 'set', 'lo', 'up')
        return name

    yield make
    for name in made:
        subprocess.run(['ip', 'netns', 'del', name], capture_output=True, check=False)


@pytest.fixture
def uml():
    """``run_in_uml(script, timeout=300, mem='1G', cwd=None, env=None, modules=())`` from
    tests/uml/harness.py: runs a bash script under the second kernel this machine boots (Debian's
    User-Mode Linux, else bookworm's kernel under QEMU), which has ipip. Fails, never skips, when
    no second kernel boots: the message names each kernel tried and how it failed."""
    from uml.harness import run_in_uml, second_kernel  # tests/ is on sys.path (rootdir conftest)
    second_kernel()
    return run_in_uml


# The test files that take minutes, with their time in the last .ci/run on this 2-core machine (seconds,
# setup and teardown included). `make integration` runs every integration test in one pytest-xdist pool
# (--dist loadfile --no-loadscope-reorder: whole files, handed out in collection order); these start
# first, longest first, and the short files fill in around them. The numbers only order the files.
LONG_FILES = {
    'tests/integration/lifecycle/test_uml.py': 345,
    'tests/integration/machines/test_machines_uml.py': 330,
    'tests/integration/molecule/test_molecule_uml.py': 275,
    'tests/integration/modes/test_modes.py': 230,
    'tests/integration/hardening/test_lab_firewall.py': 220,
    'tests/integration/hardening/test_uml_hardening.py': 215,
    'tests/integration/machines/test_machines.py': 180,
    'tests/integration/versions/test_ansible_versions.py': 90,
    'tests/integration/molecule/test_molecule.py': 115,
    'tests/integration/lifecycle/test_interrupted.py': 114,
    'tests/integration/lifecycle/test_check_mode.py': 111,
    'tests/uml/test_harness.py': 85,
    'tests/integration/lifecycle/test_bad_input.py': 84,
}


def pytest_collection_modifyitems(session, config, items):  # pylint: disable=unused-argument
    """Long files first (a stable sort: a file's tests keep their order)."""
    items.sort(key=lambda item: -LONG_FILES.get(item.nodeid.split('::', 1)[0], 0))


def pytest_terminal_summary(terminalreporter):
    """Time per test folder (the sum of its tests' setup, call and teardown): where a run's time went.
    With two workers the sums overlap, so they add up to about twice the wall time."""
    areas = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            nodeid, duration = getattr(report, 'nodeid', ''), getattr(report, 'duration', None)
            if not nodeid or duration is None or getattr(report, 'when', None) not in ('setup', 'call', 'teardown'):
                continue
            area = os.path.dirname(nodeid.split('::', 1)[0])
            areas[area] = areas.get(area, 0.0) + duration
    if len(areas) > 1:
        terminalreporter.write_sep('=', 'time per folder (sum of test times)')
        for area, seconds in sorted(areas.items(), key=lambda item: -item[1]):
            terminalreporter.write_line('%7.0f s  %s' % (seconds, area))
