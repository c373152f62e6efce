# -*- coding: utf-8 -*-
"""The steps that converge a plan in one execution: order, arguments, and validation of every step."""

from __future__ import annotations

from ansible_collections.openkube.podnet.plugins.module_utils import _converge, _plan

MEMBERS = [
    ('worker2', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24'}),
    ('worker3', {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.11.0/24'}),
]
FACTS = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'underlay_network': '10.57.4.0/24', 'onlink': {'10.57.4.21': True}}


def plan_for(mode, state='present'):
    return _plan.host_plan(MEMBERS, 'worker2', {'mode': mode, 'state': state}, FACTS)


def modules(steps):
    return [step[0] for step in steps]


def test_vxlan_order_is_device_neighbour_fdb_route():
    steps = [step[:2] for step in _converge.steps(plan_for('vxlan'))]
    assert modules(steps) == ['netns', 'veth', 'address', 'address', 'route',
                              'vxlan', 'address', 'neighbor', 'fdb', 'route', 'ipset', 'firewall', 'ipset', 'ipip', 'vxlan',
                              'sysctl', 'record', 'repair']
    # last, once everything is in place: the record of what is deployed, then the units that apply it again
    assert steps.pop() == ('repair', {'state_dir': '/var/lib/podnet', 'unit_dir': '/etc/systemd/system',
                                      'record': '/var/lib/podnet/applied.json', 'interval': 60})
    assert steps.pop() == ('record', {'path': '/var/lib/podnet/applied.json', 'plan': plan_for('vxlan')})
    assert steps[-3:-1] == [('ipip', {'name': 'podnet.ipip', 'state': 'absent'}),
                            ('vxlan', {'name': 'podnet.vxlan6', 'state': 'absent'})]
    assert steps[-7][1]['purge'] is True and len(steps[-7][1]['routes']) == 2
    # forwarding, and rp_filter of the tunnel device once it exists, last: with purge, so the values
    # another mode changed (the ipip device is gone by then) go back to what they were
    assert steps[-1] == ('sysctl', {'settings': {'net.ipv4.ip_forward': '1',
                                                 'net/ipv4/conf/podnet.vxlan/rp_filter': '2',
                                                 'net/ipv4/conf/eth0/rp_filter': '2'}, 'purge': True,
                                    'removed_devices': ['podnet.ipip', 'podnet.vxlan6']})
    assert [c['name'] for c in steps[-5][1]['chains']] == ['PODNET-FORWARD', 'PODNET-INPUT', 'PODNET-POSTROUTING']
    # the set PODNET-INPUT matches exists before the chain, and the collection's other set (podnet-peers6, of vxlan
    # over the IPv6 underlay) goes after it, once no chain can use it
    sets = [dict(name='podnet-peers', family=4, members=['10.57.4.20/31'])]
    assert steps[-6] == ('ipset', {'sets': sets})
    assert steps[-4] == ('ipset', {'sets': [{'name': 'podnet-peers6'}], 'state': 'absent'})


def test_sets_removed_only_after_the_chains_that_use_them():
    """Every way a set stops being wanted (another mode, the filter off, state absent) destroys it only after the
    firewall step that takes the rule using it away: the kernel refuses to destroy a set in use."""
    for plan in (plan_for('host-gw'), plan_for('vxlan', state='absent'),
                 _plan.host_plan(MEMBERS, 'worker2', {'mode': 'vxlan', 'encap_filter': False}, FACTS)):
        steps = _converge.steps(plan)
        assert plan['ipsets'] == [] and plan['absent_ipsets'] == ['podnet-peers', 'podnet-peers6']
        sets = [i for i, step in enumerate(steps) if step[0] == 'ipset']
        firewall = [i for i, step in enumerate(steps) if step[0] == 'firewall']
        assert len(sets) == 1 and steps[sets[0]][1] == {
            'sets': [{'name': 'podnet-peers'}, {'name': 'podnet-peers6'}], 'state': 'absent'}, steps
        assert firewall and firewall[-1] < sets[0], steps
    # a plan recorded before the sets (no keys ipsets, absent_ipsets) is applied without a set step (the repair runner)
    old = dict(plan_for('vxlan'))
    del old['ipsets'], old['absent_ipsets']
    assert 'ipset' not in modules(_converge.steps(old))


def test_host_gw_restores_what_a_tunnel_mode_changed():
    steps = [step[:2] for step in _converge.steps(plan_for('host-gw'), parts=['pods', 'mode', 'cleanup'])]
    assert steps[-1] == ('sysctl', {'settings': {'net.ipv4.ip_forward': '1'}, 'purge': True,
                                    'removed_devices': ['podnet.ipip', 'podnet.vxlan', 'podnet.vxlan6']})


def test_host_gw_removes_both_tunnels():
    steps = [step[:2] for step in _converge.steps(plan_for('host-gw'), parts=['cleanup'])]
    assert steps[:3] == [('ipip', {'name': 'podnet.ipip', 'state': 'absent'}),
                         ('vxlan', {'name': 'podnet.vxlan', 'state': 'absent'}),
                         ('vxlan', {'name': 'podnet.vxlan6', 'state': 'absent'})]


def test_absent_removes_owned_routes_pods_and_devices():
    steps = _converge.steps(plan_for('ipip', state='absent'))
    # first the boot and repair units go, so that nothing applies the plan again while it is removed
    assert steps.pop(0)[:2] == ('repair', {'state': 'absent', 'state_dir': '/var/lib/podnet', 'unit_dir': '/etc/systemd/system'})
    assert modules(steps) == ['ipip', 'vxlan', 'vxlan', 'firewall', 'ipset', 'route', 'veth', 'netns', 'sysctl', 'record']
    assert steps[9][1] == {'path': '/var/lib/podnet/applied.json', 'state': 'absent'}
    assert steps[3][1] == {'chains': [], 'purge': True, 'iptables': 'iptables'}
    assert steps[4][1] == {'sets': [{'name': 'podnet-peers'}, {'name': 'podnet-peers6'}], 'state': 'absent'}
    assert steps[5][1] == {'routes': [], 'purge': True}
    # everything the collection changed goes back; the tunnels' settings go with the tunnels
    assert steps[8][1] == {'settings': {}, 'purge': True, 'removed_devices': ['podnet.ipip', 'podnet.vxlan', 'podnet.vxlan6']}


def test_every_step_has_valid_module_arguments():
    for mode in ('host-gw', 'ipip', 'vxlan', 'crosssubnet'):
        for module, args, _role in _converge.steps(plan_for(mode)):
            utils, _cls = _converge.RESOURCES[module]
            utils.wanted_from_params(_converge.with_defaults(utils.ARGSPEC, args))


def test_with_defaults_fills_suboptions_and_rejects_unknown():
    params = _converge.with_defaults(_converge._route.ARGSPEC, {'routes': [{'dst': 'default', 'via': '10.0.0.1'}]})
    assert params['routes'][0]['metric'] == 0 and params['purge'] is False and params['netns'] is None
    try:
        _converge.with_defaults(_converge._route.ARGSPEC, {'rutes': []})
    except ValueError as exc:
        assert 'rutes' in str(exc)
    else:
        raise AssertionError('unknown option accepted')


def test_record_alone_and_in_the_state_dir():
    plan = _plan.host_plan(MEMBERS, 'worker2', {'mode': 'vxlan', 'state_dir': '/srv/podnet/'}, FACTS)
    assert _converge.steps(plan, parts=['record']) == [('record', {'path': '/srv/podnet/applied.json', 'plan': plan}, 'podnet')]
    assert 'record' not in modules(_converge.steps(plan, parts=['pods', 'mode', 'cleanup']))


def test_repair_off_removes_the_units_first():
    plan = _plan.host_plan(MEMBERS, 'worker2', {'mode': 'vxlan', 'repair': False}, FACTS)
    steps = _converge.steps(plan)
    assert steps[0] == ('repair', {'state': 'absent', 'state_dir': '/var/lib/podnet', 'unit_dir': '/etc/systemd/system'},
                        'podnet')
    assert modules(steps).count('repair') == 1


def test_pods_alone_route_to_the_pods_and_forward():
    plan = plan_for('vxlan')
    steps = _converge.steps(plan, parts=['pods'])
    assert modules(steps) == ['netns', 'veth', 'address', 'address', 'route', 'route', 'sysctl']
    assert steps[5].args == {'routes': [r for r in plan['routes'] if r['dev'] == 'veth-ns1']}
    # forwarding without purge: the mode's own settings (rp_filter of its devices) are left alone
    assert steps[6].args == {'settings': {'net.ipv4.ip_forward': '1'}}


def test_each_role_takes_one_contiguous_slice_in_the_roles_order():
    """The roles path runs pod, then the mode's role, then podnet's cleanup and record: each role's
    steps must be one run of the list, in that order, for the two paths to make the same calls."""
    for mode in ('host-gw', 'ipip', 'vxlan', 'crosssubnet'):
        for state in ('present', 'absent'):
            plan = plan_for(mode, state)
            roles = [step.role for step in _converge.steps(plan)]
            runs = [role for i, role in enumerate(roles) if i == 0 or roles[i - 1] != role]
            expected = ['pod', plan['apply_role'], 'podnet'] if state == 'present' else ['podnet']
            assert runs == expected, (mode, state, roles)


def test_own_pods_no_longer_wanted_go_in_cleanup():
    p = _plan.host_plan(MEMBERS, 'worker2', dict(mode='vxlan', pods=[]),
                        dict(FACTS, recorded_pods=[{'name': 'ns1', 'host_dev': 'veth-ns1'}]))
    calls = [(s.module, s.args, s.role) for s in _converge.steps(p)]
    assert ('veth', {'name': 'veth-ns1', 'state': 'absent'}, 'podnet') in calls
    assert ('netns', {'name': 'ns1', 'state': 'absent'}, 'podnet') in calls
    assert not [c for c in calls if c[2] == 'pod']
    # the pods on their own: only forwarding (and an empty list of host routes to pods)
    assert [c[0] for c in _converge.steps(p, ['pods'])] == ['route', 'sysctl']


def test_bridge_layout_steps_bridge_first_cni_last_of_the_pods():
    facts = dict(FACTS, cni_plugins={'bridge': '/usr/lib/cni/bridge', 'host-local': '/usr/lib/cni/host-local',
                                     'portmap': '/usr/lib/cni/portmap'})
    p = _plan.host_plan(MEMBERS, 'worker2', dict(mode='vxlan', attach='bridge', cni=True), facts)
    calls = [(s.module, s.args, s.role) for s in _converge.steps(p)]
    pods = [c for c in calls if c[2] == 'pod']
    assert [c[0] for c in pods] == ['bridge', 'address', 'netns', 'veth', 'address', 'address', 'route', 'cni_config']
    assert pods[0][1] == {'name': 'cni0', 'mtu': 1450, 'mac': p['bridge']['mac']} and pods[1][1]['addresses'] == ['192.168.10.1/24']
    assert pods[3][1]['master'] == 'cni0' and pods[4][1] == {'dev': 'veth-ns1', 'addresses': [], 'purge': True}
    assert pods[6][1]['routes'] == [{'dst': 'default', 'via': '192.168.10.1', 'dev': 'eth0'}]
    gone = _plan.host_plan(MEMBERS, 'worker2', dict(mode='vxlan', state='absent', attach='bridge', cni=True), facts)
    removal = [(s.module, s.args) for s in _converge.steps(gone) if s.module in ('cni_config', 'bridge')]
    assert removal == [('cni_config', {'path': '/etc/cni/net.d/10-podnet.conflist', 'state': 'absent'}),
                       ('bridge', {'name': 'cni0', 'state': 'absent'})]


def test_dual_stack_steps_give_both_families():
    members = [(h, dict(v, podnet_pod_cidr6='fd00:10:244:%d::/64' % (10 + i))) for i, (h, v) in enumerate(MEMBERS)]
    p = _plan.host_plan(members, 'worker2', dict(mode='vxlan'), FACTS)
    calls = [(s.module, s.args) for s in _converge.steps(p)]
    addresses = [a for m, a in calls if m == 'address']
    assert addresses[0] == {'dev': 'veth-ns1', 'addresses': ['192.168.10.1/32', 'fd00:10:244:10::1/128'], 'purge': True,
                            'nodad': True}
    assert addresses[1]['addresses'] == ['192.168.10.10/32', 'fd00:10:244:10::a/128']
    assert addresses[2] == {'dev': 'podnet.vxlan', 'addresses': ['192.168.10.0/32', 'fd00:10:244:10::/128'], 'purge': True,
                            'nodad': True}
    pod_routes = [a for m, a in calls if m == 'route' and a.get('netns') == 'ns1'][0]['routes']
    assert pod_routes == [{'dst': 'default', 'via': '192.168.10.1', 'dev': 'eth0', 'onlink': True},
                          {'dst': '::/0', 'via': 'fd00:10:244:10::1', 'dev': 'eth0', 'onlink': True}]


def test_nftables_filter_before_the_chain_goes_and_its_removal_after_the_chain_comes():
    """A switch between the nftables table and PODNET-INPUT never leaves the encapsulation unfiltered: the table is
    written before the firewall step (which then drops PODNET-INPUT), and removed after it (which then adds it)."""
    nft = dict(FACTS, nftables=dict(found=True, missing=''))
    steps = modules(_converge.steps(_plan.host_plan(MEMBERS, 'worker2', {'mode': 'vxlan'}, nft)))
    assert steps.index('nftables') < steps.index('firewall') and steps.count('nftables') == 1
    back = _plan.host_plan(MEMBERS, 'worker2', {'mode': 'vxlan', 'encap_filter_backend': 'iptables'}, nft)
    steps = _converge.steps(back)
    names = modules(steps)
    assert names.index('firewall') < names.index('nftables') and names.count('nftables') == 1
    assert steps[names.index('nftables')][1] == {'tables': [], 'purge': True}
    # state absent removes the tables with the chains; without nft on the host (None) no step runs nft
    assert 'nftables' in modules(_converge.steps(_plan.host_plan(MEMBERS, 'worker2', {'mode': 'vxlan', 'state': 'absent'}, nft)))
    assert 'nftables' not in modules(_converge.steps(plan_for('vxlan')))
    assert 'nftables' not in modules(_converge.steps(plan_for('vxlan', state='absent')))
