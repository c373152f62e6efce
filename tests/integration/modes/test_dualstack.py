# -*- coding: utf-8 -*-
"""Issue 18 on this machine's kernel: IPv6 pods beside IPv4 ones (inventories/lab-dualstack: an IPv6 pod range per
host, and an IPv6 underlay, fd57:4::/64, beside the IPv4 one).

1. vxlan: the IPv6 pods travel through the same device over the IPv4 underlay. Every pod has both families (read
   back with `ip -j`), the vxlan device has both VTEP addresses and a permanent neighbour per peer for each; pods
   ping each other over IPv6 (ping -6), and the receiving host's underlay shows the IPv6 packets inside VXLAN over
   IPv4 (tcpdump); a pod's IPv6 packet to an address outside the pod ranges leaves masqueraded behind the host's
   IPv6 node address (tcpdump); verify.yml shows both matrices; a rerun changes nothing. ipip is refused before any change
   naming podnet_pod_cidr6.
2. host-gw: the route to the peer's IPv6 pod range via its IPv6 node address; the IPv6 pod packets on the wire
   as they are (IPv6 over the IPv6 underlay); verify's matrices; a rerun changes nothing; without a peer's
   podnet_node_ip6 host-gw is refused before any change; back to vxlan, the kernel is as after step 1.
3. vxlan with podnet_vxlan_underlay ipv6: the IPv6 pods through a second device over the IPv6 underlay (IPv6 in
   VXLAN in IPv6 on the wire), the pods' MTU 70 bytes under the underlay's (a full-size IPv6 packet passes with
   don't-fragment, one byte more does not), the encapsulation filter's table ip6 podnet; a rerun changes nothing; back to one device over IPv4, the kernel is as
   after step 1.
4. Back to IPv4 only (the inventory without the IPv6 ranges): no IPv6 address, route, neighbour or ip6tables
   chain of the collection is left, and IPv6 forwarding has its old value again.
5. crosssubnet on a copy of the routed lab with IPv6 pod ranges: the same-subnet peer's IPv6 pods via its IPv6
   node address, the other subnet's through vxlan over IPv4; verify's two matrices; a rerun changes nothing; then
   with podnet_vxlan_underlay ipv6, the other subnet's IPv6 pods through vxlan over the routed IPv6 underlay.
"""

from __future__ import annotations

import copy
import os
import subprocess
import time
import uuid

import pytest

from dumps import assert_same, dump, ip_sets, nft_tables
from lab import REPO, built_lab, inventory_copy, matrix_lines, recap, with_ipv6_pod_ranges


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab-dualstack', name='ds-' + uuid.uuid4().hex[:4]) as built:
        yield built


def _inventory(lab, tmp_path, edit):
    """The same lab with a copy of its inventory whose hosts' variables ``edit`` changed in place."""
    other = copy.copy(lab)
    other.inventory = inventory_copy(lab.inventory, os.path.join(str(tmp_path), 'inventory'), edit)
    return other


