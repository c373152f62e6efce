# -*- coding: utf-8 -*-
"""k8s_nodes: Node objects (as kubectl get nodes -o json prints them) to the collection's host variables.
The plugin end to end (ansible-inventory, a nodes file, the API through the kubernetes client) is
tests/integration/inventory/test_k8s_nodes.py."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.openkube.podnet.plugins.inventory.k8s_nodes import NodeError, node_vars, nodes_from


def node(name='worker2', addresses=(('InternalIP', '10.57.4.20'), ('Hostname', 'worker2')), cidrs=('192.168.10.0/24',),
         labels=None, **spec):
    obj = {'apiVersion': 'v1', 'kind': 'Node', 'metadata': {'name': name, 'labels': labels or {'kubernetes.io/os': 'linux'}},
           'spec': dict(spec), 'status': {'addresses': [{'type': t, 'address': a} for t, a in addresses]}}
    if cidrs is not None:
        obj['spec']['podCIDRs'] = list(cidrs)
        obj['spec'].setdefault('podCIDR', cidrs[0] if cidrs else None)
    return obj


def test_reference_node():
    assert node_vars(node()) == ('worker2', {
        'podnet_node_ip': '10.57.4.20', 'ansible_host': '10.57.4.20', 'podnet_pod_cidr': '192.168.10.0/24',
        'podnet_k8s_labels': {'kubernetes.io/os': 'linux'}, 'podnet_k8s_taints': []})


#: A NodeList as kubeadm clusters print it (kubectl get nodes -o json), trimmed: a control-plane node with its
#: taint, a dual-stack worker, a worker with an ExternalIP beside its InternalIP (listed first), a new node
#: without a pod range yet. tests/integration/inventory/test_k8s_nodes.py lists it with ansible-inventory.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'integration', 'inventory',
                       'nodes-kubeadm.json')) as _f:
    KUBEADM = json.load(_f)


def test_a_kubeadm_node_list():
    hosts, pending = nodes_from(KUBEADM, 'nodes.json')
    found = dict(hosts)
    assert sorted(found) == ['cp1', 'w1', 'w2'] and pending == ['w3']
    assert found['cp1']['podnet_k8s_taints'] == [
        {'key': 'node-role.kubernetes.io/control-plane', 'value': None, 'effect': 'NoSchedule'}]
    assert (found['w1']['podnet_node_ip'], found['w1']['podnet_node_ip6'], found['w1']['podnet_pod_cidr6']) == (
        '10.57.4.20', 'fd57::20', 'fd00:10:244:1::/64')
    # the InternalIP, never the ExternalIP listed before it
    assert (found['w2']['podnet_node_ip'], found['w2']['ansible_host']) == ('10.57.4.21', '10.57.4.21')


def test_dual_stack_node():
    name, hv = node_vars(node(addresses=[('InternalIP', 'fd57::20'), ('InternalIP', '10.57.4.20')],
                              cidrs=['192.168.10.0/24', 'fd00:10::/64']))
    assert (hv['podnet_node_ip'], hv['podnet_node_ip6'], hv['ansible_host']) == ('10.57.4.20', 'fd57::20', '10.57.4.20')
    assert (hv['podnet_pod_cidr'], hv['podnet_pod_cidr6']) == ('192.168.10.0/24', 'fd00:10::/64')


def test_ipv6_only_node_is_reached_over_ipv6():
    _name, hv = node_vars(node(addresses=[('InternalIP', 'fd57::20')], cidrs=['fd00:10::/64']))
    assert hv['ansible_host'] == 'fd57::20' and 'podnet_node_ip' not in hv and 'podnet_pod_cidr' not in hv


def test_old_single_pod_cidr_field():
    obj = node(cidrs=None, podCIDR='192.168.10.0/24')
    assert node_vars(obj)[1]['podnet_pod_cidr'] == '192.168.10.0/24'


@pytest.mark.parametrize('cidrs', [[], None])
def test_no_pod_range_yet(cidrs):
    assert node_vars(node(cidrs=cidrs)) == ('worker2', None)


@pytest.mark.parametrize('change, expected', [
    (lambda o: o['metadata'].pop('name'), "items[0]: metadata.name None is missing"),
    (lambda o: o.update(kind='Pod'), "node worker2: kind 'Pod' is not Node"),
    (lambda o: o['status'].update(addresses=[{'type': 'Hostname', 'address': 'worker2'}]),
     "node worker2: status.addresses ['Hostname'] has no InternalIP"),
    (lambda o: o['status']['addresses'].__setitem__(0, {'type': 'InternalIP', 'address': '10.57.4'}),
     "node worker2: status.addresses[0].address '10.57.4' is not an IP address"),
    (lambda o: o['status']['addresses'].__setitem__(0, 'x'), "node worker2: status.addresses[0] 'x' is not {type, address}"),
    (lambda o: o['spec'].update(podCIDRs=['192.168.10.1/24']),
     "node worker2: spec.podCIDRs[0] '192.168.10.1/24' is not an IP range in CIDR notation (host bits clear)"),
    (lambda o: o['spec'].update(podCIDRs=['10.0.0.0/8', 'bogus']), "node worker2: spec.podCIDRs[1] 'bogus' is not an IP range"),
    (lambda o: o['spec'].update(podCIDRs='192.168.10.0/24'), "node worker2: spec.podCIDRs '192.168.10.0/24' is not a list"),
    (lambda o: o['spec'].update(taints='NoSchedule'), "node worker2: spec.taints 'NoSchedule' is not a list of taints"),
])
def test_malformed_objects_name_the_node_and_the_field(change, expected):
    obj = node()
    change(obj)
    with pytest.raises(NodeError) as err:
        node_vars(obj)
    assert str(err.value).startswith(expected), str(err.value)


def test_a_list_with_pending_nodes():
    worker3 = node('worker3', [('InternalIP', '10.57.4.21')], ['192.168.11.0/24'])
    doc = {'apiVersion': 'v1', 'kind': 'List', 'items': [node(), worker3, node('new', cidrs=[])]}
    hosts, pending = nodes_from(doc, 'nodes.json')
    assert [h for h, _v in hosts] == ['worker2', 'worker3'] and pending == ['new']


@pytest.mark.parametrize('doc, expected', [
    ({'kind': 'List', 'items': [node(), node()]}, 'nodes.json: node worker2 is listed twice'),
    ({'kind': 'Pod'}, 'nodes.json: holds no Node objects'),
    ('text', 'nodes.json: holds no Node objects'),
])
def test_bad_documents(doc, expected):
    with pytest.raises(NodeError) as err:
        nodes_from(copy.deepcopy(doc), 'nodes.json')
    assert str(err.value).startswith(expected), str(err.value)


def test_one_node_object_alone():
    assert [h for h, _v in nodes_from(node(), 'node.json')[0]] == ['worker2']
