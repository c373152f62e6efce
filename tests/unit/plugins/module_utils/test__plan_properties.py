# -*- coding: utf-8 -*-
"""Properties of the plan over generated inventories (hypothesis), from 2 to 256 hosts:

- every peer's pod range is reached by exactly one route, through the mode's device or gateway,
  and no two of a host's routes to peers overlap;
- the VTEP MACs are unique across the cluster and stable: the same whatever the order of the hosts
  and from one plan to the next;
- a bad value anywhere in the inventory is refused with a PlanError naming a host, never another
  exception.

Each example validates the whole cluster and plans a few of its hosts (a host's plan is O(N); all of
them would be O(N^2) per example).
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.openkube.podnet.plugins.module_utils import _plan

UNDERLAY = ipaddress.ip_network('10.57.0.0/16')
POD_SPACE = ipaddress.ip_network('172.16.0.0/12')  # 4096 /24s
MODES = ('host-gw', 'ipip', 'vxlan')
DEVICE = {'ipip': 'podnet.ipip', 'vxlan': 'podnet.vxlan'}

SETTINGS = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def clusters(draw, min_hosts=2, max_hosts=256):
    """(members, facts): hosts with unique node IPs on one /16 and non-overlapping /24 or /25 pod ranges."""
    count = draw(st.integers(min_hosts, max_hosts))
    node_ips = draw(st.lists(st.integers(1, UNDERLAY.num_addresses - 2), min_size=count, max_size=count, unique=True))
    slots = draw(st.lists(st.integers(0, 4095), min_size=count, max_size=count, unique=True))
    halves = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    members = []
    for i, (ip, slot, half) in enumerate(zip(node_ips, slots, halves)):
        net = ipaddress.ip_network('%s/24' % (POD_SPACE.network_address + slot * 256))
        if half:
            net = list(net.subnets(1))[slot % 2]
        members.append(('node%03d' % i, {'podnet_node_ip': str(UNDERLAY.network_address + ip),
                                         'podnet_pod_cidr': str(net)}))
    facts = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'underlay_network': str(UNDERLAY),
             'onlink': dict((m[1]['podnet_node_ip'], True) for m in members)}
    return members, facts


def sample(draw, members, count=3):
    return draw(st.lists(st.sampled_from([m[0] for m in members]), min_size=1, max_size=count, unique=True))


@SETTINGS
@given(data=st.data(), cluster=clusters(), mode=st.sampled_from(MODES))
def test_every_peer_is_reached_by_exactly_one_route(data, cluster, mode):
    members, facts = cluster
    by_name = dict(members)
    for host in sample(data.draw, members):
        plan = _plan.host_plan(members, host, {'mode': mode}, facts)
        peer_routes = [r for r in plan['routes'] if not r['dst'].endswith('/32')]
        assert sorted(r['dst'] for r in peer_routes) == sorted(
            str(ipaddress.ip_network(hv['podnet_pod_cidr'])) for name, hv in members if name != host)
        for route in peer_routes:
            if mode == 'host-gw':
                assert route['dev'] == 'eth0'
            else:
                assert route['dev'] == DEVICE[mode] and route['onlink'] is True
        nets = sorted(ipaddress.ip_network(r['dst']) for r in peer_routes)
        assert not any(a.overlaps(b) for a, b in zip(nets, nets[1:]))
        # the host's own pods are reached on their veth, inside its own range
        own = ipaddress.ip_network(by_name[host]['podnet_pod_cidr'])
        assert all(ipaddress.ip_address(r['dst'][:-3]) in own for r in plan['routes'] if r['dst'].endswith('/32'))
        if mode == 'vxlan':
            assert len(plan['fdb']) == len(plan['neighbors']) == len(members) - 1


@SETTINGS
@given(data=st.data(), cluster=clusters(max_hosts=64))
def test_vtep_macs_are_unique_and_stable(data, cluster):
    members, facts = cluster
    nodes = _plan.validate_cluster(members)
    macs = [n['vtep_mac'] for n in nodes]
    assert len(set(macs)) == len(macs)
    shuffled = data.draw(st.permutations(members))
    again = dict((n['name'], n['vtep_mac']) for n in _plan.validate_cluster(shuffled))
    assert again == dict((n['name'], n['vtep_mac']) for n in nodes)
    for host in sample(data.draw, members, 2):
        plan = _plan.host_plan(shuffled, host, {'mode': 'vxlan'}, facts)
        assert plan['vxlan']['mac'] == again[host]
        assert sorted(e['mac'] for e in plan['fdb']) == sorted(mac for name, mac in again.items() if name != host)


BAD_VALUES = st.one_of(
    st.text(max_size=20), st.integers(), st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
    st.sampled_from(['10.57.0.1', '172.16.0.0/24', '300.1.1.1', '10.57.0.0/16', '172.16.0.5/24', '::1', '0.0.0.0/0']),
)


@SETTINGS
@given(data=st.data(), cluster=clusters(max_hosts=32), var=st.sampled_from(['podnet_node_ip', 'podnet_pod_cidr']),
       value=BAD_VALUES)
def test_a_bad_value_is_refused_with_a_message_never_a_traceback(data, cluster, var, value):
    members, facts = cluster
    victim = data.draw(st.sampled_from([m[0] for m in members]))
    members = [(name, dict(hv, **{var: value}) if name == victim else hv) for name, hv in members]
    try:
        _plan.host_plan(members, members[0][0], {'mode': 'vxlan'}, facts)
    except _plan.PlanError as exc:
        assert str(exc).split(':', maxsplit=1)[0] in dict(members), str(exc)


def pairwise_problems(members):
    """The conflicts between hosts, by brute force (every pair): what validate_cluster finds by sorting."""
    nets = [(h, ipaddress.ip_network(v['podnet_pod_cidr']), ipaddress.ip_address(v['podnet_node_ip'])) for h, v in members]
    found = set()
    for i, (a, a_net, a_ip) in enumerate(nets):
        for b, b_net, b_ip in nets[i + 1:]:
            if a_ip == b_ip:
                found.add(('podnet_node_ip', b))
            if a_net.overlaps(b_net):
                found.add(('podnet_pod_cidr', b))
        for b, _b_net, b_ip in nets:
            if b_ip in a_net:
                found.add(('podnet_pod_cidr', a))
    return found


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data())
def test_the_sorted_cluster_check_finds_exactly_the_pairwise_conflicts(data):
    """Small address spaces so that duplicates, overlaps and node IPs inside pod ranges happen often: the cluster
    is refused exactly when some pair conflicts, and the message names a host and variable of such a conflict."""
    count = data.draw(st.integers(2, 12))
    members = []
    for i in range(count):
        prefix = data.draw(st.integers(24, 28))
        start = data.draw(st.integers(0, 64)) * 16
        net = ipaddress.ip_network('10.1.%d.%d/%d' % (start // 256, start % 256, prefix), strict=False)
        ip = ipaddress.ip_address('10.1.0.0') + data.draw(st.integers(0, 1100))
        if ip in net:  # refused by the host's own check (normalise_node), not the cluster's
            ip = ipaddress.ip_address('10.2.0.0') + data.draw(st.integers(0, 3))
        members.append(('h%02d' % i, {'podnet_node_ip': str(ip), 'podnet_pod_cidr': str(net)}))
    problems = pairwise_problems(members)
    try:
        _plan.validate_cluster(members)
    except _plan.PlanError as exc:
        host, rest = str(exc).split(': ', maxsplit=1)
        var = rest.split(' ', maxsplit=1)[0]
        assert (var, host) in problems, (str(exc), problems)
    else:
        assert not problems, problems


@SETTINGS
@given(data=st.data(), cluster=clusters(min_hosts=1, max_hosts=64), mode=st.sampled_from(MODES))
def test_prefixes_computed_once_give_every_host_the_same_plan(data, cluster, mode):
    """cluster_prefixes(), computed once on the controller, equals what each host's plan computes itself."""
    members, facts = cluster
    nodes = _plan.validate_cluster(members)
    prefixes = _plan.cluster_prefixes(nodes)
    for host in sample(data.draw, members):
        alone = _plan.host_plan(members, host, {'mode': mode}, facts)
        assert _plan.host_plan(members, host, {'mode': mode}, facts, validated=True, prefixes=prefixes) == alone
