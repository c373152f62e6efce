# -*- coding: utf-8 -*-
"""Bad input, one case per row, refused by the plan with a message naming the host, the variable and the value.

The same cases ran end to end once (tests/integration/lifecycle/test_bad_input.py, each a whole site.yml
against a lab); that file keeps the cases that need Ansible or a host (argument spec types, facts read on the
host, devices in the way) and a few plan cases that prove a refused run changes nothing on any host.
"""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _plan

NODES = {'worker2': {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24'},
         'worker3': {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.11.0/24'}}
FACTS = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'onlink': {'10.57.4.21': True, '10.57.4.20': True}}
DELETE = object()
#: both hosts with an IPv6 pod range, worker3 without an IPv6 node address
DUAL_STACK = dict(worker2=dict(podnet_pod_cidr6='fd00:10:244:10::/64', podnet_node_ip6='fd57:4::20'),
                  worker3=dict(podnet_pod_cidr6='fd00:10:244:11::/64'))


def case(cid, expect, settings=None, hostvars=None):
    return pytest.param(settings or {}, hostvars or {}, expect, id=cid)


CASES = [
    case('mode-unknown', ('worker2', 'podnet_mode', 'bogus'), dict(mode='bogus')),
    case('state-unknown', ('worker2', 'podnet_state', 'gone'), dict(state='gone')),
    case('pod-cidr-invalid', ('worker3', 'podnet_pod_cidr', '192.168.300.0/24'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='192.168.300.0/24'))),
    case('pod-cidr-host-bits', ('worker3', 'podnet_pod_cidr', '192.168.11.5/24'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='192.168.11.5/24'))),
    case('pod-cidr-no-prefix', ('worker3', 'podnet_pod_cidr', '192.168.11.0'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='192.168.11.0'))),
    case('pod-cidr-too-small', ('worker3', 'podnet_pod_cidr', '192.168.11.0/29'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='192.168.11.0/29'))),
    case('pod-cidr-ipv6', ('worker3', 'podnet_pod_cidr', 'fd00:11::/64'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='fd00:11::/64'))),
    case('pod-cidrs-overlap', ('worker3', 'podnet_pod_cidr', '192.168.10.128/25'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='192.168.10.128/25'))),
    case('node-ip-in-own-pod-range', ('worker3', 'podnet_pod_cidr', '10.57.4.0/24'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='10.57.4.0/24'))),
    case('node-ip-in-peer-pod-range', ('worker2', 'podnet_pod_cidr', '192.168.10.50'),
         hostvars=dict(worker3=dict(podnet_node_ip='192.168.10.50'))),
    case('node-ip-duplicate', ('worker3', 'podnet_node_ip', '10.57.4.20'),
         hostvars=dict(worker3=dict(podnet_node_ip='10.57.4.20'))),
    case('node-ip-invalid', ('worker3', 'podnet_node_ip', '10.57.4.300'),
         hostvars=dict(worker3=dict(podnet_node_ip='10.57.4.300'))),
    case('node-ip-ipv6', ('worker3', 'podnet_node_ip', 'fd00::21'), hostvars=dict(worker3=dict(podnet_node_ip='fd00::21'))),
    case('node-ip-wrong-type-list', ('worker3', 'podnet_node_ip', '10.57.4.21'),
         hostvars=dict(worker3=dict(podnet_node_ip=['10.57.4.21']))),
    case('node-ip-missing', ('worker3', 'podnet_node_ip', ''), hostvars=dict(worker3=dict(podnet_node_ip=DELETE))),
    case('pod-cidr-missing', ('worker3', 'podnet_pod_cidr', ''), hostvars=dict(worker3=dict(podnet_pod_cidr=DELETE))),
    case('mac-invalid', ('worker3', 'podnet_vxlan_mac', 'zz:zz:zz:zz:zz:zz'),
         hostvars=dict(worker3=dict(podnet_vxlan_mac='zz:zz:zz:zz:zz:zz'))),
    case('mac-multicast', ('worker3', 'podnet_vxlan_mac', '01:00:5e:00:00:01'),
         hostvars=dict(worker3=dict(podnet_vxlan_mac='01:00:5e:00:00:01'))),
    case('mac-duplicate', ('worker3', 'podnet_vxlan_mac', '0e:00:00:00:00:01'),
         hostvars=dict(worker2=dict(podnet_vxlan_mac='0e:00:00:00:00:01'), worker3=dict(podnet_vxlan_mac='0e:00:00:00:00:01'))),
    case('vxlan-dev-over-15-bytes', ('worker2', 'podnet_vxlan_dev', 'podnet.vxlan.long'), dict(vxlan_dev='podnet.vxlan.long')),
    case('ipip-dev-over-15-bytes', ('worker2', 'podnet_ipip_dev', 'podnet.ipip.toolong'), dict(ipip_dev='podnet.ipip.toolong')),
    case('vxlan-dev-equals-ipip-dev', ('worker2', 'podnet_vxlan_dev', 'podnet.tun'),
         dict(vxlan_dev='podnet.tun', ipip_dev='podnet.tun')),
    case('pod-host-dev-over-15-bytes', ('worker2', 'podnet_pods[0].host_dev', 'veth-0123456789ab'),
         dict(pods=[dict(name='ns1', host_dev='veth-0123456789ab')])),
    case('pod-name-with-slash', ('worker2', 'podnet_pods[0].name', 'a/b'), dict(pods=[dict(name='a/b')])),
    case('pods-wrong-type-string', ('worker2', 'podnet_pods', 'ns1'), dict(pods='ns1')),
    case('pods-duplicate-name', ('worker2', 'podnet_pods[1].name', 'ns1'), dict(pods=[dict(name='ns1'), dict(name='ns1')])),
    case('pod-ip-outside-range', ('worker2', 'podnet_pods[0].ip', '10.0.0.5'), dict(pods=[dict(name='ns1', ip='10.0.0.5')])),
    case('pod-ip-is-gateway', ('worker2', 'podnet_pods[0].ip', '192.168.10.1'), dict(pods=[dict(name='ns1', ip='192.168.10.1')])),
    case('vni-zero', ('worker2', 'podnet_vxlan_vni', '0'), dict(vxlan_vni='0')),
    case('vni-too-large', ('worker2', 'podnet_vxlan_vni', '16777216'), dict(vxlan_vni='16777216')),
    case('vni-not-a-number', ('worker2', 'podnet_vxlan_vni', 'abc'), dict(vxlan_vni='abc')),
    case('port-zero', ('worker2', 'podnet_vxlan_port', '0'), dict(vxlan_port='0')),
    case('port-too-large', ('worker2', 'podnet_vxlan_port', '70000'), dict(vxlan_port='70000')),
    case('mtu-not-a-number', ('worker2', 'podnet_mtu', 'abc'), dict(mtu='abc')),
    case('mtu-too-small', ('worker2', 'podnet_mtu', '500'), dict(mtu='500')),
    case('mtu-too-large-for-vxlan', ('worker2', 'podnet_mtu', '1480'), dict(mtu='1480')),
    case('state-dir-relative', ('worker2', 'podnet_state_dir', 'var/lib/podnet'), dict(state_dir='var/lib/podnet')),
    case('state-dir-dotdot', ('worker2', 'podnet_state_dir', '/var/../tmp'), dict(state_dir='/var/../tmp')),
    case('repair-not-a-boolean', ('worker2', 'podnet_repair', 'sometimes'), dict(repair='sometimes')),
    case('repair-interval-too-short', ('worker2', 'podnet_repair_interval', '1'), dict(repair_interval='1')),
    case('repair-interval-not-a-number', ('worker2', 'podnet_repair_interval', '1m'), dict(repair_interval='1m')),
    case('repair-unit-dir-relative', ('worker2', 'podnet_repair_unit_dir', 'etc/systemd'), dict(repair_unit_dir='etc/systemd')),
    case('node-ip6-missing-for-vxlan-over-ipv6', ('worker3', 'podnet_node_ip6', 'fd00:10:244:11::/64'),
         dict(vxlan_underlay='ipv6'), hostvars=DUAL_STACK),
    case('filter-backend-unknown', ('worker2', 'podnet_encap_filter_backend', 'ebpf'), dict(encap_filter_backend='ebpf')),
    case('filter-backend-bpf-over-the-ipv6-underlay', ('worker2', 'podnet_encap_filter_backend', 'bpf'),
         dict(vxlan_underlay='ipv6', encap_filter_backend='bpf'),
         hostvars=dict(DUAL_STACK, worker3=dict(DUAL_STACK['worker3'], podnet_node_ip6='fd57:4::21'))),
    case('node-ip6-missing-for-host-gw', ('worker3', 'podnet_node_ip6', 'fd00:10:244:11::/64'),
         dict(mode='host-gw'), hostvars=DUAL_STACK),
]


