# -*- coding: utf-8 -*-
"""The action openkube.podnet.converge: a plan passed on as it is, or the cluster read from the variable it names
and handed to the one execution of the module (read, plan and converge on the host); and the filter host_check
that the entry role runs for every host before any host is changed."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openkube.podnet.plugins.action import converge as action
from ansible_collections.openkube.podnet.plugins.filter.plan import cluster_check, host_check
from ansible_collections.openkube.podnet.plugins.module_utils import _plan

HOSTVARS = {
    'worker2': {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24'},
    'worker3': {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.11.0/24'},
}
CLUSTER = cluster_check(['worker2', 'worker3'], HOSTVARS, prefixes=True)


def make(args, result=None, host='worker2', **task_vars):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    connection = MagicMock()
    connection._shell.tmpdir = None
    mod = action.ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    calls = []

    def execute(module_args, task_vars, wrap_async):
        calls.append(module_args)
        return dict(result or {'changed': False, 'actions': [], 'invocation': {'module_args': dict(module_args)}})
    mod._execute_module = execute
    mod._remove_tmp_path = lambda path: None
    return mod, calls, dict(task_vars, inventory_hostname=host)


def test_a_plan_goes_to_the_module_as_it_is():
    mod, calls, task_vars = make(dict(plan={'state': 'present'}, parts=['record']))
    mod.run(task_vars=task_vars)
    assert calls == [dict(plan={'state': 'present'}, parts=['record'])]


def test_the_cluster_is_read_from_the_variable_it_names():
    mod, calls, task_vars = make(dict(cluster='__podnet_cluster', settings={'mode': 'vxlan'}), __podnet_cluster=CLUSTER)
    result = mod.run(task_vars=task_vars)
    assert calls == [dict(nodes=CLUSTER['nodes'], prefixes=CLUSTER['prefixes'], host='worker2', settings={'mode': 'vxlan'})]
    # the result does not carry the cluster once per host
    assert result['invocation']['module_args'] == dict(cluster='__podnet_cluster', host='worker2', settings={'mode': 'vxlan'})


@pytest.mark.parametrize('args,vars_,expected', [
    (dict(cluster='missing', settings={}), {}, "worker2: cluster: there is no variable 'missing'"),
    (dict(cluster='names', settings={}), dict(names=['worker2']), 'worker2: cluster: names is not the output'),
])
def test_a_cluster_that_is_not_there_fails_before_any_remote_execution(args, vars_, expected):
    mod, calls, task_vars = make(args, **vars_)
    result = mod.run(task_vars=task_vars)
    assert result['failed'] and calls == [] and result['msg'].startswith(expected), result


def test_a_module_failure_names_the_host_once():
    missing = 'Failed to import the required Python library (pyroute2) on worker2'
    mod, _calls, task_vars = make(dict(cluster=CLUSTER, settings={}), result=dict(failed=True, msg=missing))
    assert mod.run(task_vars=task_vars)['msg'] == 'worker2: ' + missing
    planned = "worker2: podnet_mode 'host-gw' cannot reach worker3"
    mod, _calls, task_vars = make(dict(cluster=CLUSTER, settings={}), result=dict(failed=True, msg=planned))
    assert mod.run(task_vars=task_vars)['msg'] == planned


def test_host_check_normalises_and_refuses_naming_host_variable_and_value():
    assert host_check({'mode': 'host-gw', 'mtu': 0}, 'worker2', CLUSTER) == _plan.normalise_settings('worker2', {'mode': 'host-gw'})
    with pytest.raises(AnsibleFilterError, match=r"worker3: podnet_pods\[0\].ip '192.168.10.10' is not a usable pod"):
        host_check({'pods': [{'name': 'ns1', 'ip': '192.168.10.10'}]}, 'worker3', CLUSTER)
    with pytest.raises(AnsibleFilterError, match='worker4: is not in the cluster group'):
        host_check({}, 'worker4', CLUSTER['nodes'])
    with pytest.raises(AnsibleFilterError, match='worker4: is not in the cluster group'):
        host_check({}, 'worker4', CLUSTER)


def test_host_check_names_the_peer_without_an_ipv6_node_address():
    """Checking worker2 reads worker3's node only because cluster_check lists it without podnet_node_ip6."""
    dual = dict((host, dict(hv, podnet_pod_cidr6='fd00:10:244:%d::/64' % (10 + i)))
                for i, (host, hv) in enumerate(sorted(HOSTVARS.items())))
    dual['worker2']['podnet_node_ip6'] = 'fd57:4::20'
    cluster = cluster_check(['worker2', 'worker3'], dual, prefixes=True)
    assert cluster['index'] == {'worker2': 0, 'worker3': 1} and cluster['without_ip6'] == ['worker3']
    with pytest.raises(AnsibleFilterError, match="^worker3: podnet_node_ip6 is not set, but podnet_vxlan_underlay 'ipv6' "
                       r"carries worker3's IPv6 pods \(podnet_pod_cidr6 fd00:10:244:11::/64\)"):
        host_check({'mode': 'vxlan', 'vxlan_underlay': 'ipv6'}, 'worker2', cluster)
    assert host_check({'mode': 'vxlan'}, 'worker2', cluster)['vxlan_underlay'] == 'ipv4'


def test_facts_request_is_what_host_plan_asks_node_facts():
    """The action host_plan (two phases) and the module converge (one execution) read the same on the host: which
    peers are on-link only where the plan reads it (host-gw and crosssubnet), one route lookup per peer."""
    members = _plan.members_from_nodes(CLUSTER['nodes'])
    for mode in ('host-gw', 'crosssubnet'):
        settings = _plan.normalise_settings('worker3', {'mode': mode})
        assert _plan.facts_request(members, 'worker3', settings, 'eth0') == dict(
            node_ip='10.57.4.21', peers=['10.57.4.20'], dev='eth0', record='/var/lib/podnet/applied.json',
            names=dict(node_ip='podnet_node_ip', dev='podnet_underlay_dev', peers=['worker2: podnet_node_ip']),
            **({'ipset': True, 'nftables': ['ip']} if mode == 'crosssubnet' else {'nftables': []}))
    for settings in ({'mode': 'vxlan'}, {'mode': 'ipip'}, {'mode': 'host-gw', 'state': 'absent'}):
        request = _plan.facts_request(members, 'worker3', _plan.normalise_settings('worker3', settings), 'eth0')
        assert request['peers'] == [] and request['names']['peers'] == [], (settings, request)
    # the ip set support is probed only where the plan would use a set: an encapsulation filter of a tunnel
    for settings, probed in (({'mode': 'vxlan'}, True), ({'mode': 'ipip'}, True), ({'mode': 'crosssubnet'}, True),
                             ({'mode': 'host-gw'}, False), ({'mode': 'vxlan', 'encap_filter': False}, False),
                             ({'mode': 'vxlan', 'state': 'absent'}, False)):
        request = _plan.facts_request(members, 'worker3', _plan.normalise_settings('worker3', settings), 'eth0')
        assert request.get('ipset', False) is probed, (settings, request)
        # and so is the nftables table's; nft itself is looked for everywhere (its tables may have to go)
        assert request['nftables'] == (['ip'] if probed else []), (settings, request)
    # podnet_encap_filter_backend: only the table, or only the set
    for backend, ipset, nftables in (('nftables', False, ['ip']), ('iptables', True, [])):
        settings = _plan.normalise_settings('worker3', {'mode': 'vxlan', 'encap_filter_backend': backend})
        request = _plan.facts_request(members, 'worker3', settings, 'eth0')
        assert (request.get('ipset', False), request['nftables']) == (ipset, nftables), (backend, request)
