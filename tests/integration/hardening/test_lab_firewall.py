# -*- coding: utf-8 -*-
"""rp_filter under strict mode, a FORWARD policy DROP, encapsulation admitted only from peers,
and mode crosssubnet, on the lab (host-gw and vxlan on this kernel; ipip in test_uml_hardening.py).
Every iptables and sysctl command runs inside a lab host, never in the machine's own namespace."""

from __future__ import annotations

import json
import os
import uuid

from dumps import ip_sets, nft_tables, tc_filters
from hardening_kit import HERE
from lab import built_lab, matrix_lines, recap

WORKERS = ('worker2', 'worker3')
POD = {'worker2': '192.168.10.10', 'worker3': '192.168.11.10'}


def pod_pings_ok(lab):
    return all(lab[src].ns_run('ns1', 'ping -c1 -W1 -q %s' % POD[dst]).returncode == 0
               for src, dst in (('worker2', 'worker3'), ('worker3', 'worker2')))


def own_rules(host):
    return [line for line in host.run('iptables-save -t filter', check=True).stdout.splitlines() if 'PODNET' in line]


def icmp_in_echos(host):
    lines = host.ns_run('ns1', 'grep Icmp: /proc/net/snmp', check=True).stdout.splitlines()
    names, values = lines[0].split(), lines[1].split()
    return int(values[names.index('InEchos')])


def martian_sources(host):
    """The kernel's count of received packets dropped for their source address (in_martian_src of
    /proc/net/stat/rt_cache, summed over the CPUs; the counter is the kernel's, not the namespace's)."""
    lines = host.run('cat /proc/net/stat/rt_cache', check=True).stdout.splitlines()
    column = lines[0].split().index('in_martian_src')
    return sum(int(line.split()[column], 16) for line in lines[1:])


def test_rp_filter_strict_everywhere_then_loose_where_needed(hlab, capsys):
    """With reverse-path filtering off (all, default and eth0 0, as the lab's namespaces start), the converge
    leaves it off: loose filtering would cost a route lookup per packet that the host does not do. Then
    all.rp_filter=1 (RHEL's default) in both hosts; the converge sets 2 on the tunnel and the underlay device,
    reports it, and then pod-to-pod, peer-host-to-pod and peer-pod-to-host pass."""
    for name in WORKERS:  # off everywhere, and the tunnel device made afresh (with conf/default)
        hlab[name].run('sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 '
                       'net.ipv4.conf.eth0.rp_filter=0; ip link del podnet.vxlan 2>/dev/null; true', check=True)
    off = hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert 'rp_filter' not in off.stdout, off.stdout
    for name in WORKERS:
        values = hlab[name].run('sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.podnet/vxlan.rp_filter '
                                'net.ipv4.conf.eth0.rp_filter', check=True)
        assert values.stdout.split() == ['0', '0', '0'], values.stdout
    assert pod_pings_ok(hlab)
    for name in WORKERS:
        hlab[name].run('sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 '
                       'net.ipv4.conf.eth0.rp_filter=1 net.ipv4.conf.podnet/vxlan.rp_filter=1', check=True)
    try:
        w2, w3 = hlab['worker2'], hlab['worker3']
        # strict: a peer host talking from its node IP to our pod is dropped (the finding the plan fixes)
        assert w3.run('ping -c1 -W1 -I 10.57.4.21 192.168.10.10').returncode != 0
        run = hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        assert 'sysctl: update net/ipv4/conf/podnet.vxlan/rp_filter = 2 (value: 1 -> 2)' in run.stdout
        assert 'sysctl: update net/ipv4/conf/eth0/rp_filter = 2 (value: 1 -> 2)' in run.stdout
        for name in WORKERS:
            values = hlab[name].run('sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.podnet/vxlan.rp_filter '
                                    'net.ipv4.conf.eth0.rp_filter net.ipv4.conf.veth-ns1.rp_filter', check=True)
            assert values.stdout.split() == ['1', '2', '2', '0'], values.stdout
        assert pod_pings_ok(hlab)
        assert w3.run('ping -c1 -W1 192.168.10.10').returncode == 0
        assert w3.run('ping -c1 -W1 -I 10.57.4.21 192.168.10.10').returncode == 0
        assert w3.ns_run('ns1', 'ping -c1 -W1 10.57.4.20').returncode == 0
        verify = hlab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan')
        with capsys.disabled():
            print('\nrp_filter strict (all=1):\n' + '\n'.join(matrix_lines(verify)))
        again = hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        assert set(c['changed'] for h, c in recap(again.stdout).items()) == {0}
    finally:
        for name in WORKERS:
            hlab[name].run('sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0')