def members(hostvars):
    out = []
    for host, base in NODES.items():
        hv = dict(base)
        for var, value in hostvars.get(host, {}).items():
            if value is DELETE:
                hv.pop(var)
            else:
                hv[var] = value
        out.append((host, hv))
    return out


@pytest.mark.parametrize('settings,hostvars,expect', CASES)
def test_bad_input_is_refused_naming_host_variable_and_value(settings, hostvars, expect):
    host, var, value = expect
    planned = 'worker2' if host == 'worker2' else 'worker3'
    with pytest.raises(_plan.PlanError) as err:
        _plan.host_plan(members(hostvars), planned, dict(dict(mode='vxlan'), **settings), FACTS)
    message = str(err.value)
    assert message.startswith(host + ': ') and var in message and value in message, message


#: the rows whose refusal needs what is read on the host (the underlay's MTU): the only ones the controller cannot
#: refuse before any host is changed on the one-execution path (podnet_two_phase false)
NEEDS_THE_HOST = ('mtu-too-large-for-vxlan',)


@pytest.mark.parametrize('settings,hostvars,expect', CASES)
def test_the_controller_refuses_what_the_inventory_says_before_reading_the_host(settings, hostvars, expect, request):
    """check_host (the filter host_check, run for every host before any host is changed) refuses every row with the
    message host_plan gives, except the rows that need the host's facts."""
    host = expect[0]
    planned = 'worker2' if host == 'worker2' else 'worker3'
    with pytest.raises(_plan.PlanError) as planned_err:
        _plan.host_plan(members(hostvars), planned, dict(dict(mode='vxlan'), **settings), FACTS)
    if request.node.callspec.id in NEEDS_THE_HOST:
        _plan.check_host(members(hostvars), planned, dict(dict(mode='vxlan'), **settings))
        return
    with pytest.raises(_plan.PlanError) as checked_err:
        _plan.check_host(members(hostvars), planned, dict(dict(mode='vxlan'), **settings))
    assert str(checked_err.value) == str(planned_err.value)


