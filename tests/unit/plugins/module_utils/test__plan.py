# -*- coding: utf-8 -*-
"""The plan as a pure function of the inventory: the reference topology and preflight errors."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _converge, _plan

REF = [
    ('worker2', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24'}),
    ('worker3', {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.11.0/24'}),
]
FACTS = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'onlink': {'10.57.4.21': True, '10.57.4.20': True}}


def plan(mode, host='worker2', members=None, facts=None, **settings):
    members = REF if members is None else members
    facts = FACTS if facts is None else facts
    return _plan.host_plan(members, host, dict(mode=mode, **settings), facts)


def peer_routes(p):
    return [r for r in p['routes'] if not r['dst'].endswith('/32')]


def test_host_gw_reference():
    p = plan('host-gw')
    assert peer_routes(p) == [{'dst': '192.168.11.0/24', 'via': '10.57.4.21', 'dev': 'eth0'}]
    assert p['ipip'] is None and p['vxlan'] is None
    assert p['absent_devices'] == {'ipip': ['podnet.ipip'], 'vxlan': ['podnet.vxlan'], 'vxlan6': ['podnet.vxlan6']}
    assert p['mtu'] == 1500


def test_pod_defaults_reference():
    pod = plan('host-gw')['pods'][0]
    assert pod == {'name': 'ns1', 'ip': '192.168.10.10', 'address': '192.168.10.10/32', 'host_dev': 'veth-ns1',
                   'dev': 'eth0', 'gateway': '192.168.10.1', 'gateway_address': '192.168.10.1/32', 'mtu': 1500,
                   'master': None, 'onlink': True}
    assert plan('host-gw')['routes'][0] == {'dst': '192.168.10.10/32', 'dev': 'veth-ns1', 'scope': 'link'}


def test_ipip_reference():
    p = plan('ipip', host='worker3')
    assert p['ipip'] == {'name': 'podnet.ipip', 'local': '10.57.4.21', 'mtu': 1480, 'address': '192.168.11.0/32'}
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
    assert p['absent_devices'] == {'ipip': ['podnet.ipip'], 'vxlan': ['podnet.vxlan'], 'vxlan6': ['podnet.vxlan6']}


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
    ('pod key typo', REF, {'pods': [{'name': 'db', 'address': '192.168.10.50'}]},
     "worker2: podnet_pods[0] {'name': 'db', 'address': '192.168.10.50'} has unknown key address: "
     "a pod has only name, ip, ip6, host_dev"),
    ('pod keys typo', REF, {'pods': [{'name': 'ns1'}, {'name': 'db', 'IP': '1', 'dev': 'x'}]},
     'worker2: podnet_pods[1] {'),
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


# ---- hardening: MTU, rp_filter, firewall, crosssubnet --------------------------------------

ROUTED = REF + [
    ('worker4', {'podnet_node_ip': '10.57.5.20', 'podnet_pod_cidr': '192.168.12.0/24'}),
    ('worker5', {'podnet_node_ip': '10.57.5.21', 'podnet_pod_cidr': '192.168.13.0/24'}),
]
ROUTED_FACTS = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'underlay_network': '10.57.4.0/24',
                'onlink': {'10.57.4.21': True, '10.57.5.20': False, '10.57.5.21': False}}


@pytest.mark.parametrize('mode,extra,mtu', [
    ('host-gw', {}, 1400), ('ipip', {}, 1380), ('vxlan', {}, 1350),
    ('crosssubnet', {}, 1350), ('crosssubnet', {'crosssubnet_encap': 'ipip'}, 1380),
])
def test_mtu_follows_a_smaller_underlay(mode, extra, mtu):
    facts = dict(FACTS, underlay_mtu=1400, underlay_network='10.57.4.0/24')
    p = plan(mode, facts=facts, **extra)
    assert p['mtu'] == mtu and p['pods'][0]['mtu'] == mtu
    for dev in ('ipip', 'vxlan'):
        if p[dev]:
            assert p[dev]['mtu'] == mtu


@pytest.mark.parametrize('value', [None, 0, '0'])
def test_mtu_zero_or_unset_means_from_the_underlay(value):
    # the role passes podnet_mtu as it is (default 0); ansible-core 2.18 renders a templated none as ''
    assert plan('vxlan', mtu=value)['mtu'] == 1450


def test_rp_filter_loose_on_the_tunnel_and_underlay_devices_only():
    assert plan('host-gw')['device_sysctl'] == {}
    assert plan('vxlan')['device_sysctl'] == {'net/ipv4/conf/podnet.vxlan/rp_filter': '2',
                                              'net/ipv4/conf/eth0/rp_filter': '2'}
    assert plan('ipip')['device_sysctl'] == {'net/ipv4/conf/podnet.ipip/rp_filter': '2',
                                             'net/ipv4/conf/eth0/rp_filter': '2'}
    assert plan('ipip')['sysctl'] == {'net.ipv4.ip_forward': '1'}
    assert plan('vxlan', state='absent')['device_sysctl'] == {}


@pytest.mark.parametrize('rp,expected', [
    # the host filters nowhere: nothing set (a new device starts with conf/default)
    (dict(all=0, default=0, devices={'eth0': 0}), []),
    # strict everywhere (RHEL): loose on both
    (dict(all=1, default=1, devices={'eth0': 1}), ['podnet.vxlan', 'eth0']),
    # loose everywhere (Debian's systemd): 2 on both, which changes nothing the kernel does
    (dict(all=2, default=2, devices={'eth0': 2}), ['podnet.vxlan', 'eth0']),
    # all off, but the underlay strict on its own: loose there; the new tunnel device starts with default 0
    (dict(all=0, default=0, devices={'eth0': 1}), ['eth0']),
    # all off, new devices strict: loose on the tunnel device
    (dict(all=0, default=1, devices={'eth0': 0}), ['podnet.vxlan']),
    # a tunnel device the plan set to 2 before stays at 2 (the answer is stable), the underlay left at 0
    (dict(all=0, default=0, devices={'eth0': 0, 'podnet.vxlan': 2}), ['podnet.vxlan']),
    # a value that could not be read: assumed on
    (dict(default=0, devices={'eth0': 0}), ['podnet.vxlan', 'eth0']),
])
def test_rp_filter_loose_only_where_the_host_filters(rp, expected):
    p = plan('vxlan', facts=dict(FACTS, rp_filter=rp))
    assert p['device_sysctl'] == dict(('net/ipv4/conf/%s/rp_filter' % dev, '2') for dev in expected)


def test_firewall_chains_per_mode():
    chains = dict((c['name'], c) for c in plan('vxlan')['firewall']['chains'])
    assert chains['PODNET-FORWARD'] == {'name': 'PODNET-FORWARD', 'hook': 'FORWARD', 'rules': [
        '-s 192.168.10.0/24 -j ACCEPT', '-d 192.168.10.0/24 -j ACCEPT']}
    # one rule whatever the number of peers: their node IPs are the members of the set podnet-peers
    assert chains['PODNET-INPUT']['rules'] == [
        '-p udp -m udp --dport 8472 -m set --match-set podnet-peers src -j RETURN', '-p udp -m udp --dport 8472 -j DROP']
    assert plan('vxlan')['ipsets'] == [dict(name='podnet-peers', family=4, members=['10.57.4.20/31'])]
    ipip = dict((c['name'], c) for c in plan('ipip')['firewall']['chains'])
    assert ipip['PODNET-INPUT']['rules'] == ['-p 4 -m set --match-set podnet-peers src -j RETURN', '-p 4 -j DROP']
    for no_set in (plan('host-gw'), plan('vxlan', encap_filter=False), plan('vxlan', state='absent')):
        assert no_set['ipsets'] == [] and 'warnings' not in no_set
    assert [c['name'] for c in plan('host-gw')['firewall']['chains']] == ['PODNET-FORWARD', 'PODNET-POSTROUTING']
    assert plan('vxlan', encap_filter=False, forward_accept=False, masquerade=False)['firewall'] == {
        'chains': [], 'purge': True, 'iptables': 'iptables'}
    assert [c['name'] for c in plan('vxlan', encap_filter='false')['firewall']['chains']] == [
        'PODNET-FORWARD', 'PODNET-POSTROUTING']
    assert plan('vxlan', state='absent')['firewall'] == {'chains': [], 'purge': True, 'iptables': 'iptables'}
    vx4789 = plan('vxlan', vxlan_port=4789)['firewall']['chains'][1]['rules']
    assert vx4789[-1] == '-p udp -m udp --dport 4789 -j DROP'


@pytest.mark.parametrize('encap', ['vxlan', 'ipip'])
def test_crosssubnet_direct_inside_the_prefix_tunnel_across(encap):
    p = plan('crosssubnet', members=ROUTED, facts=ROUTED_FACTS, crosssubnet_encap=encap)
    dev = 'podnet.' + encap
    assert p['encap'] == encap and p['mode'] == 'crosssubnet'
    assert dict((x['name'], x['encap']) for x in p['peers']) == {'worker3': 'none', 'worker4': encap, 'worker5': encap}
    routes = dict((r['dst'], r) for r in peer_routes(p))
    assert routes['192.168.11.0/24'] == {'dst': '192.168.11.0/24', 'via': '10.57.4.21', 'dev': 'eth0'}
    if encap == 'vxlan':
        assert routes['192.168.12.0/24'] == {'dst': '192.168.12.0/24', 'via': '192.168.12.0', 'dev': dev, 'onlink': True}
        assert [n['ip'] for n in p['neighbors']] == ['192.168.12.0', '192.168.13.0']
        assert [f['dst'] for f in p['fdb']] == ['10.57.5.20', '10.57.5.21']
        assert p['absent_devices'] == {'ipip': ['podnet.ipip'], 'vxlan': [], 'vxlan6': ['podnet.vxlan6']}
    else:
        assert routes['192.168.13.0/24'] == {'dst': '192.168.13.0/24', 'via': '10.57.5.21', 'dev': dev, 'onlink': True}
        assert p['neighbors'] == [] and p['fdb'] == []
        assert p['absent_devices'] == {'ipip': [], 'vxlan': ['podnet.vxlan'], 'vxlan6': ['podnet.vxlan6']}
    assert p['device_sysctl'] == {'net/ipv4/conf/%s/rp_filter' % dev: '2', 'net/ipv4/conf/eth0/rp_filter': '2'}
    # every peer may send the encapsulation, also the direct ones (a mode switch must not cut them off)
    # (as prefixes: worker3 10.57.4.21 with this host, worker4 and worker5 10.57.5.20-21)
    assert p['ipsets'] == [dict(name='podnet-peers', family=4, members=['10.57.4.20/31', '10.57.5.20/31'])]
    match = '-p udp -m udp --dport 8472' if encap == 'vxlan' else '-p 4'
    assert p['firewall']['chains'][1]['rules'][0] == '%s -m set --match-set podnet-peers src -j RETURN' % match


def test_crosssubnet_errors():
    with pytest.raises(_plan.PlanError, match="podnet_crosssubnet_encap 'gre' is not an encapsulation"):
        plan('crosssubnet', members=ROUTED, facts=ROUTED_FACTS, crosssubnet_encap='gre')
    with pytest.raises(_plan.PlanError, match='needs the underlay prefix'):
        plan('crosssubnet', members=ROUTED, facts=dict(ROUTED_FACTS, underlay_network=None))
    with pytest.raises(_plan.PlanError, match='inside worker2.s underlay prefix 10.57.4.0/24 but not on-link'):
        plan('crosssubnet', members=ROUTED, facts=dict(ROUTED_FACTS, onlink={}))
    with pytest.raises(_plan.PlanError, match='podnet_encap_filter'):
        plan('vxlan', encap_filter='maybe')


LINKS = {'eth0': {'kind': 'veth'}, 'lo': {'kind': None}, 'podnet.vxlan': {'kind': 'vxlan', 'vni': 1, 'port': 8472}}


@pytest.mark.parametrize('mode, links, settings, start', [
    ('vxlan', {'podnet.vxlan': {'kind': 'veth'}}, {}, "worker2: podnet_vxlan_dev 'podnet.vxlan' is taken: the host "
     "already has a veth device"),
    ('ipip', {'podnet.ipip': {'kind': None}}, {}, "worker2: podnet_ipip_dev 'podnet.ipip' is taken: the host already "
     "has a physical device"),
    ('host-gw', {'veth-ns1': {'kind': 'bridge'}}, {}, "worker2: podnet_pods[0].host_dev 'veth-ns1' is taken"),
    ('vxlan', {'clash1': {'kind': 'vxlan', 'vni': 1, 'port': 8472}}, {}, "worker2: podnet_vxlan_vni 1 clashes with "
     "vxlan device clash1"),
    ('vxlan', {'clash2': {'kind': 'vxlan', 'vni': 7, 'port': 4789}}, {'vxlan_port': 4789}, "worker2: "
     "podnet_vxlan_port 4789 is already used by vxlan device clash2 (VNI 7)"),
    ('ipip', {'tun9': {'kind': 'ipip', 'local': '10.57.4.20', 'remote': '0.0.0.0'}}, {}, "worker2: podnet_ipip_dev "
     "'podnet.ipip' cannot be created: ipip device tun9"),
])
def test_devices_in_the_way_are_refused(mode, links, settings, start):
    with pytest.raises(_plan.PlanError) as err:
        plan(mode, facts=dict(FACTS, links=dict(LINKS, **links)), **settings)
    assert str(err.value).startswith(start), str(err.value)


def test_own_devices_and_unrelated_ones_are_no_clash():
    links = dict(LINKS, vxlan99={'kind': 'vxlan', 'vni': 99, 'port': 4789}, tunl0={'kind': 'ipip', 'local': '0.0.0.0'},
                 tun99={'kind': 'ipip', 'local': '10.57.4.20', 'remote': '10.57.4.99'}, **{'veth-ns1': {'kind': 'veth'}})
    for mode in ('host-gw', 'ipip', 'vxlan'):
        plan(mode, facts=dict(FACTS, links=links))
    plan('vxlan', facts=dict(FACTS, links=dict(LINKS, clash={'kind': 'vxlan', 'vni': 1, 'port': 8472})), state='absent')
    # the collection's device over the other underlay family (same VNI and port) is its own, about to be removed or kept
    six = {'podnet.vxlan6': {'kind': 'vxlan', 'vni': 1, 'port': 8472, 'local': 'fd57:4::20'}}
    plan('vxlan', members=DUAL6, facts=dict(FACTS6, links=dict(LINKS, **six)))
    plan('vxlan', members=DUAL6, facts=dict(FACTS6, links=dict(LINKS, **six)), vxlan_underlay='ipv6')
    with pytest.raises(_plan.PlanError) as err:
        plan('vxlan', members=DUAL6, facts=dict(FACTS6, links=dict(LINKS, **{'podnet.vxlan6': {'kind': 'bridge'}})),
             vxlan_underlay='ipv6')
    assert str(err.value).startswith("worker2: podnet_vxlan6_dev 'podnet.vxlan6' is taken: the host already has a bridge")


@pytest.mark.parametrize('me, peers, prefixes', [
    ('10.57.4.20', ['10.57.4.21'], ['10.57.4.20/31']),
    ('10.57.4.21', ['10.57.4.20', '10.57.4.22'], ['10.57.4.20/31', '10.57.4.22/32']),
    # 64 consecutive node IPs, this host among them: one prefix instead of 63 rules
    ('10.57.4.70', ['10.57.4.%d' % i for i in range(64, 128) if i != 70], ['10.57.4.64/26']),
    # 64 from .20 on: five prefixes, and nothing outside .20-.83
    ('10.57.4.20', ['10.57.4.%d' % i for i in range(21, 84)],
     ['10.57.4.20/30', '10.57.4.24/29', '10.57.4.32/27', '10.57.4.64/28', '10.57.4.80/30']),
    ('10.0.0.1', ['192.168.1.5', '10.0.0.9'], ['10.0.0.1/32', '10.0.0.9/32', '192.168.1.5/32']),
    ('10.0.0.1', [], []),
])
def test_peer_prefixes_cover_exactly_the_nodes(me, peers, prefixes):
    got = _plan.peer_prefixes(dict(node_ip=me), [dict(node_ip=p) for p in peers])
    assert got == prefixes
    covered = set(str(a) for net in got for a in ipaddress.ip_network(net))
    assert covered == (set([me] + peers) if peers else set())


def test_a_validated_cluster_is_not_checked_pairwise_again(monkeypatch):
    """The preflight validates the cluster once (filter cluster_check); every host's plan then only
    normalises the nodes: the pairwise checks must not run per host (O(N^2) each)."""
    members = [('worker%d' % i, {'podnet_node_ip': '10.57.4.%d' % (20 + i), 'podnet_pod_cidr': '192.168.%d.0/24' % i})
               for i in range(2, 6)]
    facts = dict(FACTS, onlink=dict((hv['podnet_node_ip'], True) for _h, hv in members))
    calls = []
    real = _plan.validate_cluster
    monkeypatch.setattr(_plan, 'validate_cluster', lambda m: calls.append(len(m)) or real(m))
    checked = _plan.host_plan(members, 'worker2', {'mode': 'vxlan'}, facts)
    assert calls == [4]
    trusted = _plan.host_plan(members, 'worker2', {'mode': 'vxlan'}, facts, validated=True)
    assert calls == [4] and trusted == checked


@pytest.mark.parametrize('mode', ['host-gw', 'vxlan', 'ipip'])
def test_no_pods_of_the_own_serves_the_range_however_attached(mode):
    """podnet_pods: [] (a container runtime makes the pods): the peers' routes and the mode's entries are as
    with pods; no pod, no /32 host route, nothing removed."""
    with_pods, without = plan(mode), plan(mode, pods=[])
    assert without['pods'] == [] and without['absent_pods'] == []
    assert [r for r in without['routes'] if r['dst'].endswith('/32')] == []
    assert peer_routes(without) == peer_routes(with_pods)
    for key in ('vxlan', 'ipip', 'neighbors', 'fdb', 'firewall', 'sysctl'):
        assert without[key] == with_pods[key], key


@pytest.mark.parametrize('recorded, pods, absent', [
    # nothing recorded (first run, or a record that could not be read): nothing to remove
    (None, [], []),
    # the own pod ns1 is no longer wanted: its veth and namespace go
    ([{'name': 'ns1', 'host_dev': 'veth-ns1'}], [], [{'name': 'ns1', 'host_dev': 'veth-ns1'}]),
    # still wanted: nothing goes
    ([{'name': 'ns1', 'host_dev': 'veth-ns1'}], [{'name': 'ns1'}], []),
    # kept under another host_dev: only the old veth goes
    ([{'name': 'ns1', 'host_dev': 'old-ns1'}], [{'name': 'ns1'}], [{'name': None, 'host_dev': 'old-ns1'}]),
    # ns2 goes, but its veth name is now ns1's: the namespace only
    ([{'name': 'ns2', 'host_dev': 'veth-x'}], [{'name': 'ns1', 'host_dev': 'veth-x'}], [{'name': 'ns2', 'host_dev': None}]),
])
def test_own_pods_no_longer_wanted_are_removed(recorded, pods, absent):
    facts = dict(FACTS, recorded_pods=recorded) if recorded is not None else FACTS
    assert plan('vxlan', facts=facts, pods=pods)['absent_pods'] == absent


def test_removed_pods_are_not_recorded():
    """The record holds the state, not the way there: a run that removes a pod and the next one (nothing left
    to remove) store the same record, so the next one changes nothing."""
    from ansible_collections.openkube.podnet.plugins.module_utils import _record
    facts = dict(FACTS, recorded_pods=[{'name': 'ns1', 'host_dev': 'veth-ns1'}])
    removing, settled = plan('vxlan', facts=facts, pods=[]), plan('vxlan', pods=[])
    assert removing['absent_pods'] and not settled['absent_pods']
    assert _record.content_of(removing) == _record.content_of(settled)


def test_masquerade_everything_but_the_cluster_pod_ranges_and_multicast():
    """Pods' egress leaves behind the node's address (flannel --ip-masq, Calico natOutgoing); pod to pod, on
    the host or across hosts, never: the cluster's pod ranges, collapsed, are returned from first."""
    nat = [c for c in plan('host-gw')['firewall']['chains'] if c.get('table') == 'nat']
    assert nat == [{'name': 'PODNET-POSTROUTING', 'table': 'nat', 'hook': 'POSTROUTING', 'rules': [
        '-s 192.168.10.0/24 -d 192.168.10.0/23 -j RETURN', '-s 192.168.10.0/24 -d 224.0.0.0/4 -j RETURN',
        '-s 192.168.10.0/24 -j MASQUERADE']}]
    scattered = [('worker2', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '10.244.0.0/24'}),
                 ('worker3', {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '172.16.5.0/24'})]
    rules = [c for c in plan('vxlan', members=scattered)['firewall']['chains'] if c.get('table') == 'nat'][0]['rules']
    assert rules[:2] == ['-s 10.244.0.0/24 -d 10.244.0.0/24 -j RETURN', '-s 10.244.0.0/24 -d 172.16.5.0/24 -j RETURN']
    assert not [c for c in plan('vxlan', masquerade=False)['firewall']['chains'] if c.get('table') == 'nat']
    with pytest.raises(_plan.PlanError, match="worker2: podnet_masquerade 'maybe' must be a boolean"):
        plan('vxlan', masquerade='maybe')


