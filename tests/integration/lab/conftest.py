# -*- coding: utf-8 -*-
"""Fixtures for the embedded lab: ``lab`` (built from an inventory, always removed) and ``lab_host``.

The helpers are in tests/lab.py (tests/ is on sys.path through the root conftest).
Every lab gets a unique name (``pt-XXXXXX``), so tests never touch a lab someone built by hand.
"""

from __future__ import annotations

import uuid

import pytest

import lab as labkit  # tests/lab.py


def unique_name():
    return 'pt-' + uuid.uuid4().hex[:6]


@pytest.fixture(scope='module')
def lab(request):
    """A lab built with playbooks/lab.yml from an inventory (default inventories/lab; choose another with
    ``@pytest.mark.parametrize('lab', ['inventories/lab-routed'], indirect=True)``), removed at the end
    of the module, also when a test or the build fails. Yields a tests/lab.py ``Lab``:
    ``lab.hosts['worker2']`` (a ``LabHost``), ``lab.playbook(...)``, ``lab.ansible(...)``."""
    inventory = getattr(request, 'param', 'inventories/lab')
    with labkit.built_lab(inventory, name=unique_name()) as built:
        yield built


@pytest.fixture
def lab_factory():
    """Context manager factory: ``with lab_factory('inventories/lab-scale', env={...}) as lab: ...``."""
    def make(inventory='inventories/lab', name=None, env=None):
        return labkit.built_lab(inventory, name=name or unique_name(), env=env)
    return make
