# -*- coding: utf-8 -*-
"""Print how long a bare User-Mode Linux boot takes, once per session (shown with -s or in -rA)."""

from __future__ import annotations

import pytest

from .harness import run_in_uml, uml_available


@pytest.fixture(scope='session', autouse=True)
def uml_boot_time():
    """Boot once, print the time from start to poweroff; fail early when UML is missing."""
    assert uml_available(), 'User-Mode Linux is missing: run make setup (apt package user-mode-linux)'
    result = run_in_uml('true', timeout=120)
    assert result.rc == 0, result.output
    print('\nUser-Mode Linux: boot, run `true`, poweroff: %.2f s' % result.seconds)
    return result.seconds