PLUGINS = {'bridge': '/usr/lib/cni/bridge', 'host-local': '/usr/lib/cni/host-local', 'portmap': '/opt/cni/bin/portmap'}


def test_bridge_layout_is_flannels():
    """podnet_attach bridge: cni0 holds the gateway with the range's prefix, the pods are on the range's subnet
    and their veths are its ports; no /32 routes; the VTEP address stays on the vxlan device."""
    p = plan('vxlan', attach='bridge')
    assert p['bridge'] == {'name': 'cni0', 'mtu': 1450, 'address': '192.168.10.1/24', 'mac': _plan.stable_mac('bridge', '10.57.4.20')}
    assert p['bridge']['mac'] != p['vxlan']['mac']
    pod = p['pods'][0]
    assert (pod['address'], pod['gateway'], pod['gateway_address'], pod['master'], pod['onlink']) == (
        '192.168.10.10/24', '192.168.10.1', None, 'cni0', False)
    assert [r for r in p['routes'] if r['dst'].endswith('/32')] == []
    assert p['vxlan']['address'] == '192.168.10.0/32'
    assert plan('vxlan')['bridge'] is None


def test_cni_configuration_dual_stack_has_a_range_per_family():
    p = plan('vxlan', members=DUAL, attach='bridge', cni=True, facts=dict(FACTS, cni_plugins=PLUGINS))
    ipam = p['cni']['config']['plugins'][0]['ipam']
    assert ipam['routes'] == [{'dst': '0.0.0.0/0'}, {'dst': '::/0'}]
    assert len(ipam['ranges']) == 2 and ipam['ranges'][0][0]['subnet'] == '192.168.10.0/24'
    # the VTEP (::), the gateway (::1) and the pod (::a) are never handed out; the range ends before the last address
    assert ipam['ranges'][1] == [
        {'subnet': 'fd00:10:244:10::/64', 'rangeStart': 'fd00:10:244:10::2', 'rangeEnd': 'fd00:10:244:10::9',
         'gateway': 'fd00:10:244:10::1'},
        {'subnet': 'fd00:10:244:10::/64', 'rangeStart': 'fd00:10:244:10::b', 'rangeEnd': 'fd00:10:244:10:ffff:ffff:ffff:fffe',
         'gateway': 'fd00:10:244:10::1'}]


