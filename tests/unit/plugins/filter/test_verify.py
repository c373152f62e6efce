# -*- coding: utf-8 -*-
"""deployed_plan: the verify role reads what is deployed, and says clearly when it cannot."""

from __future__ import annotations

import base64
import json

from ansible_collections.openkube.podnet.plugins.filter.verify import deployed_plan, verify_matrix, verify_targets

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


def _hostvars(**pods):
    return dict((h, {'__podnet_verify_plan': {'mode': 'vxlan', 'pods': [{'ip': ip}] if ip else []}})
                for h, ip in pods.items())


def test_a_host_without_own_pods_is_neither_source_nor_target():
    hv = _hostvars(worker2='192.168.10.10', worker3='192.168.11.10', worker4=None)
    hosts = ['worker2', 'worker3', 'worker4']
    assert verify_targets(hosts, hv, 'worker2') == ['192.168.11.10']
    assert verify_targets(hosts, hv, 'worker4') == ['192.168.10.10', '192.168.11.10']
    result = verify_matrix(hosts, hv)
    assert set(result['matrix']) == {'worker2', 'worker3'}
    assert result['lines'][-1] == "not verified (no pods of the collection's own, podnet_pods: []): worker4"
