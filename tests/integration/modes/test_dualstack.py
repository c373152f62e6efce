# -*- coding: utf-8 -*-
"""Issue 18, first part, on this machine's kernel: IPv6 pods beside IPv4 ones (inventories/lab-dualstack), carried
by vxlan over the IPv4 underlay through the same device.

Converged once: every pod has both families (read back with `ip -j`), the vxlan device has both VTEP addresses
and a permanent neighbour per peer for each; pods ping each other over IPv6 (ping -6), and the receiving host's
underlay shows the IPv6 packets inside VXLAN (tcpdump); a rerun changes nothing. ipip is refused before any change
naming podnet_pod_cidr6. Back to IPv4 only (the inventory without the IPv6 ranges): no IPv6 address, route or
neighbour of the collection is left, and IPv6 forwarding has its old value again.
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

from dumps import assert_same, dump
from lab import built_lab, recap


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab-dualstack', name='ds-' + uuid.uuid4().hex[:4]) as built:
        yield built


def test_ipv6_pods_over_vxlan(lab, capsys):
    first = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert all(n > 0 for n in changed(first).values()), first.stdout[-3000:]
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    addrs = [(a['local'], a['prefixlen']) for a in w2.ipj('-6', 'addr', 'show', 'dev', 'podnet.vxlan')[0]['addr_info']
             if not a['local'].startswith('fe80')]
    assert addrs == [('fd00:10:244:10::', 128)]
    neigh = [(n['dst'], n['lladdr']) for n in w2.ipj('-6', 'neigh', 'show', 'dev', 'podnet.vxlan', 'nud', 'permanent')]
    w3_mac = w3.ipj('link', 'show', 'podnet.vxlan')[0]['address']
    assert neigh == [('fd00:10:244:11::', w3_mac)]
    routes = [(r['dst'], r.get('gateway'), r['dev']) for r in w2.ipj('-6', 'route', 'show', 'proto', '57')]
    assert ('fd00:10:244:11::/64', 'fd00:10:244:11::', 'podnet.vxlan') in routes and ('fd00:10:244:10::a', None, 'veth-ns1') in routes
    out = w2.ns_run('ns1', ['ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0'], check=True).stdout
    assert '"local":"fd00:10:244:10::a","prefixlen":128' in out.replace(' ', ''), out
    assert w2.run(['sysctl', '-n', 'net.ipv6.conf.all.forwarding'], check=True).stdout.strip() == '1'

    tcpdump = ['timeout', '15', 'tcpdump', '-l', '-nn', '-c', '2', '-i', 'eth0', 'udp port 8472']
    capture = subprocess.Popen(w3.nsenter() + tcpdump, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1)
    try:
        ping = w2.ns_run('ns1', ['ping', '-6', '-c', '3', '-i', '0.3', '-W', '2', '-q', 'fd00:10:244:11::a'])
    finally:
        wire = capture.communicate(timeout=30)[0]
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # tcpdump names UDP 8472 (the kernel's and flannel's VXLAN port) OTV; the inner IPv6 packet follows it
    assert 'IP 10.57.4.20.' in wire and '> 10.57.4.21.8472:' in wire and 'IP6 fd00:10:244:10::a > fd00:10:244:11::a: ICMP6' in wire, wire
    assert w3.ns_run('ns1', ['ping', '-c', '2', '-W', '2', '-q', '192.168.10.10']).returncode == 0  # IPv4 still
    before = dump(lab)
    again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    assert_same(dump(lab), before, 'the rerun changed the kernel')
    with capsys.disabled():
        print('\ndual-stack vxlan over IPv4: ping -6 fd00:10:244:10::a -> fd00:10:244:11::a: %s; on worker3\'s eth0: %s'
              % (ping.stdout.strip().splitlines()[-2], [line for line in wire.splitlines() if 'fd00' in line][:1]))

    refused = lab.playbook('playbooks/site.yml', '-e', 'mode=ipip', check=False)
    assert refused.returncode != 0 and "podnet_pod_cidr6 'fd00:10:244:10::/64' cannot be carried by mode ipip" in refused.stdout
    assert_same(dump(lab), before, 'the refused ipip run changed the kernel')


def test_back_to_ipv4_only_leaves_no_ipv6(lab, tmp_path):
    path = os.path.join(str(tmp_path), 'inventory')
    shutil.copytree(lab.inventory, path)
    with open(os.path.join(path, 'hosts.yml')) as f:
        inv = yaml.safe_load(f)
    for hv in inv['podnet_lab']['children']['podnet_nodes']['hosts'].values():
        hv.pop('podnet_pod_cidr6')
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        yaml.safe_dump(inv, f)
    v4 = copy.copy(lab)
    v4.inventory = path
    run = v4.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert all(n > 0 for n in changed(run).values()), run.stdout[-3000:]
    for host in lab.hosts.values():
        assert [r['dst'] for r in host.ipj('-6', 'route', 'show', 'proto', '57')] == []
        assert host.ipj('-6', 'neigh', 'show', 'nud', 'permanent') == []
        for dev in ('podnet.vxlan', 'veth-ns1'):
            assert [a['local'] for a in host.ipj('-6', 'addr', 'show', 'dev', dev)[0]['addr_info']
                    if not a['local'].startswith('fe80')] == []
        out = host.ns_run('ns1', ['ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0'], check=True).stdout
        assert 'fd00' not in out, out
        assert host.run(['sysctl', '-n', 'net.ipv6.conf.all.forwarding'], check=True).stdout.strip() == '0'
    assert lab.hosts['worker2'].ns_run('ns1', ['ping', '-c', '2', '-W', '2', '-q', '192.168.11.10']).returncode == 0
    again = v4.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