def test_cni_configuration_never_hands_out_the_collections_addresses():
    facts = dict(FACTS, cni_plugins=PLUGINS)
    p = plan('vxlan', attach='bridge', cni=True, facts=facts, pods=[{'name': 'ns1'}, {'name': 'ns2', 'ip': '192.168.10.99'}])
    assert p['cni']['path'] == '/etc/cni/net.d/10-podnet.conflist' and p['cni']['network'] == 'podnet'
    config = p['cni']['config']
    assert (config['cniVersion'], config['name'], [x['type'] for x in config['plugins']]) == ('1.0.0', 'podnet', ['bridge', 'portmap'])
    bridge = config['plugins'][0]
    assert (bridge['bridge'], bridge['isGateway'], bridge['ipMasq'], bridge['hairpinMode'], bridge['mtu']) == (
        'cni0', True, False, True, 1450)
    ranges = bridge['ipam']['ranges']
    assert ranges == [[
        {'subnet': '192.168.10.0/24', 'rangeStart': '192.168.10.2', 'rangeEnd': '192.168.10.9', 'gateway': '192.168.10.1'},
        {'subnet': '192.168.10.0/24', 'rangeStart': '192.168.10.11', 'rangeEnd': '192.168.10.98', 'gateway': '192.168.10.1'},
        {'subnet': '192.168.10.0/24', 'rangeStart': '192.168.10.100', 'rangeEnd': '192.168.10.254', 'gateway': '192.168.10.1'}]]
    assert bridge['ipam']['type'] == 'host-local' and bridge['ipam']['routes'] == [{'dst': '0.0.0.0/0'}]
    assert config['plugins'][1] == {'type': 'portmap', 'capabilities': {'portMappings': True}}
    assert plan('vxlan', attach='bridge', cni=True, facts=facts, cni_dir='/etc/cni/other', cni_file='50-x.conflist')[
        'cni']['path'] == '/etc/cni/other/50-x.conflist'


