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
