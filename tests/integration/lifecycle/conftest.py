# -*- coding: utf-8 -*-
"""Fixtures of the lifecycle tests (issue 6): fresh reference deployments, unique lab names,
and a timing report at the end of the session.

Every lab here is built with tests/lab.py ``built_lab`` (always removed, leftovers checked) and
carries the hand-made objects of kit.handmade(), so that every converge, switch, repair and
teardown in this suite also proves that the collection leaves what it does not own alone.
"""

from __future__ import annotations

import time

import pytest

import kit  # tests/integration/lifecycle/kit.py (this directory is on sys.path)
from lab import built_lab


@pytest.fixture(scope='session')
def fresh():
    """Normalised dumps of fresh deployments on the 2-host lab (inventories/lab), each on a lab
    of its own that never saw another mode: {'host-gw': dump, 'vxlan': dump}. The hand-made
    objects are added first, as in every lab of this suite."""
    refs = {}
    for mode in ('host-gw', 'vxlan'):
        with kit.timed('reference lab %s (build, deploy, dump, remove)' % mode):
            with built_lab('inventories/lab', name=kit.lab_name('ref')) as lab:
                kit.handmade(lab)
                kit.site(lab, mode, what='reference: fresh %s' % mode)
                refs[mode] = kit.dump(lab)
    return refs


def pytest_terminal_summary(terminalreporter):
    if not kit.TIMINGS:
        return
    terminalreporter.section('lifecycle timings')
    total = 0.0
    for what, seconds in kit.TIMINGS:
        terminalreporter.write_line('%7.1f s  %s' % (seconds, what))
        if what.startswith('TEST '):
            total += seconds
    terminalreporter.write_line('%7.1f s  total of the tests (fixture set-up included)' % total)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Wall time of each test of this directory, its fixtures' set-up and tear-down included."""
    start = time.monotonic()
    yield
    if 'lifecycle' in str(item.fspath):
        kit.TIMINGS.append(('TEST %s' % item.nodeid.split('lifecycle/', 1)[-1], time.monotonic() - start))