def test_forward_policy_drop_does_not_break_pods_and_teardown_removes_the_rules(hlab, capsys):
    for name in WORKERS:
        hlab[name].run('iptables -w -P FORWARD DROP', check=True)
    try:
        # without the collection's accept rules the policy cuts the pods off (the test can fail)
        hlab.playbook('playbooks/site.yml', '-e', 'mode=host-gw', '-e', 'podnet_forward_accept=false')
        assert not pod_pings_ok(hlab)
        # from vxlan (the test before): its filter, the nftables table on this kernel, went
        assert ip_sets(hlab['worker2']) == [] and not [line for line in own_rules(hlab['worker2']) if 'INPUT' in line]
        assert nft_tables(hlab['worker2']) == {}
        hlab.playbook('playbooks/site.yml', '-e', 'mode=host-gw')
        assert own_rules(hlab['worker2']) == [
            ':PODNET-FORWARD - [0:0]', '-A FORWARD -j PODNET-FORWARD',
            '-A PODNET-FORWARD -s 192.168.10.0/24 -j ACCEPT', '-A PODNET-FORWARD -d 192.168.10.0/24 -j ACCEPT']
        assert pod_pings_ok(hlab)
        hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_apply=roles')
        # the roles path's own nftables task: the filter as the table ip podnet
        assert nft_tables(hlab['worker2'])['ip podnet']['sets'] == {'peers': ['10.57.4.21']}
        assert ip_sets(hlab['worker2']) == []
        verify = hlab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan')
        assert sum(line.count('ok vxlan vni 1 udp 8472') for line in matrix_lines(verify)) == 2
        with capsys.disabled():
            print('\nFORWARD policy DROP:\n' + '\n'.join(matrix_lines(verify)))
        hlab.playbook('playbooks/site.yml', '-e', 'podnet_state=absent')
        for name in WORKERS:
            assert own_rules(hlab[name]) == [] and ip_sets(hlab[name]) == [] and nft_tables(hlab[name]) == {}
            assert ':FORWARD DROP' in hlab[name].run('iptables-save -t filter', check=True).stdout  # policy untouched
    finally:
        for name in WORKERS:
            hlab[name].run('iptables -w -P FORWARD ACCEPT')


def forge(lab, kind, outer_source=None):
    w2 = lab['worker2']
    forger = os.path.join(HERE, 'forge.py')
    if kind == 'vxlan':
        mac = w2.ipj('link', 'show', 'podnet.vxlan')[0]['address']
        args = ['vxlan', '10.57.4.20', '8472', '1', mac, '0e:00:00:00:00:01', POD['worker3'], POD['worker2']]
    else:
        args = ['ipip', '10.57.4.20', POD['worker3'], POD['worker2']]
    if outer_source:
        args += ['--outer-source', outer_source]
    lab['rogue'].run(['python3', forger] + args, check=True)


def bpf_map_id(host):
    """The id of the map of the eBPF filter on the host's eth0 (tc, then bpftool)."""
    filters = json.loads(host.run(['tc', '-j', 'filter', 'show', 'dev', 'eth0', 'ingress'], check=True).stdout)
    prog = [f['options']['prog']['id'] for f in filters if f.get('options')][0]
    return json.loads(host.run(['bpftool', '-j', 'prog', 'show', 'id', str(prog)], check=True).stdout)['map_ids'][0]


