# -*- coding: utf-8 -*-
"""The record of what is deployed: written atomically and root's only, replaced when unusable, removed."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _record
from ansible_collections.openkube.podnet.plugins.module_utils._resource import NoKernel, converge
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError

PLAN = {'host': 'worker2', 'mode': 'vxlan', 'peers': [{'name': 'worker3'}], 'pods': [{'name': 'ns1'}]}


def run(path, plan=None, state='present', check_mode=False):
    params = dict(path=str(path), plan=plan, state=state)
    wanted = _record.wanted_from_params(params)
    return converge(_record.Record(NoKernel(), params, wanted), wanted, state=state, check_mode=check_mode)


def test_written_root_only_then_unchanged(tmp_path):
    path = tmp_path / 'state' / 'applied.json'
    first = run(path, dict(PLAN, changed=True, failed=False))
    assert first['changed'] and first['actions'] == ['add record %s (mode vxlan, 1 peer, 1 pod)' % path]
    assert json.loads(path.read_text()) == {'format': 1, 'plan': PLAN}  # without the task result's keys
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o700
    assert not run(path, PLAN)['changed']
    assert os.listdir(str(path.parent)) == ['applied.json']  # no temporary file left beside it


def test_check_mode_predicts_and_writes_nothing(tmp_path):
    path = tmp_path / 'applied.json'
    run(path, PLAN)
    check = run(path, dict(PLAN, mode='host-gw'), check_mode=True)
    assert check['changed'] and check['actions'][0].startswith('update record')
    assert json.loads(path.read_text())['plan']['mode'] == 'vxlan'
    assert check['diff']['after']['records'][0]['content']['plan']['mode'] == 'host-gw'


@pytest.mark.parametrize('text', ['{not json', '{"format": 2, "plan": {}}', '[1, 2]'])
def test_an_unusable_record_is_replaced(tmp_path, text):
    path = tmp_path / 'applied.json'
    path.write_text(text)
    result = run(path, PLAN)
    assert result['changed'] and 'unreadable' in result['actions'][0]
    assert json.loads(path.read_text())['plan'] == PLAN


def test_absent_removes_it(tmp_path):
    path = tmp_path / 'applied.json'
    run(path, PLAN)
    assert run(path, state='absent')['changed'] and not path.exists()
    assert not run(path, state='absent')['changed']


@pytest.mark.parametrize('path', ['relative/applied.json', '/var/lib/../tmp/applied.json', ''])
def test_a_bad_path_is_refused(path):
    with pytest.raises(ValidationError, match='absolute path'):
        _record.wanted_from_params(dict(path=path, plan=PLAN, state='present'))


def test_read_record_says_why_not(tmp_path):
    assert _record.read_record(str(tmp_path / 'none.json')) == (None, 'there is no %s' % (tmp_path / 'none.json'))
    path = tmp_path / 'other.json'
    path.write_text('{"format": 7, "plan": {}}')
    assert 'record format 7' in _record.read_record(str(path))[1]
