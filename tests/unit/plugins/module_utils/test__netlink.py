# -*- coding: utf-8 -*-
"""pyroute2's version read from the metadata folder beside the package (no importlib.metadata)."""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _netlink


@pytest.mark.parametrize('folder,expected', [
    ('pyroute2-0.9.7.dist-info', (0, 9, 7)),           # pip
    ('pyroute2-0.7.2.dist-info', (0, 7, 2)),           # Debian 12
    ('pyroute2-0.5.14-py3.9.egg-info', (0, 5, 14)),     # an egg-info with the Python in its name
    ('pyroute2-0.7.12rc1.dist-info', (0, 7, 12)),
    ('pyroute2.minimal-0.9.7.dist-info', None),         # another distribution
    ('other-1.0.dist-info', None),
])
def test_version_beside_the_package(tmp_path, folder, expected):
    (tmp_path / 'pyroute2').mkdir()
    (tmp_path / folder).mkdir()
    assert _netlink.version_beside([str(tmp_path / 'pyroute2')]) == expected


def test_no_folder_and_a_missing_location_give_none(tmp_path):
    (tmp_path / 'pyroute2').mkdir()
    assert _netlink.version_beside([str(tmp_path / 'pyroute2'), str(tmp_path / 'gone' / 'pyroute2')]) is None


def test_too_old_is_a_problem_and_names_the_versions(monkeypatch):
    monkeypatch.setattr(_netlink, 'pyroute2_version', lambda: (0, 6, 13))
    problem = _netlink.pyroute2_problem()
    assert 'pyroute2 0.6.13 is too old' in problem and 'needs 0.7.2 or later' in problem
    monkeypatch.setattr(_netlink, 'pyroute2_version', lambda: (0, 7, 2))
    assert _netlink.pyroute2_problem() == ''
