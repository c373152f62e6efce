# -*- coding: utf-8 -*-
"""Issue 16, points 1 and 4, on this machine's kernel: pod egress masqueraded behind the node's address, and a host
whose pods a container runtime makes (``podnet_pods: []``).

Egress: the lab converged vxlan; a pod's ping to the other host's node IP (outside every pod range) arrives
there from the sending host's node IP, and its ping to the other host's pod arrives from the pod's own address
(tcpdump on the receiving host's underlay, which sees the inner packet for the pod). ``iptables-save -t nat``
shows the collection's chain. With ``podnet_masquerade: false`` the chain goes and the pod's own address
arrives; on again, a rerun changes nothing.

Runtime pods:

The lab converges vxlan with the collection's pod ``ns1`` on both hosts. Then worker3 gets ``podnet_pods: []``
(a temporary copy of inventories/lab): the converge removes worker3's own pod, which the record says the
collection made, and nothing else. A pod is then attached on worker3 the way a runtime does, with Debian's
CNI ``ptp`` plugin and ``host-local`` IPAM in worker3's pod range (tests/cni.py), and the cross-host network
serves it: real pings both ways over the vxlan device, the encapsulation seen on worker3's underlay. A rerun
changes nothing and leaves the runtime's pod as it was (the normalised dump of tests/dumps.py); verify passes
and says which host it could not ping from or to.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import time
import uuid

import pytest
import yaml

import cni  # tests/cni.py
from dumps import assert_same, dump
from lab import REPO, built_lab, recap

PTP = {
    'cniVersion': '1.0.0', 'name': 'runtime', 'type': 'ptp', 'mtu': 1450,
    # a range of worker3's pod range that the collection does not use (.0 VTEP, .1 gateway, .10 and up its pods)
    'ipam': {'type': 'host-local', 'ranges': [[{'subnet': '192.168.11.0/24', 'rangeStart': '192.168.11.100',
                                                'rangeEnd': '192.168.11.199'}]],
             'routes': [{'dst': '0.0.0.0/0'}]},
}


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


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


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab', name='rt-' + uuid.uuid4().hex[:4]) as built:
        built.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        yield built


def sources(host, dev, bpf, action):
    """The IPv4 sources of ICMP echo requests that ``host`` sees on ``dev`` (tcpdump there, matching ``bpf``)
    while ``action()`` runs."""
    capture = subprocess.Popen(host.nsenter() + ['timeout', '15', 'tcpdump', '-l', '-nn', '-c', '2', '-i', dev, bpf],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1)  # tcpdump listening before the first packet
    try:
        result = action()
    finally:
        out = capture.communicate(timeout=30)[0]
    return result, sorted(set(line.split(' IP ')[1].split(' > ')[0] for line in out.splitlines() if ' IP ' in line))


def nat_rules(host):
    return [line for line in host.run('iptables-save -t nat', check=True).stdout.splitlines() if 'PODNET' in line]


def test_egress_is_masqueraded_pod_to_pod_never(lab, capsys):
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    assert nat_rules(w2) == [
        ':PODNET-POSTROUTING - [0:0]', '-A POSTROUTING -j PODNET-POSTROUTING',
        '-A PODNET-POSTROUTING -s 192.168.10.0/24 -d 192.168.10.0/23 -j RETURN',
        '-A PODNET-POSTROUTING -s 192.168.10.0/24 -d 224.0.0.0/4 -j RETURN',
        '-A PODNET-POSTROUTING -s 192.168.10.0/24 -j MASQUERADE']

    def ping(target):
        return lambda: w2.ns_run('ns1', ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', target])
    # to the other host's node IP: leaves worker2 as 10.57.4.20 (plain on eth0)
    out, seen = sources(w3, 'eth0', 'icmp[icmptype] == icmp-echo', ping('10.57.4.21'))
    assert out.returncode == 0 and seen == ['10.57.4.20'], (out.stdout, seen)
    # to the other host's pod: its own address, as the pod on worker3 sees it (inside the vxlan device)
    out, seen = sources(w3, 'podnet.vxlan', 'icmp[icmptype] == icmp-echo', ping('192.168.11.10'))
    assert out.returncode == 0 and seen == ['192.168.10.10'], (out.stdout, seen)

    off = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_masquerade=false')
    assert changed(off) == {'worker2': 1, 'worker3': 1}, off.stdout[-3000:]
    assert nat_rules(w2) == []
    out, seen = sources(w3, 'eth0', 'icmp[icmptype] == icmp-echo', ping('10.57.4.21'))
    assert out.returncode == 0 and seen == ['192.168.10.10'], (out.stdout, seen)

    on = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert changed(on) == {'worker2': 1, 'worker3': 1}, on.stdout[-3000:]
    again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    with capsys.disabled():
        print('\negress: pod -> other node IP arrives from 10.57.4.20 (masqueraded); pod -> pod from 192.168.10.10; '
              'podnet_masquerade=false: from 192.168.10.10')


def test_runtime_pods_are_served_and_left_alone(lab, tmp_path, capsys):
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    assert 'ns1' in w3.netns_list()
    podless = without_pods(lab, str(tmp_path), 'worker3')

    # worker3's own pod goes (the record says the collection made it); worker2 keeps its pod
    first = podless.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert changed(first)['worker3'] > 0 and changed(first)['worker2'] == 0, first.stdout[-3000:]
    assert 'ns1' not in w3.netns_list() and not [link for link in w3.ipj('link', 'show') if link['ifname'] == 'veth-ns1']
    assert 'ns1' in w2.netns_list()

    # a pod attached as a container runtime does, with Debian's CNI plugins
    data_dir = str(tmp_path / 'cni-ipam')  # host-local's allocations: this test's own folder
    conf = dict(PTP, ipam=dict(PTP['ipam'], dataDir=data_dir))
    result = cni.add(w3, conf, 'runtime1')
    try:
        ip = cni.pod_ip(result)
        assert ip.startswith('192.168.11.1'), result
        capture = subprocess.Popen(w3.nsenter() + ['timeout', '20', 'tcpdump', '-l', '-nn', '-c', '2', '-i', 'eth0',
                                                     'udp port 8472'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True)
        time.sleep(1)  # tcpdump listening before the first packet
        try:
            there = w2.ns_run('ns1', ['ping', '-c', '3', '-W', '2', '-q', ip])
            back = w3.ns_run('runtime1', ['ping', '-c', '3', '-W', '2', '-q', '192.168.10.10'])
        finally:
            wire = capture.communicate(timeout=30)[0]
        assert there.returncode == 0, there.stdout + there.stderr
        assert back.returncode == 0, back.stdout + back.stderr
        assert 'VXLAN' in wire or '8472' in wire, wire
        # the runtime's pod leaves behind worker3's address too: the masquerade is by pod range, not by pod
        out, seen = sources(w2, 'eth0', 'icmp[icmptype] == icmp-echo',
                            lambda: w3.ns_run('runtime1', ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', '10.57.4.20']))
        assert out.returncode == 0 and seen == ['10.57.4.21'], (out.stdout, seen)

        # a rerun changes nothing, and the runtime's pod (its veth, addresses, routes) is as it was
        before = dump(lab)
        again = podless.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
        assert_same(dump(lab), before, 'the rerun changed the kernel')
        assert w3.ns_run('runtime1', ['ping', '-c', '1', '-W', '2', '-q', '192.168.10.10']).returncode == 0

        verify = podless.playbook('playbooks/verify.yml')
        lines = [line.strip().strip('",') for line in verify.stdout.splitlines() if 'not verified' in line or ' | ' in line]
        assert any("not verified (no pods of the collection's own, podnet_pods: []): worker3" in line for line in lines), lines
        with capsys.disabled():
            print('\nruntime pod %s on worker3 (CNI ptp): pinged from worker2/ns1 and back over vxlan; rerun changed=0'
                  % ip)
    finally:
        cni.delete(w3, conf, 'runtime1', result)
    assert 'runtime1' not in w3.netns_list()