def test_encapsulation_only_from_peers(hlab, capsys):
    """rogue (on the segment, not in the cluster) sends forged VXLAN to worker2's pod: delivered
    without the filter (so the forgery works), dropped with it, while the peers' traffic passes. The filter as this
    kernel holds it by default, the nftables table; then as the iptables chain (podnet_encap_filter_backend
    iptables), which replaces the table; then as the eBPF program at eth0's tc ingress (backend bpf), which replaces
    the chain, and back to the table on the roles path."""
    w2 = hlab['worker2']
    hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_encap_filter=false')
    assert not [line for line in own_rules(w2) if 'INPUT' in line] and ip_sets(w2) == [] and nft_tables(w2) == {}
    before = icmp_in_echos(w2)
    forge(hlab, 'vxlan')
    assert icmp_in_echos(w2) - before == 3, 'the forged packets did not reach the pod without the filter'

    hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    tables = nft_tables(w2)
    assert list(tables) == ['ip podnet'] and tables['ip podnet']['sets'] == {'peers': ['10.57.4.21']}, tables
    assert tables['ip podnet']['chains']['input']['hook'] == 'input' and \
        len(tables['ip podnet']['chains']['input']['rules']) == 1, tables
    listing = w2.run('nft list chain ip podnet input', check=True).stdout
    assert 'udp dport 8472 ip saddr != @peers drop' in listing, listing
    assert not [line for line in own_rules(w2) if 'INPUT' in line] and ip_sets(w2) == []
    before = icmp_in_echos(w2)
    forge(hlab, 'vxlan')
    assert icmp_in_echos(w2) == before, 'forged VXLAN reached the pod through the nftables filter'
    nft_lines = matrix_lines(hlab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan'))
    assert sum(line.count('ok vxlan vni 1 udp 8472') for line in nft_lines) == 2, nft_lines

    hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_encap_filter_backend=iptables')
    assert nft_tables(w2) == {}
    assert [line for line in own_rules(w2) if 'PODNET-INPUT' in line] == [
        ':PODNET-INPUT - [0:0]', '-A INPUT -j PODNET-INPUT',
        # one rule whatever the number of peers: the set of their node IPs
        '-A PODNET-INPUT -p udp -m udp --dport 8472 -m set --match-set podnet-peers src -j RETURN',
        '-A PODNET-INPUT -p udp -m udp --dport 8472 -j DROP']
    # the peer worker3 (10.57.4.21) and worker2's own address, as one prefix
    assert ip_sets(w2) == ['set podnet-peers inet 10.57.4.20/31']
    before = icmp_in_echos(w2)
    forge(hlab, 'vxlan')
    counters = w2.run('iptables -w -L PODNET-INPUT -v -x -n', check=True).stdout
    assert icmp_in_echos(w2) == before, 'forged VXLAN reached the pod'
    drop = [line.split() for line in counters.splitlines() if ' DROP ' in ' %s ' % line][0]
    assert int(drop[0]) >= 3, counters
    # worker2's own address is in the set's prefix: the kernel drops what claims it from the wire
    # (a martian source) before INPUT, so a forgery from it passes neither the chain nor routing
    martians = martian_sources(w2)
    forge(hlab, 'vxlan', outer_source='10.57.4.20')
    assert icmp_in_echos(w2) == before, 'forged VXLAN with worker2\'s own address as source reached the pod'
    assert martian_sources(w2) - martians >= 3, 'the kernel did not count them as martian sources'
    verify = hlab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan')
    lines = matrix_lines(verify)
    assert sum(line.count('ok vxlan vni 1 udp 8472') for line in lines) == 2, lines

    # the collection's eBPF program at the underlay's tc ingress (backend bpf) replaces the chain and its set
    bpf = ('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_encap_filter_backend=bpf')
    predicted = hlab.playbook(*bpf + ('--check', '--diff'))
    assert all(recap(predicted.stdout)[name]['changed'] == 1 for name in WORKERS), predicted.stdout[-2000:]
    assert 'add eBPF filter on eth0 ingress: drop UDP to port 8472 unless from [10.57.4.21]' in predicted.stdout
    assert tc_filters(w2) == {} and ip_sets(w2) != [], 'check mode changed the filter'
    hlab.playbook(*bpf)
    # drift: the qdisc (and with it the filter, its program and map) removed by hand, the map emptied on worker3
    w2.run('tc qdisc del dev eth0 clsact', check=True)
    hlab['worker3'].run('bpftool map delete id %s key 10 57 4 20' % bpf_map_id(hlab['worker3']), check=True)
    repaired = hlab.playbook(*bpf)
    assert all(recap(repaired.stdout)[name]['changed'] == 1 for name in WORKERS), repaired.stdout[-2000:]
    again = hlab.playbook(*bpf)
    assert all(recap(again.stdout)[name]['changed'] == 0 for name in WORKERS), again.stdout[-2000:]
    assert tc_filters(w2) == {'eth0': [dict(kind='bpf', pref=10, name='podnet-udp-8472', direct_action=True,
                                            peers=['10.57.4.21'])]}, tc_filters(w2)
    assert not [line for line in own_rules(w2) if 'INPUT' in line] and ip_sets(w2) == [] and nft_tables(w2) == {}
    before = icmp_in_echos(w2)
    forge(hlab, 'vxlan')
    assert icmp_in_echos(w2) == before, 'forged VXLAN reached the pod through the eBPF filter'
    assert pod_pings_ok(hlab), 'the peers\' pods do not reach each other through the eBPF filter'
    # back to auto, on the roles path: the table first, then the eBPF filter and the qdisc it added go
    hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_apply=roles')
    assert tc_filters(w2) == {} and list(nft_tables(w2)) == ['ip podnet'], (tc_filters(w2), nft_tables(w2))
    with capsys.disabled():
        print('\nencapsulation filter on (nftables); forged VXLAN from rogue dropped:\n%s\n%s\n'
              'encapsulation filter on (iptables); forged VXLAN from rogue dropped:\n%s\n%s'
              % ('\n'.join(nft_lines), listing.strip(), '\n'.join(lines), counters.strip()))


def test_crosssubnet_on_the_routed_lab(capsys):
    """Two subnets, two hosts each: plain IP inside a subnet, vxlan across it."""
    with built_lab('inventories/lab-routed', name='xsub-' + uuid.uuid4().hex[:4]) as lab:
        lab.playbook('playbooks/site.yml', '-e', 'mode=crosssubnet')
        verify = lab.playbook('playbooks/verify.yml', '-e', 'mode=crosssubnet')
        lines = matrix_lines(verify)
        with capsys.disabled():
            print('\ncrosssubnet (vxlan) on lab-routed:\n' + '\n'.join(lines))
        rows = dict((line.split('|')[0].strip(), [c.strip() for c in line.split('|')[1:]])
                    for line in lines if line.startswith('worker'))
        same = {('worker2', 'worker3'), ('worker3', 'worker2'), ('worker4', 'worker5'), ('worker5', 'worker4')}
        hosts = ['worker2', 'worker3', 'worker4', 'worker5']
        for src in hosts:
            for i, dst in enumerate(hosts):
                if src != dst:
                    want = 'ok plain IP' if (src, dst) in same else 'ok vxlan vni 1 udp 8472'
                    assert rows[src][i] == want, (src, dst, lines)
        routes = dict((r['dst'], r) for r in lab['worker2'].ipj('route', 'show', 'proto', '57'))
        assert (routes['192.168.11.0/24']['gateway'], routes['192.168.11.0/24']['dev']) == ('10.57.4.21', 'eth0')
        assert (routes['192.168.12.0/24']['gateway'], routes['192.168.12.0/24']['dev']) == ('192.168.12.0', 'podnet.vxlan')
        fdb = [f['dst'] for f in lab['worker2'].bridgej('fdb', 'show', 'dev', 'podnet.vxlan') if f.get('dst')]
        assert sorted(fdb) == ['10.57.5.20', '10.57.5.21']
        again = lab.playbook('playbooks/site.yml', '-e', 'mode=crosssubnet', '-e', 'podnet_apply=roles')
        assert set(c['changed'] for c in recap(again.stdout).values()) == {0}, again.stdout[-3000:]