@pytest.mark.parametrize('role,expect', [
    (dict(apply='both'), ('podnet_apply', 'both')),
    (dict(two_phase='maybe'), ('podnet_two_phase', 'maybe')),
    (dict(install_pyroute2='sometimes'), ('podnet_install_pyroute2', 'sometimes')),
    (dict(install_pyroute2=[True]), ('podnet_install_pyroute2', 'True')),
    (dict(cluster_group=''), ('podnet_cluster_group', "''")),
    (dict(cluster_group=['podnet_nodes']), ('podnet_cluster_group', 'podnet_nodes')),
    (dict(pyroute2_package=7), ('podnet_pyroute2_package', '7')),
    (dict(pyroute2_pip_args=None), ('podnet_pyroute2_pip_args', 'None')),
])
def test_the_role_variables_beside_the_settings_are_refused_naming_host_variable_and_value(role, expect):
    """_plan.check_role_args: what Ansible's check of the role's argument specification refused before site.yml
    ran the role without it (host_check's role)."""
    with pytest.raises(_plan.PlanError) as err:
        _plan.check_role_args('worker3', role)
    message = str(err.value)
    assert message.startswith('worker3: %s ' % expect[0]) and expect[1] in message, message


def test_booleans_read_as_ansible_reads_them():
    on = ['yes', 'on', 'True', 'TRUE', 't', 'y', '1', 1, True]
    off = ['no', 'off', 'false', 'f', 'n', '0', 0, False]
    assert [_plan.boolean('w', 'v', x) for x in on] == [True] * len(on)
    assert [_plan.boolean('w', 'v', x) for x in off] == [False] * len(off)
    checked = _plan.check_role_args('w', dict(two_phase='yes', install_pyroute2='off', apply='roles', cluster_group='g'))
    assert checked == dict(two_phase=True, install_pyroute2=False, apply='roles', cluster_group='g')
    settings = _plan.normalise_settings('w', dict(repair='on', cni='no', masquerade=0))
    assert (settings['repair'], settings['cni'], settings['masquerade']) == (True, False, False)
    for bad in ('sometimes', 2, '', None, [True]):
        with pytest.raises(_plan.PlanError):
            _plan.boolean('w', 'v', bad)