@pytest.mark.parametrize('settings, facts, expected', [
    (dict(cni=True), dict(cni_plugins=PLUGINS), "worker2: podnet_cni True needs podnet_attach 'bridge' (it is 'routed')"),
    (dict(attach='bridge', cni=True), dict(cni_plugins=dict(PLUGINS, portmap=None)),
     'worker2: podnet_cni True needs the CNI plugins bridge, host-local, portmap, and portmap is not installed in '
     '/usr/lib/cni or /opt/cni/bin'),
    (dict(attach='bridged'), {}, "worker2: podnet_attach 'bridged' is not a way to attach pods: choose one of routed, bridge"),
    (dict(attach='bridge', bridge_dev='podnet.vxlan'), {}, "worker2: podnet_bridge_dev 'podnet.vxlan' is also the name"),
    (dict(cni_file='podnet.json'), {}, "worker2: podnet_cni_file 'podnet.json' must be a file name ending in .conflist"),
    (dict(cni_dir='etc/cni'), {}, "worker2: podnet_cni_dir 'etc/cni' must be an absolute path"),
])
def test_bad_attach_and_cni_settings(settings, facts, expected):
    with pytest.raises(_plan.PlanError) as err:
        plan('vxlan', facts=dict(FACTS, **facts), **settings)
    assert str(err.value).startswith(expected), str(err.value)


