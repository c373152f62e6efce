# -*- coding: utf-8 -*-
"""Issue 16 on this machine's kernel, on one lab (inventories/lab): pods a container runtime attaches with Debian's
CNI plugins beside the collection's, in modes host-gw and vxlan (crosssubnet across a router: test_routed_cni.py;
ipip under the second kernel: lifecycle/test_uml.py).

* The bridge layout (``podnet_attach: bridge``) read back with iproute2, and the CNI configuration the collection
  writes (``podnet_cni: true``), read inside each host (each has its own /etc/cni/net.d in the lab).
* In each mode: a pod attached on each host with that very file through Debian's ``bridge``, ``host-local`` and
  ``portmap`` plugins (tests/cni.py: ADD, then CHECK), as a runtime does. Every pod pings every other (the
  runtime's and the collection's, on both hosts: the matrix); a rerun changes nothing, leaves them attached
  (CHECK passes again) and the kernel as it was; a runtime pod's ping to the other host's node IP (outside every
  pod range) arrives from its host's node IP (masquerade, on the wire); DEL removes the pod's veth and releases
  its address.
* Back to the routed layout: the bridge and the file the last run made go.
* Egress on the routed layout: masqueraded behind the node's address, pod to pod never, ``podnet_masquerade: false``.
* A host whose pods only a runtime makes (``podnet_pods: []``): its own pod goes (the record says it was the
  collection's), a pod attached with the ``ptp`` plugin is served, a rerun leaves it alone, verify says which host
  it could not ping from.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import uuid

import pytest
import yaml

import cni  # tests/cni.py
from cni_kit import BRIDGE, CONFLIST, addresses, changed, ping, read_conflist, runtime_pods_in
from dumps import assert_same, dump
from lab import built_lab

PTP = {
    'cniVersion': '1.0.0', 'name': 'runtime', 'type': 'ptp', 'mtu': 1450,
    # a range of worker3's pod range that the collection does not use (.0 VTEP, .1 gateway, .10 and up its pods)
    'ipam': {'type': 'host-local', 'ranges': [[{'subnet': '192.168.11.0/24', 'rangeStart': '192.168.11.100',
                                                'rangeEnd': '192.168.11.199'}]],
             'routes': [{'dst': '0.0.0.0/0'}]},
}


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab', name='rt-' + uuid.uuid4().hex[:4]) as built:
        yield built


def test_bridge_layout_on_the_kernel(lab, capsys):
    lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', *BRIDGE)
    for name, third in (('worker2', 10), ('worker3', 11)):
        host = lab.hosts[name]
        bridge = host.ipj('-d', 'link', 'show', 'cni0')[0]
        assert (bridge['linkinfo']['info_kind'], bridge['mtu']) == ('bridge', 1450)
        assert addresses(host, 'cni0') == ['192.168.%d.1/24' % third]
        assert addresses(host, 'podnet.vxlan') == ['192.168.%d.0/32' % third]
        assert host.ipj('link', 'show', 'veth-ns1')[0]['master'] == 'cni0'
        assert addresses(host, 'veth-ns1') == []
        assert addresses(host, 'eth0', ns='ns1') == ['192.168.%d.10/24' % third]
        default = json.loads(host.ns_run('ns1', ['ip', '-j', 'route', 'show', 'default'], check=True).stdout)
        assert [(r['gateway'], r['dev'], 'onlink' in r.get('flags', [])) for r in default] == [
            ('192.168.%d.1' % third, 'eth0', False)]
        assert [r['dst'] for r in host.ipj('route', 'show', 'proto', '57') if r['dst'].endswith('/32')] == []
    conf = read_conflist(lab.hosts['worker3'])
    assert (conf['cniVersion'], conf['name'], [p['type'] for p in conf['plugins']]) == ('1.0.0', 'podnet', ['bridge', 'portmap'])
    bridge = conf['plugins'][0]
    assert (bridge['bridge'], bridge['isGateway'], bridge['ipMasq'], bridge['hairpinMode'], bridge['mtu']) == (
        'cni0', True, False, True, 1450)
    assert [(r['rangeStart'], r['rangeEnd'], r['gateway']) for r in bridge['ipam']['ranges'][0]] == [
        ('192.168.11.2', '192.168.11.9', '192.168.11.1'), ('192.168.11.11', '192.168.11.254', '192.168.11.1')]
    with capsys.disabled():
        print('\n%s on worker3:\n%s' % (CONFLIST, json.dumps(conf, indent=2)))


@pytest.mark.parametrize('mode', ['host-gw', 'vxlan'])
def test_runtime_pods_in_each_mode(lab, mode, capsys):
    first = lab.playbook('playbooks/site.yml', '-e', 'mode=' + mode, *BRIDGE)
    assert 'failed=0' in first.stdout
    w3 = lab.hosts['worker3']
    runtime_pods_in(lab, mode, ['worker2', 'worker3'], capsys, outside=('10.57.4.21', w3.nsenter(), 'eth0'))
    if mode == 'vxlan':  # the roles path makes the same calls: nothing to change either
        roles = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', *BRIDGE, '-e', 'podnet_apply=roles')
        assert set(changed(roles).values()) == {0}, roles.stdout[-3000:]


def test_back_to_routed_removes_the_bridge_and_the_configuration(lab):
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    check = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '--check')
    assert changed(check) == {'worker2': 1, 'worker3': 1}, check.stdout[-3000:]
    assert w3.ipj('link', 'show', 'cni0'), '--check changed the kernel'
    routed = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert changed(routed) == {'worker2': 1, 'worker3': 1}, routed.stdout[-3000:]
    for host, third in ((w2, 10), (w3, 11)):
        assert not [link for link in host.ipj('link', 'show') if link['ifname'] == 'cni0']
        assert host.run(['test', '-e', CONFLIST]).returncode != 0
        assert addresses(host, 'veth-ns1') == ['192.168.%d.1/32' % third]
        assert addresses(host, 'eth0', ns='ns1') == ['192.168.%d.10/32' % third]
        assert '192.168.%d.10' % third in [r['dst'] for r in host.ipj('route', 'show', 'proto', '57')]
    assert ping(w2, 'ns1', '192.168.11.10') and ping(w3, 'ns1', '192.168.10.10')
    again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]


def nat_rules(host):
    return [line for line in host.run('iptables-save -t nat', check=True).stdout.splitlines() if 'PODNET' in line]


def test_egress_is_masqueraded_pod_to_pod_never(lab, capsys):
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    assert nat_rules(w2) == [
        ':PODNET-POSTROUTING - [0:0]', '-A POSTROUTING -j PODNET-POSTROUTING',
        '-A PODNET-POSTROUTING -s 192.168.10.0/24 -d 192.168.10.0/23 -j RETURN',
        '-A PODNET-POSTROUTING -s 192.168.10.0/24 -d 224.0.0.0/4 -j RETURN',
        '-A PODNET-POSTROUTING -s 192.168.10.0/24 -j MASQUERADE']

    def pinging(target):
        return lambda: w2.ns_run('ns1', ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', target])
    # to the other host's node IP: leaves worker2 as 10.57.4.20 (plain on eth0)
    out, seen = cni.echo_sources(w3.nsenter(), 'eth0', pinging('10.57.4.21'))
    assert out.returncode == 0 and seen == ['10.57.4.20'], (out.stdout, seen)
    # to the other host's pod: its own address, as the pod on worker3 sees it (inside the vxlan device)
    out, seen = cni.echo_sources(w3.nsenter(), 'podnet.vxlan', pinging('192.168.11.10'))
    assert out.returncode == 0 and seen == ['192.168.10.10'], (out.stdout, seen)

    off = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_masquerade=false')
    assert changed(off) == {'worker2': 1, 'worker3': 1}, off.stdout[-3000:]
    assert nat_rules(w2) == []
    out, seen = cni.echo_sources(w3.nsenter(), 'eth0', pinging('10.57.4.21'))
    assert out.returncode == 0 and seen == ['192.168.10.10'], (out.stdout, seen)

    on = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert changed(on) == {'worker2': 1, 'worker3': 1}, on.stdout[-3000:]
    with capsys.disabled():
        print('\negress: pod -> other node IP arrives from 10.57.4.20 (masqueraded); pod -> pod from 192.168.10.10; '
              'podnet_masquerade=false: from 192.168.10.10')


def without_pods(lab, tmp, host):
    """A copy of the lab whose inventory gives ``host`` podnet_pods: []."""
    path = os.path.join(tmp, 'inventory')
    shutil.copytree(lab.inventory, path)
    with open(os.path.join(path, 'hosts.yml')) as f:
        inv = yaml.safe_load(f)
    inv['podnet_lab']['children']['podnet_nodes']['hosts'][host]['podnet_pods'] = []
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        yaml.safe_dump(inv, f)
    other = copy.copy(lab)
    other.inventory = path
    return other


def test_runtime_pods_are_served_and_left_alone(lab, tmp_path, capsys):
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    assert 'ns1' in w3.netns_list()
    podless = without_pods(lab, str(tmp_path), 'worker3')

    # worker3's own pod goes (the record says the collection made it); worker2 keeps its pod
    first = podless.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert changed(first)['worker3'] > 0 and changed(first)['worker2'] == 0, first.stdout[-3000:]
    assert 'ns1' not in w3.netns_list() and not [link for link in w3.ipj('link', 'show') if link['ifname'] == 'veth-ns1']
    assert 'ns1' in w2.netns_list()

    # a pod attached as a container runtime does, with Debian's ptp plugin
    result = cni.add(w3, PTP, 'runtime1')
    try:
        ip = cni.pod_ip(result)
        assert ip.startswith('192.168.11.1'), result
        there = w2.ns_run('ns1', ['ping', '-c', '3', '-W', '2', '-q', ip])
        assert there.returncode == 0, there.stdout + there.stderr
        out, seen = cni.echo_sources(w2.nsenter(), 'podnet.vxlan', lambda: w3.ns_run(
            'runtime1', ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', '192.168.10.10']))
        assert out.returncode == 0 and seen == [ip], (out.stdout, seen)
        # the runtime's pod leaves behind worker3's address too: the masquerade is by pod range, not by pod
        out, seen = cni.echo_sources(w2.nsenter(), 'eth0', lambda: w3.ns_run(
            'runtime1', ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', '10.57.4.20']))
        assert out.returncode == 0 and seen == ['10.57.4.21'], (out.stdout, seen)

        # a rerun changes nothing, and the runtime's pod (its veth, addresses, routes) is as it was
        before = dump(lab)
        again = podless.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
        assert_same(dump(lab), before, 'the rerun changed the kernel')

        verify = podless.playbook('playbooks/verify.yml')
        assert "not verified (no pods of the collection's own, podnet_pods: []): worker3" in verify.stdout, verify.stdout[-2000:]
        with capsys.disabled():
            print('\nruntime pod %s on worker3 (CNI ptp, podnet_pods: []): pinged from worker2/ns1 and back over '
                  'vxlan; rerun changed=0' % ip)
    finally:
        cni.delete(w3, PTP, 'runtime1', result)
    assert 'runtime1' not in w3.netns_list()
