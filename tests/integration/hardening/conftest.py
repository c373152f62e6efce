# -*- coding: utf-8 -*-
"""One lab for the hardening tests (see hardening_kit.py)."""

from __future__ import annotations

import pytest

from hardening_kit import write_inventory
from lab import built_lab


@pytest.fixture(scope='session')
def hlab(tmp_path_factory):
    inventory = write_inventory(str(tmp_path_factory.mktemp('hardening-inventory')))
    with built_lab(inventory, name='hard') as lab:
        yield lab