def test_what_the_last_plan_made_and_this_one_does_not_want_goes():
    recorded = dict(FACTS, recorded_bridge='cni0', recorded_cni='/etc/cni/net.d/10-podnet.conflist', cni_plugins=PLUGINS)
    routed = plan('vxlan', facts=recorded)
    assert (routed['absent_bridge'], routed['absent_cni']) == ('cni0', '/etc/cni/net.d/10-podnet.conflist')
    same = plan('vxlan', facts=recorded, attach='bridge', cni=True)
    assert (same['absent_bridge'], same['absent_cni']) == (None, None)
    renamed = plan('vxlan', facts=recorded, attach='bridge', bridge_dev='podnet0', cni=True, cni_file='20-podnet.conflist')
    assert (renamed['absent_bridge'], renamed['absent_cni']) == ('cni0', '/etc/cni/net.d/10-podnet.conflist')


DUAL = [
    ('worker2', dict(REF[0][1], podnet_pod_cidr6='fd00:10:244:10::/64')),
    ('worker3', dict(REF[1][1], podnet_pod_cidr6='fd00:10:244:11::/64')),
]


def test_dual_stack_vxlan_over_the_ipv4_underlay():
    """IPv6 pods through the same vxlan device: its IPv6 VTEP address (the range's ::0), per peer an onlink route
    via the peer's IPv6 VTEP address and its permanent neighbour (the same MAC, the same FDB entry)."""
    p = plan('vxlan', members=DUAL)
    assert p['pod_cidr6'] == 'fd00:10:244:10::/64'
    assert (p['vxlan']['address'], p['vxlan']['address6']) == ('192.168.10.0/32', 'fd00:10:244:10::/128')
    mac3 = _plan.vtep_mac('10.57.4.21')
    assert {'dst': 'fd00:10:244:11::/64', 'via': 'fd00:10:244:11::', 'dev': 'podnet.vxlan', 'onlink': True} in p['routes']
    assert {'ip': 'fd00:10:244:11::', 'lladdr': mac3} in p['neighbors'] and len(p['neighbors']) == 2
    assert p['fdb'] == [{'mac': mac3, 'dst': '10.57.4.21'}]
    pod = p['pods'][0]
    assert (pod['ip6'], pod['address6'], pod['gateway6'], pod['gateway_address6']) == (
        'fd00:10:244:10::a', 'fd00:10:244:10::a/128', 'fd00:10:244:10::1', 'fd00:10:244:10::1/128')
    assert {'dst': 'fd00:10:244:10::a/128', 'dev': 'veth-ns1'} in p['routes']
    assert p['sysctl'] == {'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1'}
    # IPv4 only: nothing of IPv6 in the plan (a record written before stays the same)
    v4 = plan('vxlan')
    assert 'pod_cidr6' not in v4 and 'address6' not in v4['vxlan'] and 'ip6' not in v4['pods'][0]
    assert v4['sysctl'] == {'net.ipv4.ip_forward': '1'}


DUAL6 = [
    ('worker2', dict(DUAL[0][1], podnet_node_ip6='fd57:4::20')),
    ('worker3', dict(DUAL[1][1], podnet_node_ip6='fd57:4::21')),
]
FACTS6 = dict(FACTS, onlink={'10.57.4.21': True, 'fd57:4::21': True}, underlay_network6='fd57:4::/64')


def test_dual_stack_host_gw_over_the_ipv6_underlay():
    """host-gw: a route to the peer's IPv6 pod range via its IPv6 node address, beside the IPv4 one."""
    p = plan('host-gw', members=DUAL6, facts=FACTS6)
    assert {'dst': 'fd00:10:244:11::/64', 'via': 'fd57:4::21', 'dev': 'eth0'} in p['routes']
    assert {'dst': '192.168.11.0/24', 'via': '10.57.4.21', 'dev': 'eth0'} in p['routes']
    assert p['peers'][0]['pod_ip6'] == 'fd00:10:244:11::a'
    assert p['sysctl']['net.ipv6.conf.all.forwarding'] == '1'
    # torn down: no IPv6 underlay needed, nothing routed
    gone = plan('host-gw', members=DUAL, state='absent')
    assert gone['routes'] == []


def test_dual_stack_crosssubnet_direct_peers_via_ipv6_the_others_through_vxlan():
    members = DUAL6 + [('worker4', dict(podnet_node_ip='10.57.5.20', podnet_pod_cidr='192.168.12.0/24',
                                        podnet_pod_cidr6='fd00:10:244:12::/64', podnet_node_ip6='fd57:5::20'))]
    facts = dict(FACTS6, underlay_network='10.57.4.0/24',
                 onlink={'10.57.4.21': True, 'fd57:4::21': True, '10.57.5.20': False, 'fd57:5::20': False})
    p = plan('crosssubnet', members=members, facts=facts)
    assert {'dst': 'fd00:10:244:11::/64', 'via': 'fd57:4::21', 'dev': 'eth0'} in p['routes']
    assert {'dst': 'fd00:10:244:12::/64', 'via': 'fd00:10:244:12::', 'dev': 'podnet.vxlan', 'onlink': True} in p['routes']
    assert [n['ip'] for n in p['neighbors']] == ['192.168.12.0', 'fd00:10:244:12::']