def _wire(lab, src, dst, dst_ip, capture_filter):
    """ping -6 from src's pod to dst_ip, while tcpdump listens on dst's eth0: (ping, what tcpdump printed)."""
    tcpdump = ['timeout', '15', 'tcpdump', '-l', '-nn', '-c', '2', '-i', 'eth0', capture_filter]
    capture = subprocess.Popen(lab.hosts[dst].nsenter() + tcpdump, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    time.sleep(1)
    try:
        ping = lab.hosts[src].ns_run('ns1', ['ping', '-6', '-c', '3', '-i', '0.3', '-W', '2', '-q', dst_ip])
    finally:
        wire = capture.communicate(timeout=30)[0]
    return ping, wire


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
    # the lab's IPv6 underlay: vxlan does not use it (one device, over IPv4)
    assert [(a['local'], a['prefixlen']) for a in w2.ipj('-6', 'addr', 'show', 'dev', 'eth0')[0]['addr_info']
            if a['scope'] == 'global'] == [('fd57:4::20', 64)]

    ping, wire = _wire(lab, 'worker2', 'worker3', 'fd00:10:244:11::a', 'udp port 8472')
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # tcpdump names UDP 8472 (the kernel's and flannel's VXLAN port) OTV; the inner IPv6 packet follows it
    assert 'IP 10.57.4.20.' in wire and '> 10.57.4.21.8472:' in wire and 'IP6 fd00:10:244:10::a > fd00:10:244:11::a: ICMP6' in wire, wire
    assert w3.ns_run('ns1', ['ping', '-c', '2', '-W', '2', '-q', '192.168.10.10']).returncode == 0  # IPv4 still
    # outside every pod range (worker3's IPv6 node address): masqueraded behind worker2's IPv6 node address
    # (ip6tables' PODNET-POSTROUTING); pod to pod above kept its pod address
    ping, masq = _wire(lab, 'worker2', 'worker3', 'fd57:4::21', 'icmp6 and ip6[40] == 128')
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert 'IP6 fd57:4::20 > fd57:4::21: ICMP6, echo request' in masq and 'fd00:' not in masq, masq
    before = dump(lab)
    again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    assert_same(dump(lab), before, 'the rerun changed the kernel')
    lab.vxlan_dump = before
    lines = matrix_lines(lab.playbook('playbooks/verify.yml'))
    assert [line.split('|')[2].strip() for line in lines if line.startswith('worker2')] == [
        'ok vxlan vni 1 udp 8472', 'ok vxlan vni 1 udp 8472 over IPv4'], lines
    assert sum('ok vxlan vni 1 udp 8472' in cell for line in lines for cell in line.split('|')) == 4, lines
    with capsys.disabled():
        print('\ndual-stack vxlan over IPv4: ping -6 fd00:10:244:10::a -> fd00:10:244:11::a: %s; on worker3\'s eth0: %s'
              % (ping.stdout.strip().splitlines()[-2], [line for line in wire.splitlines() if 'fd00' in line][:1]))
        print('\n'.join(lines))

    refused = lab.playbook('playbooks/site.yml', '-e', 'mode=ipip', check=False)
    assert refused.returncode != 0 and "podnet_pod_cidr6 'fd00:10:244:10::/64' cannot be carried by mode ipip" in refused.stdout
    assert_same(dump(lab), before, 'the refused ipip run changed the kernel')


def test_ipv6_pods_over_host_gw_and_back(lab, tmp_path, capsys):
    run = lab.playbook('playbooks/site.yml', '-e', 'mode=host-gw')
    assert all(n > 0 for n in changed(run).values()), run.stdout[-3000:]
    w2 = lab.hosts['worker2']
    routes = [(r['dst'], r.get('gateway'), r['dev']) for r in w2.ipj('-6', 'route', 'show', 'proto', '57')]
    assert ('fd00:10:244:11::/64', 'fd57:4::21', 'eth0') in routes, routes
    assert [(r['dst'], r.get('gateway'), r['dev']) for r in w2.ipj('route', 'show', 'proto', '57')
            if r['dst'] == '192.168.11.0/24'] == [('192.168.11.0/24', '10.57.4.21', 'eth0')]
    assert not w2.ipj('link', 'show', 'type', 'vxlan'), 'the vxlan device is left in host-gw'
    assert w2.ipj('-6', 'neigh', 'show', 'nud', 'permanent') == []
    ping, wire = _wire(lab, 'worker2', 'worker3', 'fd00:10:244:11::a', 'icmp6 and ip6[40] == 128')
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # the pod's own IPv6 packet, straight over the IPv6 underlay: no UDP, no outer header
    assert 'IP6 fd00:10:244:10::a > fd00:10:244:11::a: ICMP6, echo request' in wire, wire
    lines = matrix_lines(lab.playbook('playbooks/verify.yml'))
    assert [line.split('|')[2].strip() for line in lines if line.startswith('worker2')] == [
        'ok plain IP', 'ok plain IP over IPv6'], lines
    before = dump(lab)
    again = lab.playbook('playbooks/site.yml', '-e', 'mode=host-gw')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    assert_same(dump(lab), before, 'the host-gw rerun changed the kernel')
    with capsys.disabled():
        print('\ndual-stack host-gw over the IPv6 underlay: %s; on worker3\'s eth0: %s'
              % (ping.stdout.strip().splitlines()[-2], [line for line in wire.splitlines() if 'fd00' in line][:1]))
        print('\n'.join(lines))

    # a peer without podnet_node_ip6: refused before any change, on every host
    no6 = _inventory(lab, tmp_path, lambda hosts: hosts['worker3'].pop('podnet_node_ip6'))
    refused = no6.playbook('playbooks/site.yml', '-e', 'mode=host-gw', check=False)
    assert refused.returncode != 0 and "worker3: podnet_node_ip6 is not set, but podnet_mode 'host-gw' routes " \
        "worker3's IPv6 pods" in refused.stdout, refused.stdout[-3000:]
    assert_same(dump(lab), before, 'the refused host-gw run changed the kernel')
    # an IPv6 node address the host does not have: found on that host, before its first write. Two-phase, every host
    # is read before any changes: nothing changes anywhere. With one execution per host (the default) worker2 is
    # refused unchanged, and worker3, whose own inputs are fine, converges with the address it was given.
    wrong = _inventory(lab, tmp_path / 'wrong', lambda hosts: hosts['worker2'].update(podnet_node_ip6='fd57:4::99'))
    for extra in (('-e', 'podnet_two_phase=true'), ()):
        refused = wrong.playbook('playbooks/site.yml', '-e', 'mode=host-gw', *extra, check=False)
        assert refused.returncode != 0 and "worker2: podnet_node_ip6: 'fd57:4::99' is not an address of any interface " \
            "of this host (its IPv6 addresses: " in refused.stdout and 'fd57:4::20/64' in refused.stdout, refused.stdout[-3000:]
        after = dump(lab)
        if extra:
            assert_same(after, before, 'the refused two-phase host-gw run (wrong podnet_node_ip6) changed the kernel')
        else:
            assert_same(after['worker2'], before['worker2'], 'the refused host-gw run changed worker2')
            assert ('fd00:10:244:10::/64', 'fd57:4::99') in [(r['dst'], r.get('gateway')) for r in after['worker3']['routes']]
    lab.playbook('playbooks/site.yml', '-e', 'mode=host-gw')
    assert_same(dump(lab), before, 'host-gw again after the refused runs')

    # back to vxlan: the kernel as the first vxlan deployment left it, in both families
    back = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert all(n > 0 for n in changed(back).values()), back.stdout[-3000:]
    assert_same(dump(lab), lab.vxlan_dump, 'host-gw -> vxlan (first) vs the first vxlan deployment')


def _forged_echos(lab, outer_source):
    """worker3 sends three forged VXLAN-over-IPv6 packets (ICMPv6 echo requests from its pod's address) to worker2
    from ``outer_source``, an address of worker3's eth0: how many reached worker2's pod (its Icmp6InEchos)."""
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']

    def in_echos():
        snmp = dict(line.split() for line in w2.ns_run('ns1', ['cat', '/proc/net/snmp6'], check=True).stdout.splitlines())
        return int(snmp['Icmp6InEchos'])
    added = outer_source != lab.hostvars['worker3']['podnet_node_ip6']
    if added:
        w3.run(['ip', '-6', 'addr', 'add', outer_source + '/64', 'dev', 'eth0', 'nodad'], check=True)
    try:
        before = in_echos()
        mac = w2.ipj('link', 'show', 'podnet.vxlan6')[0]['address']
        w3.run(['python3', os.path.join(REPO, 'tests', 'integration', 'hardening', 'forge.py'), 'vxlan6', 'fd57:4::20',
                '8472', '1', mac, '0e:00:00:00:00:01', 'fd00:10:244:11::a', 'fd00:10:244:10::a',
                '--outer-source', outer_source], check=True)
        time.sleep(0.5)
        return in_echos() - before
    finally:
        if added:
            w3.run(['ip', '-6', 'addr', 'del', outer_source + '/64', 'dev', 'eth0'], check=True)


def test_ipv6_pods_over_vxlan_over_the_ipv6_underlay(lab, capsys):
    """podnet_vxlan_underlay ipv6: a second vxlan device over the IPv6 underlay carries the IPv6 pods (flannel's
    flannel-v6.1); the IPv4 pods keep the device over IPv4. The pods' MTU leaves 70 bytes for the IPv6 outer header:
    a 1430-byte IPv6 packet passes with don't-fragment, a 1431-byte one gets no answer."""
    run = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_vxlan_underlay=ipv6')
    assert all(n > 0 for n in changed(run).values()), run.stdout[-3000:]
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    link = w2.ipj('-d', 'link', 'show', 'podnet.vxlan6')[0]
    data = link['linkinfo']['info_data']
    assert (data['id'], data['port'], data.get('local6'), link['mtu']) == (1, 8472, 'fd57:4::20', 1430), link
    assert w2.ipj('link', 'show', 'podnet.vxlan')[0]['mtu'] == 1430
    assert [a['local'] for a in w2.ipj('-6', 'addr', 'show', 'dev', 'podnet.vxlan6')[0]['addr_info']
            if a['scope'] == 'global'] == ['fd00:10:244:10::']
    assert [a['local'] for a in w2.ipj('-6', 'addr', 'show', 'dev', 'podnet.vxlan')[0]['addr_info']
            if a['scope'] == 'global'] == []
    w3_mac6 = w3.ipj('link', 'show', 'podnet.vxlan6')[0]['address']
    assert w3_mac6 != w3.ipj('link', 'show', 'podnet.vxlan')[0]['address']
    assert [(n['dst'], n['lladdr']) for n in w2.ipj('-6', 'neigh', 'show', 'dev', 'podnet.vxlan6', 'nud', 'permanent')] == [
        ('fd00:10:244:11::', w3_mac6)]
    assert w2.ipj('-6', 'neigh', 'show', 'dev', 'podnet.vxlan', 'nud', 'permanent') == []
    fdb = [(f['mac'], f.get('dst')) for f in w2.bridgej('fdb', 'show', 'dev', 'podnet.vxlan6') if f.get('dst')]
    assert fdb == [(w3_mac6, 'fd57:4::21')], fdb
    routes = [(r['dst'], r.get('gateway'), r['dev']) for r in w2.ipj('-6', 'route', 'show', 'proto', '57')]
    assert ('fd00:10:244:11::/64', 'fd00:10:244:11::', 'podnet.vxlan6') in routes, routes
    # the encapsulation filter as this kernel holds it: an nftables table per underlay family, each with a set of the
    # peer's node address of that family (the iptables chain's IPv6 twin is proven under the second kernel)
    tables = nft_tables(w2)
    assert sorted(tables) == ['ip podnet', 'ip6 podnet'], tables
    assert tables['ip6 podnet']['sets'] == {'peers': ['fd57:4::21']} and tables['ip podnet']['sets'] == {'peers': ['10.57.4.21']}
    listing = w2.run(['nft', 'list', 'chain', 'ip6', 'podnet', 'input'], check=True).stdout
    assert 'udp dport 8472 ip6 saddr != @peers drop' in listing, listing
    assert ip_sets(w2) == [] and 'PODNET-INPUT' not in w2.run(['ip6tables-save', '-t', 'filter'], check=True).stdout

    # VXLAN over IPv6 is admitted from the peers' IPv6 node addresses only: worker3 forges IPv6 echo requests to
    # worker2's pod from its node address (delivered) and from a second address of its eth0 (dropped by the table).
    # First a real ping along that path: right after a deployment, packets forwarded to the pod wait until the
    # host's side of its veth has finished IPv6 duplicate address detection (seen: forged echos counted seconds late)
    assert w3.ns_run('ns1', ['ping', '-6', '-c', '1', '-W', '5', '-q', 'fd00:10:244:10::a']).returncode == 0
    assert _forged_echos(lab, 'fd57:4::21') == 3, 'VXLAN over IPv6 from a peer did not reach the pod'
    assert _forged_echos(lab, 'fd57:4::99') == 0, 'VXLAN over IPv6 from an address outside the cluster reached the pod'

    ping, wire = _wire(lab, 'worker2', 'worker3', 'fd00:10:244:11::a', 'udp port 8472')
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert 'IP6 fd57:4::20.' in wire and '> fd57:4::21.8472:' in wire and 'IP6 fd00:10:244:10::a > fd00:10:244:11::a: ICMP6' in wire, wire
    # 40 (IPv6) + 8 (ICMPv6) + 1382 = 1430, the pods' MTU: passes unfragmented; one byte more gets no answer
    full = w2.ns_run('ns1', ['ping', '-6', '-c', '2', '-W', '2', '-q', '-M', 'do', '-s', '1382', 'fd00:10:244:11::a'])
    assert full.returncode == 0, full.stdout + full.stderr
    over = w2.ns_run('ns1', ['ping', '-6', '-c', '1', '-W', '2', '-q', '-M', 'do', '-s', '1383', 'fd00:10:244:11::a'])
    assert over.returncode != 0, over.stdout + over.stderr
    assert w3.ns_run('ns1', ['ping', '-c', '2', '-W', '2', '-q', '192.168.10.10']).returncode == 0  # IPv4, over IPv4
    before = dump(lab)
    again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_vxlan_underlay=ipv6')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    # the roles path (one module call per table) wants the same: nothing to change either
    roles = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_vxlan_underlay=ipv6',
                         '-e', 'podnet_apply=roles')
    assert set(changed(roles).values()) == {0}, roles.stdout[-3000:]
    assert 'openkube.podnet.vxlan : ' in roles.stdout, roles.stdout[-3000:]
    assert_same(dump(lab), before, 'the reruns changed the kernel')
    lines = matrix_lines(lab.playbook('playbooks/verify.yml'))
    assert [line.split('|')[2].strip() for line in lines if line.startswith('worker2')] == [
        'ok vxlan vni 1 udp 8472', 'ok vxlan vni 1 udp 8472 over IPv6'], lines
    assert not [line for line in lines if 'FAIL' in line], lines
    with capsys.disabled():
        print('\ndual-stack vxlan, IPv6 pods over the IPv6 underlay: %s; on worker3\'s eth0: %s'
              % (ping.stdout.strip().splitlines()[-2], [line for line in wire.splitlines() if 'fd00' in line][:1]))
        print('\n'.join(lines))

    # back to one device over IPv4: the kernel as the first vxlan deployment left it (no vxlan6, no table ip6 podnet:
    # the dump holds the nftables tables)
    back = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert all(n > 0 for n in changed(back).values()), back.stdout[-3000:]
    assert_same(dump(lab), lab.vxlan_dump, 'vxlan over IPv6 -> vxlan over IPv4 vs the first vxlan deployment')


