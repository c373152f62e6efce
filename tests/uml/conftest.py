# -*- coding: utf-8 -*-
"""Say which second kernel this machine boots and how long a bare boot takes, once per session
(shown with -s or in -rA)."""

from __future__ import annotations

import pytest

from .harness import run_in_uml, second_kernel


@pytest.fixture(scope='session', autouse=True)
def uml_boot_time():
    """Choose the second kernel (fails, never skips, when none boots), then boot it once with `true`."""
    name, why = second_kernel()
    result = run_in_uml('true', timeout=180)
    assert result.rc == 0, result.output
    print('\n%s\n%s: boot, run `true`, poweroff: %.2f s' % (why, name, result.seconds))
    return result.seconds