def test_dual_stack_vxlan_over_the_ipv6_underlay():
    """podnet_vxlan_underlay ipv6: the IPv4 pods keep the vxlan device over IPv4; the IPv6 pods get a device of their
    own over the IPv6 underlay (local the IPv6 node address, the same VNI and port, a MAC of its own), its FDB
    entries to the peers' IPv6 node addresses, 70 bytes of overhead, and an ip6tables PODNET-INPUT."""
    p = plan('vxlan', members=DUAL6, facts=FACTS6, vxlan_underlay='ipv6')
    mac3, mac3v6 = _plan.vtep_mac('10.57.4.21'), _plan.stable_mac('vtep6', 'fd57:4::21')
    assert p['mtu'] == 1430 and p['vxlan']['mtu'] == p['vxlan6']['mtu'] == p['pods'][0]['mtu'] == 1430
    assert 'address6' not in p['vxlan'] and p['neighbors'] == [{'ip': '192.168.11.0', 'lladdr': mac3}]
    assert p['fdb'] == [{'mac': mac3, 'dst': '10.57.4.21'}]
    assert p['vxlan6'] == dict(name='podnet.vxlan6', vni=1, port=8472, local='fd57:4::20', dev='eth0',
                               mac=_plan.stable_mac('vtep6', 'fd57:4::20'), mtu=1430, learning=False, address=None,
                               address6='fd00:10:244:10::/128')
    assert p['neighbors6'] == [{'ip': 'fd00:10:244:11::', 'lladdr': mac3v6}]
    assert p['fdb6'] == [{'mac': mac3v6, 'dst': 'fd57:4::21'}]
    assert {'dst': 'fd00:10:244:11::/64', 'via': 'fd00:10:244:11::', 'dev': 'podnet.vxlan6', 'onlink': True} in p['routes']
    assert not [r for r in p['routes'] if r['dst'] == 'fd00:10:244:11::/64' and r['dev'] == 'podnet.vxlan']
    assert (p['encap'], p['encap6'], p['peers'][0]['encap'], p['peers'][0]['encap6']) == ('vxlan', 'vxlan6', 'vxlan', 'vxlan6')
    assert p['absent_devices'] == {'ipip': ['podnet.ipip'], 'vxlan': [], 'vxlan6': []}
    inputs = dict((c.get('family', 4), c['rules']) for c in p['firewall']['chains'] if c['name'] == _plan.INPUT_CHAIN)
    assert inputs == {
        4: ['-p udp -m udp --dport 8472 -m set --match-set podnet-peers src -j RETURN', '-p udp -m udp --dport 8472 -j DROP'],
        6: ['-p udp -m udp --dport 8472 -m set --match-set podnet-peers6 src -j RETURN', '-p udp -m udp --dport 8472 -j DROP']}
    assert p['ipsets'] == [dict(name='podnet-peers', family=4, members=['10.57.4.20/31']),
                           dict(name='podnet-peers6', family=6, members=['fd57:4::20/127'])]
    # the controller's prefixes give the same chain
    nodes = _plan.validate_cluster(DUAL6)
    assert _plan.cluster_prefixes(nodes)['node6'] == ['fd57:4::20/127']
    cached = _plan.host_plan(DUAL6, 'worker2', dict(mode='vxlan', vxlan_underlay='ipv6'), FACTS6, validated=True,
                             prefixes=_plan.cluster_prefixes(nodes))
    assert cached['firewall'] == p['firewall']
    # the same cluster with the default: one device over IPv4, no vxlan6, no ip6tables PODNET-INPUT
    one = plan('vxlan', members=DUAL6, facts=FACTS6)
    assert one['vxlan6'] is None and one['mtu'] == 1450 and one['vxlan']['address6'] == 'fd00:10:244:10::/128'
    assert 'encap6' not in one and one['absent_devices']['vxlan6'] == ['podnet.vxlan6']
    assert [c.get('family', 4) for c in one['firewall']['chains'] if c['name'] == _plan.INPUT_CHAIN] == [4]
    # an IPv4 cluster, or mode host-gw: the setting changes nothing
    assert plan('vxlan', vxlan_underlay='ipv6') == plan('vxlan')
    assert plan('host-gw', members=DUAL6, facts=FACTS6, vxlan_underlay='ipv6') == plan('host-gw', members=DUAL6, facts=FACTS6)


def test_dual_stack_crosssubnet_vxlan_over_the_ipv6_underlay():
    members = DUAL6 + [('worker4', dict(podnet_node_ip='10.57.5.20', podnet_pod_cidr='192.168.12.0/24',
                                        podnet_pod_cidr6='fd00:10:244:12::/64', podnet_node_ip6='fd57:5::20'))]
    facts = dict(FACTS6, underlay_network='10.57.4.0/24',
                 onlink={'10.57.4.21': True, 'fd57:4::21': True, '10.57.5.20': False, 'fd57:5::20': False})
    p = plan('crosssubnet', members=members, facts=facts, vxlan_underlay='ipv6')
    assert {'dst': 'fd00:10:244:11::/64', 'via': 'fd57:4::21', 'dev': 'eth0'} in p['routes']
    assert {'dst': 'fd00:10:244:12::/64', 'via': 'fd00:10:244:12::', 'dev': 'podnet.vxlan6', 'onlink': True} in p['routes']
    assert p['fdb6'] == [{'mac': _plan.stable_mac('vtep6', 'fd57:5::20'), 'dst': 'fd57:5::20'}]
    assert dict((peer['name'], peer['encap6']) for peer in p['peers']) == {'worker3': 'none', 'worker4': 'vxlan6'}


def test_dual_stack_bridge_layout():
    p = plan('vxlan', members=DUAL, attach='bridge')
    assert p['bridge']['address6'] == 'fd00:10:244:10::1/64'
    pod = p['pods'][0]
    assert (pod['address6'], pod['gateway_address6']) == ('fd00:10:244:10::a/64', None)
    assert not [r for r in p['routes'] if r['dst'].endswith('/128')]