def test_back_to_ipv4_only_leaves_no_ipv6(lab, tmp_path):
    def ipv4_only(hosts):
        for hv in hosts.values():
            hv.pop('podnet_pod_cidr6')
    v4 = _inventory(lab, tmp_path, ipv4_only)
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
        assert 'PODNET' not in host.run(['ip6tables-save'], check=True).stdout  # the IPv6 chains went with purge
    assert lab.hosts['worker2'].ns_run('ns1', ['ping', '-c', '2', '-W', '2', '-q', '192.168.11.10']).returncode == 0
    again = v4.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]


def _crosssubnet(lab, *extra):
    """Converge crosssubnet (with ``extra`` variables) and verify: worker2's IPv6 routes {dst: (via, dev)}, worker2's
    row of the IPv6 matrix (its cells), and every line verify printed; no cell failed."""
    run = lab.playbook('playbooks/site.yml', '-e', 'mode=crosssubnet', *extra)
    assert all(n > 0 for n in changed(run).values()), run.stdout[-3000:]
    routes = dict((r['dst'], (r.get('gateway'), r['dev'])) for r in lab.hosts['worker2'].ipj('-6', 'route', 'show', 'proto', '57'))
    lines = matrix_lines(lab.playbook('playbooks/verify.yml'))
    assert not [line for line in lines if 'FAIL' in line], lines
    six = lines[lines.index([line for line in lines if 'IPv6 pods' in line][0]):]
    return routes, [cell.strip() for cell in [line for line in six if line.startswith('worker2')][0].split('|')[1:]], lines


