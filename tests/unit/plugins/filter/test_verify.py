# -*- coding: utf-8 -*-
"""deployed_plan: the verify role reads what is deployed, and says clearly when it cannot."""

from __future__ import annotations

import base64
import json

from ansible_collections.openkube.podnet.plugins.filter.verify import deployed_plan

PATH = '/var/lib/podnet/applied.json'


def slurped(document):
    text = document if isinstance(document, str) else json.dumps(document)
    return {'changed': False, 'content': base64.b64encode(text.encode()).decode(), 'encoding': 'base64'}


def test_the_deployed_plan_whatever_the_inventory_says():
    got = deployed_plan(slurped({'format': 1, 'plan': {'mode': 'host-gw'}}), 'worker2', PATH)
    assert got == {'plan': {'mode': 'host-gw'}, 'problem': None}
    assert deployed_plan(slurped({'format': 1, 'plan': {'mode': 'host-gw'}}), 'worker2', PATH, 'host-gw')['problem'] is None


def test_another_mode_than_asked_names_host_and_both_modes():
    problem = deployed_plan(slurped({'format': 1, 'plan': {'mode': 'host-gw'}}), 'worker2', PATH, 'vxlan')['problem']
    assert problem.startswith('worker2: ') and "'vxlan'" in problem and "'host-gw'" in problem


def test_nothing_deployed():
    missing = {'changed': False, 'failed': False, 'msg': 'file not found: %s' % PATH}
    problem = deployed_plan(missing, 'worker3', PATH)['problem']
    assert problem == ('worker3: nothing is deployed (there is no %s): run site.yml first, or check podnet_state_dir'
                       % PATH)


def test_not_a_record():
    for text in ('{broken', '{"format": 9, "plan": {}}', '{"format": 1}'):
        got = deployed_plan(slurped(text), 'worker2', PATH)
        assert got['plan'] is None and got['problem'].startswith('worker2: %s ' % PATH), got