@pytest.mark.parametrize('members, settings, expected', [
    (DUAL, dict(mode='ipip'), "worker2: podnet_pod_cidr6 'fd00:10:244:10::/64' cannot be carried by mode ipip: ipip carries "
                              "IPv4 only; vxlan carries IPv6 pods"),
    (DUAL, dict(mode='crosssubnet', crosssubnet_encap='ipip'),
     "worker2: podnet_pod_cidr6 'fd00:10:244:10::/64' cannot be carried by mode crosssubnet"),
    (DUAL, dict(mode='host-gw'), "worker2: podnet_node_ip6 is not set, but podnet_mode 'host-gw' routes worker2's IPv6 "
                                 "pods (podnet_pod_cidr6 fd00:10:244:10::/64) via its IPv6 node address"),
    ([DUAL6[0], DUAL[1]], dict(mode='crosssubnet'), "worker3: podnet_node_ip6 is not set, but podnet_mode 'crosssubnet'"),
    ([DUAL6[0], DUAL[1]], dict(mode='vxlan', vxlan_underlay='ipv6'),
     "worker3: podnet_node_ip6 is not set, but podnet_vxlan_underlay 'ipv6' carries worker3's IPv6 pods "
     "(podnet_pod_cidr6 fd00:10:244:11::/64) over the IPv6 underlay"),
    (DUAL6, dict(mode='vxlan', vxlan_underlay='IPv6'), "worker2: podnet_vxlan_underlay 'IPv6' is not an underlay family"),
    (DUAL6, dict(mode='vxlan', vxlan_underlay='ipv6', vxlan6_dev='podnet.vxlan'),
     "worker2: podnet_vxlan6_dev 'podnet.vxlan' is also the name of another tunnel device"),
    (DUAL6, dict(mode='vxlan', vxlan_underlay='ipv6', mtu=1450),
     "worker2: podnet_mtu 1450 is too large for vxlan with IPv6 pods over the IPv6 underlay over eth0 (MTU 1500): at most 1430"),
    (DUAL6, dict(mode='host-gw', facts=dict(FACTS6, onlink={'10.57.4.21': True, 'fd57:4::21': False})),
     "worker2: podnet_mode 'host-gw' cannot reach worker3 (podnet_node_ip6 fd57:4::21): it is not on-link"),
    ([DUAL[0], REF[1]], dict(mode='vxlan'), "worker3: podnet_pod_cidr6 None is not set, but worker2 has one"),
    ([DUAL[0], ('worker3', dict(DUAL[1][1], podnet_pod_cidr6='fd00:10:244:10:8000::/65'))], dict(mode='vxlan'),
     "worker3: podnet_pod_cidr6 'fd00:10:244:10:8000::/65' overlaps worker2's podnet_pod_cidr6 fd00:10:244:10::/64"),
    ([('worker2', dict(DUAL[0][1], podnet_pod_cidr6='fd00:10:244:10::1/64')), DUAL[1]], dict(mode='vxlan'),
     "worker2: podnet_pod_cidr6 'fd00:10:244:10::1/64' has host bits set"),
    ([('worker2', dict(DUAL[0][1], podnet_pod_cidr6='10.0.0.0/24')), DUAL[1]], dict(mode='vxlan'),
     "worker2: podnet_pod_cidr6 '10.0.0.0/24' is not an IPv6"),
    ([('worker2', dict(DUAL[0][1], podnet_pod_cidr6='fd00::/121')), DUAL[1]], dict(mode='vxlan'),
     "worker2: podnet_pod_cidr6 'fd00::/121' is too small"),
    ([('worker2', dict(DUAL[0][1], podnet_node_ip6='fd57::20')), ('worker3', dict(DUAL[1][1], podnet_node_ip6='fd57::20'))],
     dict(mode='vxlan'), "worker3: podnet_node_ip6 'fd57::20' is also the node IP of worker2"),
    ([('worker2', dict(DUAL[0][1], podnet_node_ip6='fd00:10:244:11::5')), DUAL[1]], dict(mode='vxlan'),
     "worker3: podnet_pod_cidr6 'fd00:10:244:11::/64' contains the node IP of worker2 (fd00:10:244:11::5)"),
    (DUAL, dict(mode='vxlan', pods=[{'name': 'ns1', 'ip6': 'fd00:10:244:11::5'}]),
     "worker2: podnet_pods[0].ip6 'fd00:10:244:11::5' is not a usable pod address in podnet_pod_cidr6"),
    (REF, dict(mode='vxlan', pods=[{'name': 'ns1', 'ip6': 'fd00:10:244:10::5'}]),
     "worker2: podnet_pods[0].ip6 'fd00:10:244:10::5' needs podnet_pod_cidr6"),
])
def test_dual_stack_refusals_name_host_variable_and_value(members, settings, expected):
    mode = settings.pop('mode')
    facts = settings.pop('facts', dict(FACTS, underlay_network='10.57.4.0/24'))
    with pytest.raises(_plan.PlanError) as err:
        plan(mode, members=members, facts=facts, **settings)
    assert str(err.value).startswith(expected), str(err.value)


SCATTERED = [('w%d' % i, dict(podnet_node_ip='10.%d.%d.%d' % (57 + i % 3, i % 7, 2 * i + 1),
                              podnet_pod_cidr='10.244.%d.0/24' % i)) for i in range(64)]


def test_encap_filter_is_one_rule_whatever_the_peers():
    """64 scattered node IPs (no two in one prefix): 64 members of the set, one RETURN rule."""
    p = plan('vxlan', host='w0', members=SCATTERED, facts=dict(FACTS, underlay_dev='eth0'))
    inputs = [c for c in p['firewall']['chains'] if c['name'] == _plan.INPUT_CHAIN]
    assert len(inputs) == 1 and len(inputs[0]['rules']) == 2
    assert len(p['ipsets'][0]['members']) == 64
    assert p['ipsets'][0]['members'] == _plan.peer_prefixes(*_plan_nodes(SCATTERED))


def _plan_nodes(members):
    nodes = _plan.validate_cluster(members)
    return nodes[0], nodes[1:]


@pytest.mark.parametrize('mode', ['vxlan', 'ipip', 'crosssubnet'])
def test_without_ip_set_support_the_filter_falls_back_to_prefix_rules(mode):
    """A host whose kernel cannot hold the set (node_facts' ipset_missing) gets the same admission as one rule per
    prefix, no set, and a warning that names the host and why."""
    members, facts = (ROUTED, ROUTED_FACTS) if mode == 'crosssubnet' else (REF, FACTS)
    why = 'this kernel has no iptables match set (module xt_set)'
    p = plan(mode, members=members, facts=dict(facts, ipset_missing=why))
    match = '-p 4' if mode == 'ipip' else '-p udp -m udp --dport 8472'
    prefixes = ['10.57.4.20/31'] + (['10.57.5.20/31'] if mode == 'crosssubnet' else [])
    inputs = [c for c in p['firewall']['chains'] if c['name'] == _plan.INPUT_CHAIN][0]
    assert inputs['rules'] == ['-s %s %s -j RETURN' % (prefix, match) for prefix in prefixes] + ['%s -j DROP' % match]
    assert p['ipsets'] == []
    assert len(p['warnings']) == 1 and p['warnings'][0].startswith('worker2: podnet_encap_filter: ' + why)
    assert '(%d here)' % len(prefixes) in p['warnings'][0]
    # probed and supported: the set (an empty string says nothing is missing)
    assert plan(mode, members=members, facts=dict(facts, ipset_missing=''))['ipsets'][0]['name'] == 'podnet-peers'
    # nothing to fall back from: no warning
    assert 'warnings' not in plan(mode, members=members, facts=dict(facts, ipset_missing=why), encap_filter=False)


@pytest.mark.parametrize('mode', ['host-gw', 'crosssubnet'])
def test_state_absent_plans_without_reading_which_peers_are_on_link(mode):
    """facts_request asks node_facts for on-link peers only with state present: state absent must plan (and remove)
    without them, in the modes that check them."""
    members, facts = (ROUTED, ROUTED_FACTS) if mode == 'crosssubnet' else (REF, FACTS)
    p = plan(mode, members=members, facts=dict(facts, onlink={}), state='absent')
    assert p['state'] == 'absent' and p['routes'] == [] and p['ipsets'] == []


NFT = dict(found=True, missing='')


@pytest.mark.parametrize('mode, rule', [('vxlan', dict(protocol='udp', dport=8472)), ('ipip', dict(protocol='ipip'))])
def test_encap_filter_as_an_nftables_table_where_the_host_holds_one(mode, rule):
    """node_facts found nft and the kernel took the table (nftables missing ''): the filter is the table ip podnet,
    a set of the peers' node addresses and one rule on the input hook; no PODNET-INPUT, no ip set (both removed)."""
    p = plan(mode, host='w0', members=SCATTERED, facts=dict(FACTS, nftables=NFT))
    peers = sorted(hv['podnet_node_ip'] for name, hv in SCATTERED[1:])
    assert p['nftables'] == [dict(name='podnet', family='ip', sets=[dict(name='peers', elements=peers)],
                                  chains=[dict(name='input', hook='input', rules=[dict(rule, saddr_not_in='peers')])])]
    assert [c['name'] for c in p['firewall']['chains']] == ['PODNET-FORWARD', 'PODNET-POSTROUTING']
    assert p['ipsets'] == [] and p['absent_ipsets'] == ['podnet-peers', 'podnet-peers6']
    assert 'warnings' not in p


