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


def _dual(mode, encap, outer6):
    """Two dual-stack hosts that pinged each other in both families; each capture saw the peer's pings."""
    pods = {'worker2': ('192.168.10.10', 'fd00:10:244:10::a'), 'worker3': ('192.168.11.10', 'fd00:10:244:11::a')}
    nodes = {'worker2': ('10.57.4.20', 'fd57:4::20'), 'worker3': ('10.57.4.21', 'fd57:4::21')}
    hv = {}
    for me, (ip, ip6) in pods.items():
        peer = [h for h in pods if h != me][0]
        packets = []
        for family, (src, dst) in ((4, (pods[peer][0], ip)), (6, (pods[peer][1], ip6))):
            outer = nodes[peer][1] if family == 6 and outer6 else nodes[peer][0]
            packets.append(dict(encap=encap, outer_src=outer, inner_src=src, inner_dst=dst, family=family,
                                vni=1 if encap == 'vxlan' else None, port=8472 if encap == 'vxlan' else None))
        pings = [dict(target=t, received=2) for t in pods[peer]]
        hv[me] = {'__podnet_verify_plan': {'mode': mode, 'vxlan_vni': 1, 'vxlan_port': 8472,
                                           'pods': [{'ip': ip, 'ip6': ip6}], 'peers': []},
                  '__podnet_pings': {'results': [{'item': {'ip': ip, 'ip6': ip6}, 'results': pings}]},
                  '__podnet_capture': {'packets': packets}}
    return hv


def test_dual_stack_pods_are_pinged_and_shown_in_both_families():
    hv = _dual('host-gw', 'none', outer6=True)
    assert verify_targets(['worker2', 'worker3'], hv, 'worker2') == ['192.168.11.10', 'fd00:10:244:11::a']
    result = verify_matrix(['worker2', 'worker3'], hv)
    assert result['failures'] == [], result['failures']
    assert result['matrix']['worker2']['worker3'] == 'ok plain IP'
    assert result['matrix6']['worker2']['worker3'] == 'ok plain IP over IPv6'
    assert result['lines'][4] == 'mode host-gw, IPv6 pods: source (rows) -> destination (columns)', result['lines']
    vx = verify_matrix(['worker2', 'worker3'], _dual('vxlan', 'vxlan', outer6=False))
    assert vx['matrix6']['worker3']['worker2'] == 'ok vxlan vni 1 udp 8472 over IPv4' and not vx['failures']


def test_ipv6_pods_over_the_ipv6_underlay_are_expected_there():
    """podnet_vxlan_underlay ipv6: the IPv6 cells expect vxlan over IPv6, the IPv4 cells vxlan over IPv4; IPv6 pods
    seen in vxlan over IPv4 then fail their cell, and the other way round."""
    hv = _dual('vxlan', 'vxlan', outer6=True)
    for me in hv:
        hv[me]['__podnet_verify_plan']['peers'] = [
            {'name': [h for h in hv if h != me][0], 'encap': 'vxlan', 'encap6': 'vxlan6'}]
    result = verify_matrix(['worker2', 'worker3'], hv)
    assert result['failures'] == [], result['failures']
    assert result['matrix']['worker2']['worker3'] == 'ok vxlan vni 1 udp 8472'
    assert result['matrix6']['worker2']['worker3'] == 'ok vxlan vni 1 udp 8472 over IPv6'
    over4 = _dual('vxlan', 'vxlan', outer6=False)
    for me in over4:
        over4[me]['__podnet_verify_plan']['peers'] = hv[me]['__podnet_verify_plan']['peers']
    wrong = verify_matrix(['worker2', 'worker3'], over4)
    assert wrong['matrix6']['worker2']['worker3'] == 'FAIL vxlan vni 1 udp 8472 over IPv4'
    assert ("worker2 -> worker3 (IPv6): on worker3's underlay fd00:10:244:10::a -> fd00:10:244:11::a travelled over "
            "IPv4, expected over IPv6") in wrong['failures']
    assert not [f for f in wrong['failures'] if '(IPv6)' not in f]
    # and the default (one device over IPv4) fails IPv6 pods seen over IPv6
    assert verify_matrix(['worker2', 'worker3'], _dual('vxlan', 'vxlan', outer6=True))['failures']


def test_an_unanswered_ipv6_ping_fails_only_its_cell():
    hv = _dual('vxlan', 'vxlan', outer6=False)
    hv['worker2']['__podnet_pings']['results'][0]['results'][1]['received'] = 0
    result = verify_matrix(['worker2', 'worker3'], hv)
    assert result['failures'] == ['worker2 -> worker3 (IPv6): no reply from worker3 (fd00:10:244:11::a) to worker2 '
                                  '(fd00:10:244:10::a)'], result['failures']
    assert result['matrix']['worker2']['worker3'].startswith('ok ')
