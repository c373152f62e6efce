# -*- coding: utf-8 -*-
"""The table of encapsulations (_encap.py) and what the plan, the converge and verify take from it:
for every mode, the plan's overhead, device, per-peer entries, firewall match, role and cleanup are
the table's, so that a new encapsulation is one entry plus its tests."""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.filter.verify import expected_encap
from ansible_collections.openkube.podnet.plugins.module_utils import _converge, _encap, _plan

MEMBERS = [
    ('worker2', {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24'}),
    ('worker3', {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.11.0/24'}),
    ('worker4', {'podnet_node_ip': '10.57.5.20', 'podnet_pod_cidr': '192.168.12.0/24'}),
]
ONLINK = {'10.57.4.21': True, '10.57.5.20': True}
FACTS = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'underlay_network': '10.57.4.0/24', 'onlink': ONLINK}


def plan_for(mode, **settings):
    return _plan.host_plan(MEMBERS, 'worker2', dict(settings, mode=mode), FACTS)


def test_every_mode_has_an_encapsulation_and_every_device_a_module():
    assert set(_encap.MODES) == {'host-gw', 'ipip', 'vxlan', 'crosssubnet'}
    for encap in _encap.ENCAPS.values():
        assert (encap.device is None) == (encap.device_setting is None) == (encap.device_module is None), encap.name
        assert encap.device_module is None or encap.device_module in _converge.RESOURCES, encap.name
        assert encap.role in ('host_gw', 'ipip', 'vxlan'), encap.name  # roles/<role>
    assert _encap.CROSSSUBNET_ENCAPS == ('ipip', 'vxlan')


@pytest.mark.parametrize('mode, encap', [('host-gw', 'none'), ('ipip', 'ipip'), ('vxlan', 'vxlan'),
                                         ('crosssubnet', 'vxlan')])
def test_the_plan_takes_its_encapsulation_from_the_table(mode, encap):
    table = _encap.ENCAPS[encap]
    plan = plan_for(mode)
    assert (plan['encap'], plan['apply_role'], plan['mtu']) == (encap, table.role, 1500 - table.overhead)
    for name in _encap.DEVICE_ENCAPS:
        wanted = name == encap
        assert bool(plan[name]) == wanted, name
        assert plan['absent_devices'][name] == ([] if wanted else [_plan.DEFAULTS[name + '_dev']])
    chains = dict((c['name'], c['rules']) for c in plan['firewall']['chains'])
    if table.firewall_match:
        assert chains[_plan.INPUT_CHAIN][-1] == '%s -j DROP' % table.firewall_match(dict(vxlan_port=8472))
    else:
        assert _plan.INPUT_CHAIN not in chains
    tunnelled = [p for p in plan['peers'] if p['encap'] != 'none']
    assert len(plan['neighbors']) == (len(tunnelled) if table.neighbor else 0)
    assert len(plan['fdb']) == (len(tunnelled) if table.fdb else 0)
    for peer in plan['peers']:
        assert expected_encap(plan, peer['name']) == peer['encap']


def test_crosssubnet_tunnels_only_off_the_own_prefix():
    plan = plan_for('crosssubnet', crosssubnet_encap='ipip')
    assert dict((p['name'], p['encap']) for p in plan['peers']) == {'worker3': 'none', 'worker4': 'ipip'}
    assert plan['apply_role'] == 'ipip' and plan['mtu'] == 1480


def test_absent_removes_every_device_of_every_encapsulation():
    plan = plan_for('vxlan', state='absent')
    assert plan['absent_devices'] == {'ipip': ['podnet.ipip'], 'vxlan': ['podnet.vxlan'], 'vxlan6': ['podnet.vxlan6']}
    assert all(plan[name] is None for name in _encap.DEVICE_ENCAPS)
    removed = [args['name'] for module, args, _role in _converge.steps(plan) if args.get('state') == 'absent'
               and module in ('ipip', 'vxlan')]
    assert removed == ['podnet.ipip', 'podnet.vxlan', 'podnet.vxlan6']
