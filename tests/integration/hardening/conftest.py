# -*- coding: utf-8 -*-
"""One lab for the hardening tests (see hardening_kit.py)."""

from __future__ import annotations

import uuid

import pytest

from hardening_kit import write_inventory
from lab import built_lab


@pytest.fixture(scope='session')
def hlab(tmp_path_factory):
    """Built once per pytest-xdist worker, under a name of its own (make integration runs two)."""
    inventory = write_inventory(str(tmp_path_factory.mktemp('hardening-inventory')))
    with built_lab(inventory, name='hard-' + uuid.uuid4().hex[:4]) as lab:
        yield lab
