# -*- coding: utf-8 -*-
"""The plan as a pure function of the inventory: the reference topology and preflight errors."""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _plan

REF = [
    ('worker2', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24'}),
    ('worker3', {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.11.0/24'}),
]
FACTS = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'onlink': {'10.57.4.21': True, '10.57.4.20': True}}


def plan(mode, host='worker2', members=None, facts=None, **settings):
    return _plan.host_plan(REF if members is None else members, host, dict(mode=mode, **settings),
                           FACTS if facts is None else facts)


def peer_routes(p):
    return [r for r in p['routes'] if not r['dst'].endswith('/32')]


def test_host_gw_reference():
    p = plan('host-gw')
    assert peer_routes(p) == [{'dst': '192.168.11.0/24', 'via': '10.57.4.21', 'dev': 'eth0'}]
    assert p['ipip'] is None and p['vxlan'] is None
    assert p['absent_devices'] == {'ipip': ['podnet.ipip'], 'vxlan': ['podnet.vxlan']}
    assert p['mtu'] == 1500


def test_pod_defaults_reference():
    pod = plan('host-gw')['pods'][0]
    assert pod == {'name': 'ns1', 'ip': '192.168.10.10', 'address': '192.168.10.10/32', 'host_dev': 'veth-ns1',
                   'dev': 'eth0', 'gateway': '192.168.10.1', 'gateway_address': '192.168.10.1/32', 'mtu': 1500}
    assert plan('host-gw')['routes'][0] == {'dst': '192.168.10.10/32', 'dev': 'veth-ns1', 'scope': 'link'}


def test_ipip_reference():
    p = plan('ipip', host='worker3')
    assert p['ipip'] == {'name': 'podnet.ipip', 'local': '10.57.4.21', 'mtu': 1480}
    assert peer_routes(p) == [{'dst': '192.168.10.0/24', 'via': '10.57.4.20', 'dev': 'podnet.ipip', 'onlink': True}]
    assert p['pods'][0]['mtu'] == 1480


def test_vxlan_reference():
    p = plan('vxlan')
    mac3 = _plan.vtep_mac('10.57.4.21')
    assert p['vxlan'] == {'name': 'podnet.vxlan', 'vni': 1, 'port': 8472, 'local': '10.57.4.20', 'dev': 'eth0',
                          'mac': _plan.vtep_mac('10.57.4.20'), 'mtu': 1450, 'learning': False,
                          'address': '192.168.10.0/32'}
    assert p['neighbors'] == [{'ip': '192.168.11.0', 'lladdr': mac3}]
    assert p['fdb'] == [{'mac': mac3, 'dst': '10.57.4.21'}]
    assert peer_routes(p) == [{'dst': '192.168.11.0/24', 'via': '192.168.11.0', 'dev': 'podnet.vxlan', 'onlink': True}]


def test_vtep_mac_is_stable_unicast_and_local():
    mac = _plan.vtep_mac('10.57.4.20')
    assert mac == _plan.vtep_mac('10.57.4.20') != _plan.vtep_mac('10.57.4.21')
    first = int(mac.split(':', maxsplit=1)[0], 16)
    assert first & 1 == 0 and first & 2 == 2


def test_vtep_mac_from_inventory():
    members = [REF[0], ('worker3', dict(REF[1][1], podnet_vxlan_mac='0E:00:00:00:00:03'))]
    assert plan('vxlan', members=members)['fdb'][0]['mac'] == '0e:00:00:00:00:03'


def test_peer_count_scales_in_one_table():
    members = [('w%d' % i, {'podnet_node_ip': '10.57.4.%d' % (20 + i), 'podnet_pod_cidr': '192.168.%d.0/24' % (10 + i)})
               for i in range(16)]
    facts = dict(FACTS, onlink=dict(('10.57.4.%d' % (20 + i), True) for i in range(16)))
    p = plan('vxlan', host='w0', members=members, facts=facts)
    assert len(peer_routes(p)) == len(p['neighbors']) == len(p['fdb']) == 15


def test_absent_state_plans_removal():
    p = plan('vxlan', state='absent')
    assert p['routes'] == [] and p['vxlan'] is None
    assert p['absent_devices'] == {'ipip': ['podnet.ipip'], 'vxlan': ['podnet.vxlan']}


BAD = [
    ('bad cidr', [('worker2', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/33'}), REF[1]], {},
     "worker2: podnet_pod_cidr '192.168.10.0/33'"),
    ('host bits', [('worker2', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.5/24'}), REF[1]], {},
     'host bits set'),
    ('overlap', [REF[0], ('worker3', {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.10.128/25'})], {},
     "worker3: podnet_pod_cidr '192.168.10.128/25' overlaps worker2's podnet_pod_cidr 192.168.10.0/24"),
    ('node ip inside pods', [('worker2', {'podnet_node_ip': '192.168.11.7', 'podnet_pod_cidr': '192.168.10.0/24'}), REF[1]],
     {}, "worker3: podnet_pod_cidr '192.168.11.0/24' contains the node IP of worker2 (192.168.11.7)"),
    ('duplicate node ip', [REF[0], ('worker3', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.11.0/24'})], {},
     "worker3: podnet_node_ip '10.57.4.20' is also the node IP of worker2"),
    ('missing var', [REF[0], ('worker3', {'podnet_node_ip': '10.57.4.21'})], {}, 'worker3: podnet_pod_cidr is not set'),
    ('bad node ip', [REF[0], ('worker3', {'podnet_node_ip': '10.57.4.256', 'podnet_pod_cidr': '192.168.11.0/24'})], {},
     "worker3: podnet_node_ip '10.57.4.256' is not a valid IP address"),
    ('unknown mode', REF, {'mode': 'geneve'}, "worker2: podnet_mode 'geneve' is not a mode"),
    ('long dev', REF, {'vxlan_dev': 'podnet.vxlan.long0'}, "worker2: podnet_vxlan_dev 'podnet.vxlan.long0' is 18 bytes"),
    ('vni range', REF, {'vxlan_vni': 16777216}, 'worker2: podnet_vxlan_vni 16777216 is out of range'),
    ('port range', REF, {'vxlan_port': 0}, 'worker2: podnet_vxlan_port 0 is out of range'),
    ('bad mac', [REF[0], ('worker3', dict(REF[1][1], podnet_vxlan_mac='01:00:5e:00:00:01'))], {},
     "worker3: podnet_vxlan_mac '01:00:5e:00:00:01' is a multicast MAC"),
    ('mtu too big', REF, {'mtu': 1480}, 'worker2: podnet_mtu 1480 is too large for vxlan over eth0'),
]


@pytest.mark.parametrize('members,settings,message', [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_preflight_errors(members, settings, message):
    settings = dict({'mode': 'vxlan'}, **settings)
    with pytest.raises(_plan.PlanError) as err:
        _plan.host_plan(members, 'worker2', settings, FACTS)
    assert message in str(err.value)


def test_host_gw_refuses_off_link_peer():
    facts = dict(FACTS, onlink={'10.57.4.21': False})
    with pytest.raises(_plan.PlanError) as err:
        plan('host-gw', facts=facts)
    text = str(err.value)
    assert "worker2: podnet_mode 'host-gw' cannot reach worker3 (podnet_node_ip 10.57.4.21)" in text
    assert 'ipip or vxlan' in text
    assert plan('ipip', facts=facts)['ipip']  # the tunnels do not need on-link peers
