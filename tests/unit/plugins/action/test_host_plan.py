# -*- coding: utf-8 -*-
"""The action openkube.podnet.host_plan: one node_facts execution, then the plan, on the controller."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from ansible_collections.openkube.podnet.plugins.action import host_plan as action
from ansible_collections.openkube.podnet.plugins.filter.plan import cluster_check

HOSTVARS = {
    'worker2': {'podnet_node_ip': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24'},
    'worker3': {'podnet_node_ip': '10.57.4.21', 'podnet_pod_cidr': '192.168.11.0/24'},
}
FACTS = {'changed': False, 'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'underlay_network': '10.57.4.0/24',
         'onlink': {'10.57.4.21': True}}


def make(args, facts=None, host='worker2'):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    mod = action.ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append((module_name, module_args))
        return dict(FACTS if facts is None else facts)
    mod._execute_module = execute
    return mod, calls, dict(inventory_hostname=host, hostvars=HOSTVARS)


@pytest.mark.parametrize('cluster', [['worker2', 'worker3'], cluster_check(['worker2', 'worker3'], HOSTVARS),
                                     cluster_check(['worker2', 'worker3'], HOSTVARS, prefixes=True)],
                         ids=['host names', 'cluster_check nodes', 'cluster_check with prefixes'])
def test_one_node_facts_execution_then_the_plan(cluster):
    mod, calls, task_vars = make(dict(cluster=cluster, settings=dict(mode='host-gw')))
    result = mod.run(task_vars=task_vars)
    names = dict(node_ip='podnet_node_ip', dev='podnet_underlay_dev', peers=['worker3: podnet_node_ip'])
    wanted = dict(node_ip='10.57.4.20', peers=['10.57.4.21'], names=names, record='/var/lib/podnet/applied.json',
                  nftables=[])
    assert calls == [('openkube.podnet.node_facts', wanted)]
    assert not result.get('failed') and result['changed'] is False
    # the plan under its own key: nothing of the task result (changed, failed, warnings) inside it
    assert set(result) <= {'changed', 'plan', 'warnings', 'deprecations'}, sorted(result)
    plan = result['plan']
    assert plan['mode'] == 'host-gw' and plan['host'] == 'worker2' and 'changed' not in plan
    assert {'dst': '192.168.11.0/24', 'via': '10.57.4.21', 'dev': 'eth0'} in plan['routes']


def test_bad_setting_fails_before_any_remote_execution():
    mod, calls, task_vars = make(dict(cluster=['worker2', 'worker3'], settings=dict(mode='geneve')))
    result = mod.run(task_vars=task_vars)
    assert result['failed'] and calls == []
    assert "worker2: podnet_mode 'geneve' is not a mode" in result['msg']


def test_host_outside_the_cluster_fails_before_any_remote_execution():
    mod, calls, task_vars = make(dict(cluster=['worker3'], settings={}))
    result = mod.run(task_vars=task_vars)
    assert result['failed'] and calls == [] and 'is not in the cluster group' in result['msg']


def test_plan_error_from_the_facts():
    facts = dict(FACTS, onlink={'10.57.4.21': False})
    mod, calls, task_vars = make(dict(cluster=['worker2', 'worker3'], settings=dict(mode='host-gw')), facts=facts)
    result = mod.run(task_vars=task_vars)
    assert result['failed'] and len(calls) == 1
    assert "worker2: podnet_mode 'host-gw' cannot reach worker3" in result['msg']


def test_node_facts_failure_is_passed_on_with_the_host():
    """node_facts words its messages with the names the action gives it (tests/unit/.../test__node.py);
    the action only says which host."""
    facts = dict(failed=True, msg="podnet_underlay_dev: 'eth9' does not hold podnet_node_ip 10.57.4.20 (eth0 does)")
    mod, calls, task_vars = make(dict(cluster=['worker2', 'worker3'], settings={}, dev='eth9'), facts=facts)
    result = mod.run(task_vars=task_vars)
    assert calls[0][1]['dev'] == 'eth9'
    assert result['failed']
    assert result['msg'] == "worker2: podnet_underlay_dev: 'eth9' does not hold podnet_node_ip 10.57.4.20 (eth0 does)"


def test_the_same_plan_from_every_form_of_the_cluster():
    forms = [['worker2', 'worker3'], cluster_check(['worker2', 'worker3'], HOSTVARS),
             cluster_check(['worker2', 'worker3'], HOSTVARS, prefixes=True)]
    plans = []
    for cluster in forms:
        mod, _calls, task_vars = make(dict(cluster=cluster, settings=dict(mode='vxlan')))
        plans.append(mod.run(task_vars=task_vars)['plan'])
    assert plans[0] == plans[1] == plans[2]


def test_a_cluster_of_another_shape_is_refused():
    mod, calls, task_vars = make(dict(cluster='worker2', settings={}))
    result = mod.run(task_vars=task_vars)
    assert result['failed'] and calls == [] and 'cluster: ' in result['msg']