def test_nftables_table_per_underlay_family():
    p = plan('vxlan', members=DUAL6, facts=dict(FACTS6, nftables=NFT), vxlan_underlay='ipv6')
    assert [(t['family'], t['sets'][0]['elements']) for t in p['nftables']] == [
        ('ip', ['10.57.4.21']), ('ip6', ['fd57:4::21'])]
    assert [c['name'] for c in p['firewall']['chains'] if c['name'] == _plan.INPUT_CHAIN] == []


@pytest.mark.parametrize('facts, backend, filter_by', [
    (dict(nftables=NFT, ipset_missing=''), 'iptables', 'set'),  # the chain, whatever nft can do
    (dict(nftables=dict(found=True, missing='the kernel refuses'), ipset_missing=''), 'auto', 'set'),
    (dict(nftables=dict(found=False, missing='nft was not found'), ipset_missing=''), 'auto', 'set'),
    (dict(nftables=dict(found=False, missing='nft was not found'), ipset_missing='no xt_set'), 'auto', 'rules'),
    (dict(ipset_missing=''), 'auto', 'set'),  # facts of a node_facts that did not probe nftables
])
def test_encap_filter_falls_back_to_the_iptables_chain(facts, backend, filter_by):
    p = plan('vxlan', facts=dict(FACTS, **facts), encap_filter_backend=backend)
    rules = [c['rules'] for c in p['firewall']['chains'] if c['name'] == _plan.INPUT_CHAIN][0]
    assert ('-m set' in rules[0]) is (filter_by == 'set'), rules
    # nft's own tables go where nft is (the converge purges them), nothing is run where it is not
    assert p['nftables'] == ([] if facts.get('nftables', {}).get('found') else None)


def test_backend_nftables_fails_on_a_host_that_cannot_hold_the_table():
    why = 'the kernel refuses an nftables filter table of family ip (Operation not supported)'
    with pytest.raises(_plan.PlanError) as err:
        plan('vxlan', facts=dict(FACTS, nftables=dict(found=True, missing=why)), encap_filter_backend='nftables')
    assert str(err.value) == ("worker2: podnet_encap_filter_backend 'nftables' cannot filter the encapsulation here: "
                              "%s; use auto or iptables (the chain PODNET-INPUT)" % why)
    with pytest.raises(_plan.PlanError, match="podnet_encap_filter_backend 'nft' is not a way"):
        plan('vxlan', facts=FACTS, encap_filter_backend='nft')
    # nothing to filter: no table needed, no error
    assert plan('host-gw', facts=dict(FACTS, nftables=dict(found=False, missing='x')),
                encap_filter_backend='nftables')['nftables'] is None


def test_no_filter_removes_the_collections_tables_where_nft_is():
    for p in (plan('host-gw', facts=dict(FACTS, nftables=NFT)), plan('vxlan', facts=dict(FACTS, nftables=NFT), encap_filter=False),
              plan('vxlan', facts=dict(FACTS, nftables=NFT), state='absent')):
        assert p['nftables'] == [], p['nftables']


BPF = dict(missing='')


@pytest.mark.parametrize('mode, match', [('vxlan', dict(protocol='udp', dport=8472)), ('ipip', dict(protocol='ipip'))])
def test_backend_bpf_filters_with_the_ebpf_program_on_the_underlay(mode, match):
    """Backend bpf where node_facts found the program runs: one filter on the underlay with the peers' node IPs;
    no PODNET-INPUT, no ip set, no nftables table (the collection's are removed where nft is)."""
    p = plan(mode, host='w0', members=SCATTERED, facts=dict(FACTS, bpf=BPF, nftables=NFT), encap_filter_backend='bpf')
    peers = sorted(hv['podnet_node_ip'] for name, hv in SCATTERED[1:])
    assert p['bpf_filters'] == [dict(dev='eth0', peers=peers, **match)]
    assert [c['name'] for c in p['firewall']['chains']] == ['PODNET-FORWARD', 'PODNET-POSTROUTING']
    assert p['ipsets'] == [] and p['nftables'] == []
    names = [s.module for s in _converge.steps(p)]
    # the filter is in place before the chains and the other tables go
    assert names.index('bpf_filter') < names.index('firewall') < names.index('nftables')


def test_backend_bpf_fails_where_the_host_cannot_run_it_and_on_an_ipv6_underlay():
    why = 'the kernel does not run the eBPF filter (a tc filter of kind bpf (module cls_bpf): Operation not supported)'
    with pytest.raises(_plan.PlanError) as err:
        plan('vxlan', facts=dict(FACTS, bpf=dict(missing=why)), encap_filter_backend='bpf')
    assert str(err.value) == ("worker2: podnet_encap_filter_backend 'bpf' cannot filter the encapsulation here: %s; "
                              "use auto, nftables or iptables" % why)
    with pytest.raises(_plan.PlanError, match="podnet_encap_filter_backend 'bpf' filters the encapsulation over an "
                                              "IPv4 underlay only"):
        plan('vxlan', members=DUAL6, facts=dict(FACTS6, bpf=BPF), vxlan_underlay='ipv6', encap_filter_backend='bpf')
    # nothing to filter: no probe needed, no filter, no error
    assert plan('host-gw', facts=FACTS, encap_filter_backend='bpf')['bpf_filters'] is None


def test_a_recorded_ebpf_filter_is_removed_when_no_longer_wanted():
    for p in (plan('vxlan', facts=dict(FACTS, recorded_bpf=['eth0'])),
              plan('vxlan', facts=dict(FACTS, recorded_bpf=['eth0']), state='absent')):
        assert p['bpf_filters'] == []
        assert [s.args for s in _converge.steps(p) if s.module == 'bpf_filter'] == [dict(filters=[], purge=True)]
    assert plan('vxlan', facts=FACTS)['bpf_filters'] is None


def test_facts_request_probes_bpf_for_backend_bpf_only():
    settings = _plan.normalise_settings('worker2', dict(mode='vxlan', encap_filter_backend='bpf'))
    request = _plan.facts_request(REF, 'worker2', settings)
    assert request['bpf'] is True and request['nftables'] == [] and 'ipset' not in request
    assert 'bpf' not in _plan.facts_request(REF, 'worker2', dict(settings, encap_filter_backend='auto'))