def test_crosssubnet_routes_ipv6_pods_directly_or_through_vxlan(tmp_path, capsys):
    """The routed lab (two subnets, a router, a dual-stack underlay) with an IPv6 pod range per host: crosssubnet
    routes the same-subnet peer's IPv6 pods via its IPv6 node address and carries the other subnet's through vxlan
    over IPv4, or with podnet_vxlan_underlay ipv6 through vxlan over the routed IPv6 underlay; verify's two matrices
    say so for every pair."""
    path = inventory_copy(os.path.join(REPO, 'inventories', 'lab-routed'), os.path.join(str(tmp_path), 'routed'),
                          with_ipv6_pod_ranges)
    with built_lab(path, name='dsr-' + uuid.uuid4().hex[:4]) as lab:
        routes, w2, lines = _crosssubnet(lab)
        assert routes['fd00:10:244:11::/64'] == ('fd57:4::21', 'eth0'), routes
        assert routes['fd00:10:244:12::/64'] == ('fd00:10:244:12::', 'podnet.vxlan'), routes
        assert w2 == ['-', 'ok plain IP over IPv6', 'ok vxlan vni 1 udp 8472 over IPv4', 'ok vxlan vni 1 udp 8472 over IPv4'], lines
        again = lab.playbook('playbooks/site.yml', '-e', 'mode=crosssubnet')
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
        routes, w2, lines6 = _crosssubnet(lab, '-e', 'podnet_vxlan_underlay=ipv6')
        assert routes['fd00:10:244:11::/64'] == ('fd57:4::21', 'eth0'), routes
        assert routes['fd00:10:244:12::/64'] == ('fd00:10:244:12::', 'podnet.vxlan6'), routes
        assert w2 == ['-', 'ok plain IP over IPv6', 'ok vxlan vni 1 udp 8472 over IPv6', 'ok vxlan vni 1 udp 8472 over IPv6'], lines6
        with capsys.disabled():
            print('\n' + '\n'.join(lines) + '\nwith podnet_vxlan_underlay ipv6:\n' + '\n'.join(lines6))
