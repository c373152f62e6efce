#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""The encapsulation filter at 256 scattered peers: the ip set against the one-rule-per-prefix chain (issue 19, item 5).

Five labs of two hosts (worker2 10.57.4.20, worker3 10.57.4.22, as in inventories/lab), each in a cluster of 257:
the two and 255 more hosts that exist only in the inventory, with node IPs no two of which share a prefix
(10.56.N.1), so that their covering prefixes are 257 /32s and worker3's sorts last (and worker2's just before it).
The collection converges worker2 and worker3 (``--limit``) in mode vxlan, with every peer's route, neighbour and FDB
entry:

* ``collection (nftables)``: the collection as it is on this kernel (podnet_encap_filter_backend auto): the filter is
  the nftables table ip podnet, a set of the 256 peers' node IPs and one rule on the input hook;
* ``collection (nftables), no other chains``: the same without PODNET-FORWARD and the nat table (see below);
* ``collection (set)``: the filter as the iptables chain (podnet_encap_filter_backend iptables), PODNET-INPUT one rule
  matching the set podnet-peers (257 members); the ``(set)`` and ``(rules)`` configurations below all have it;
* ``collection (rules)``: the same, then PODNET-INPUT rewritten in both hosts as the collection wrote it before the set
  (and still does where the kernel has no ip set support): one ``-s PREFIX ... -j RETURN`` per prefix, 257 rules;
* ``collection, no filter``: the collection with ``podnet_encap_filter=false`` (its other chains, PODNET-FORWARD and
  the nat table's PODNET-POSTROUTING, stay), which tells the filter's cost from the rest of the chains';
* ``collection (set), no other chains``: the filter alone (``podnet_forward_accept=false``, ``podnet_masquerade=false``:
  no PODNET-FORWARD, no nat table, so no connection tracking either), the hand configuration plus the filter;
* ``collection, no chain``: none of the collection's iptables chains (the filter, PODNET-FORWARD and masquerading all
  off): what the collection's devices, routes and settings cost against hand without any firewall;
* ``collection, no chain, rp_filter off``: the same, then rp_filter 0 on the tunnel and underlay devices (what the
  collection leaves since it sets loose filtering only where the host filters; with an earlier collection, the cost
  of its loose rp_filter);
* ``collection, native nftables filter`` and ``... at ingress``: the collection with no chain plus the filter made by
  hand as a native nftables table (a hash set of the node IPs and one rule, ``udp dport 8472 ip saddr != @peers
  drop``) on the input hook, or in the netdev family on the underlay device's ingress hook: what a native table would
  cost, measured before building it; ``..., constant set``: the input-hook table with its set declared constant;
* ``collection (set), VXLAN untracked``: the collection as it is, plus raw-table rules that exempt VXLAN (UDP 8472)
  from connection tracking (``-j CT --notrack``), which masquerading otherwise applies to every encapsulated packet;
* ``collection (eBPF)`` and ``..., no other chains``: the collection's own eBPF filter (podnet_encap_filter_backend
  bpf, module bpf_filter), with its other chains or without them: what the hand-made program above became;
* ``hand``: the same vxlan configuration built by hand with iproute2 (every peer's route, neighbour and FDB entry),
  without any firewall chain.

worker2's ns1 sends to worker3's ns1: TCP throughput and the rate of 64-byte UDP datagrams received
(dataplane.py's iperf3 probes), the five measured in turn repetition after repetition (rotating the order).
Medians, the ratios of the medians to hand, and the medians of the paired ratios (each repetition's sample against
hand's of the same repetition) go to docs/benchmarks/filter.json with the load average before and after.
Traffic stays between lab namespaces.

    .venv/bin/python benchmarks/filter.py [--reps 15] [--seconds 2] [--peers 255] [--kinds set,alone,nochain,nft,...]
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

import dataplane
from dataplane import REPO, VENV_BIN, Config, loadavg, measure

REAL = [('worker2', '10.57.4.20', '192.168.10.0/24'), ('worker3', '10.57.4.22', '192.168.11.0/24')]
KINDS = ('collection (nftables)', 'collection (nftables), no other chains',
         'collection (set)', 'collection (rules)', 'collection, no filter', 'collection (set), no other chains',
         'collection, no chain', 'collection, native nftables filter', 'collection, nftables filter at ingress',
         'collection, no chain, rp_filter off', 'collection (set), VXLAN untracked',
         'collection, native nftables filter, constant set', 'collection, eBPF filter at tc ingress',
         'collection (eBPF)', 'collection (eBPF), no other chains', 'hand')
#: the site.yml variables of each of the collection's configurations (the filter as the iptables chain: IPT)
IPT = ['-e', 'podnet_encap_filter_backend=iptables']
ALONE = ['-e', 'podnet_forward_accept=false', '-e', 'podnet_masquerade=false']
EXTRA = {'collection (nftables)': [], 'collection (nftables), no other chains': ALONE,
         'collection (set)': IPT, 'collection (rules)': IPT, 'collection, no filter': ['-e', 'podnet_encap_filter=false'],
         'collection (set), no other chains': IPT + ALONE,
         'collection, no chain': ['-e', 'podnet_encap_filter=false', '-e', 'podnet_forward_accept=false',
                                  '-e', 'podnet_masquerade=false']}
EXTRA['collection, native nftables filter'] = EXTRA['collection, no chain']
EXTRA['collection, nftables filter at ingress'] = EXTRA['collection, no chain']
EXTRA['collection, native nftables filter, constant set'] = EXTRA['collection, no chain']
EXTRA['collection, eBPF filter at tc ingress'] = EXTRA['collection, no chain']
EXTRA['collection, no chain, rp_filter off'] = EXTRA['collection, no chain']
EXTRA['collection (set), VXLAN untracked'] = IPT
EXTRA['collection (eBPF)'] = ['-e', 'podnet_encap_filter_backend=bpf']
EXTRA['collection (eBPF), no other chains'] = EXTRA['collection (eBPF)'] + ALONE
#: --kinds: a short name for each configuration besides hand
SHORT = {'table': 'collection (nftables)', 'tablealone': 'collection (nftables), no other chains',
         'set': 'collection (set)', 'rules': 'collection (rules)', 'nofilter': 'collection, no filter',
         'alone': 'collection (set), no other chains', 'nochain': 'collection, no chain',
         'nft': 'collection, native nftables filter', 'nftconst': 'collection, native nftables filter, constant set',
         'nftin': 'collection, nftables filter at ingress',
         'rp0': 'collection, no chain, rp_filter off', 'notrack': 'collection (set), VXLAN untracked',
         'bpf': 'collection, eBPF filter at tc ingress', 'cbpf': 'collection (eBPF)',
         'cbpfalone': 'collection (eBPF), no other chains'}
VXLAN_MATCH = '-p udp -m udp --dport 8472'


def ghosts(count):
    """Hosts of the cluster that are not in the lab: node IPs 10.56.N.1 (no two in one prefix), pod ranges 10.244.N.0/24."""
    return [('ghost%03d' % i, '10.56.%d.1' % i, '10.244.%d.0/24' % i) for i in range(count)]


def write_inventory(path, peers):
    os.makedirs(os.path.join(path, 'group_vars'), exist_ok=True)
    for name in ('all.yml', 'podnet_lab.yml'):
        shutil.copy(os.path.join(REPO, 'inventories', 'lab', 'group_vars', name), os.path.join(path, 'group_vars', name))
    lines = ['---', '# generated by benchmarks/filter.py', 'podnet_lab:', '  hosts:']
    for name, ip, cidr in REAL:
        lines += ['    %s:' % name, '      podnet_node_ip: %s' % ip, '      podnet_pod_cidr: %s' % cidr]
    lines += ['podnet_nodes:', '  hosts:'] + ['    %s:' % name for name, _ip, _cidr in REAL]
    for name, ip, cidr in ghosts(peers):
        lines += ['    %s:' % name, '      podnet_node_ip: %s' % ip, '      podnet_pod_cidr: %s' % cidr]
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def playbook(inventory, lab, *args):
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, '-e', 'podnet_lab_name=' + lab]
                          + list(args), cwd=REPO, env=dataplane.ansible_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s %s failed:\n%s' % (lab, ' '.join(args), proc.stdout[-3000:]))
    return proc


def hand_script(index, peers):
    """dataplane.py's vxlan hand configuration of REAL[index], with the route, neighbour and FDB entry of every peer
    that is only in the inventory as well."""
    lines = [dataplane.hand_script('vxlan', index, REAL)]
    for i, (_name, ip, cidr) in enumerate(ghosts(peers)):
        net = ipaddress.ip_network(cidr)[0]
        mac = '0e:00:00:58:%02x:%02x' % (i // 256, i % 256)
        lines.append('ip route add %s via %s dev vxlan0 onlink\nip neigh add %s lladdr %s dev vxlan0 nud permanent\n'
                     'bridge fdb append %s dev vxlan0 dst %s\n' % (cidr, net, net, mac, mac, ip))
    return ''.join(lines)


def feed(lab, host, argv, text):
    """Run ``argv`` (iptables-restore, nft -f -) in the lab host with ``text`` on its input; fail naming both."""
    proc = subprocess.run(dataplane.argv_in(lab, host, None, argv), input=text, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s/%s: %s failed: %s' % (lab, host, ' '.join(argv), proc.stderr))


def rules_chain(lab, host, _peers=None):
    """PODNET-INPUT as the collection wrote it before the set: one RETURN rule per member of podnet-peers, in the
    order of the addresses (the plan's peer_prefixes), then the DROP."""
    listing = dataplane.sh(lab, host, '%s %s' % (sys.executable, os.path.join(REPO, 'tests', 'ipsets.py'))).stdout
    listing = listing.splitlines()
    members = [line.split()[3:] for line in listing if line.split()[:2] == ['set', 'podnet-peers']][0]
    members.sort(key=ipaddress.ip_network)
    feed(lab, host, ['iptables-restore', '-w', '--noflush'], '\n'.join(
        ['*filter', ':PODNET-INPUT - [0:0]'] + ['-A PODNET-INPUT -s %s %s -j RETURN' % (m, VXLAN_MATCH) for m in members]
        + ['-A PODNET-INPUT %s -j DROP' % VXLAN_MATCH, 'COMMIT', '']))


def nft_filter(lab, host, peers, ingress=False, constant=False):
    """The filter as a native nftables table of its own (no xtables match): a set of every cluster node's IP and one
    rule in a base chain of the input hook, dropping VXLAN from any other source; with ``ingress``, the same in the
    netdev family on the ingress hook of the underlay device eth0 (before routing); with ``constant``, the set
    declared constant (its size known: the kernel may pick its fixed-size hash for 4-byte keys)."""
    members = ', '.join(ip for _name, ip, _cidr in REAL + ghosts(peers))
    flags = 'flags constant; ' if constant else ''
    if ingress:
        text = ('table netdev podnet {\n set peers { type ipv4_addr; elements = { %s } }\n'
                ' chain ingress { type filter hook ingress device eth0 priority 0; policy accept; '
                'ip protocol udp udp dport 8472 ip saddr != @peers drop; }\n}\n' % members)
    else:
        text = ('table ip podnet {\n set peers { type ipv4_addr; %selements = { %s } }\n'
                ' chain input { type filter hook input priority filter; policy accept; udp dport 8472 ip saddr != @peers drop; }\n}\n'
                % (flags, members))
    feed(lab, host, ['nft', '-f', '-'], text)


def bpf_filter(lab, host, peers):
    """The same filter outside netfilter: an eBPF program on the tc ingress hook of the underlay device eth0, with a
    hash map of every cluster node's IP (benchmarks/tc_bpf.py, by hand, written before the collection had one)."""
    ips = ' '.join(ip for _name, ip, _cidr in REAL + ghosts(peers))
    dataplane.sh(lab, host, '%s %s eth0 8472 %s' % (sys.executable, os.path.join(REPO, 'benchmarks', 'tc_bpf.py'), ips))


def untracked(lab, host, _peers=None):
    """VXLAN exempt from connection tracking, in both directions (the raw table)."""
    dataplane.sh(lab, host, 'iptables -w -t raw -A PREROUTING %s -j CT --notrack && '
                 'iptables -w -t raw -A OUTPUT %s -j CT --notrack' % (VXLAN_MATCH, VXLAN_MATCH))


def rp_filter_off(lab, host, _peers=None):
    dataplane.sh(lab, host, 'sysctl -qw net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.podnet/vxlan.rp_filter=0; '
                 'sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.eth0.rp_filter')


#: what is done by hand in both hosts after the collection's converge, per configuration
ON_TOP = {'collection (rules)': rules_chain, 'collection, native nftables filter': nft_filter,
          'collection, nftables filter at ingress': functools.partial(nft_filter, ingress=True),
          'collection, native nftables filter, constant set': functools.partial(nft_filter, constant=True),
          'collection (set), VXLAN untracked': untracked, 'collection, no chain, rp_filter off': rp_filter_off,
          'collection, eBPF filter at tc ingress': bpf_filter}


def input_rules(lab, host):
    out = dataplane.sh(lab, host, 'iptables-save -t filter').stdout
    return [line for line in out.splitlines() if line.startswith('-A PODNET-INPUT')]


def nft_peers(lab, host):
    """How many addresses the collection's nftables filter admits (the set peers of table ip podnet; 0 without it)."""
    out = dataplane.sh(lab, host, 'nft -j list set ip podnet peers 2>/dev/null || true').stdout
    items = json.loads(out).get('nftables', []) if out.strip() else []
    return sum(len(i['set'].get('elem', [])) for i in items if 'set' in i)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--reps', type=int, default=15)
    parser.add_argument('--seconds', type=float, default=2)
    parser.add_argument('--peers', type=int, default=255, help='hosts of the cluster besides worker2 and worker3')
    parser.add_argument('--out', default=os.path.join(REPO, 'docs', 'benchmarks', 'filter.json'))
    parser.add_argument('--kinds', default='table,tablealone,set,alone,nochain',
                        help='comma list of the configurations besides hand (always measured): '
                        + ', '.join('%s (%s)' % item for item in SHORT.items()))
    args = parser.parse_args(argv)
    unknown = set(args.kinds.split(',')) - set(SHORT)
    if unknown:
        parser.error('unknown configurations: %s' % ', '.join(sorted(unknown)))
    kinds = [SHORT[k] for k in SHORT if k in args.kinds.split(',')] + ['hand']
    tag = uuid.uuid4().hex[:4]
    labs = dict((kind, 'ipf%s%d' % (tag, i)) for i, kind in enumerate(KINDS))
    inventory = write_inventory(os.path.join(REPO, '.tmp', 'bench-filter-%s' % tag), args.peers)
    out = dict(kinds=kinds, reps=args.reps, seconds=args.seconds, peers=args.peers + 1, load_before=loadavg(), chains={})
    built = []
    try:
        for kind in kinds:
            lab = labs[kind]
            built.append(lab)
            playbook(inventory, lab, os.path.join(REPO, 'playbooks', 'lab.yml'))
            if kind == 'hand':
                for i, (host, _ip, _cidr) in enumerate(REAL):
                    dataplane.sh(lab, host, hand_script(i, args.peers), timeout=600)
            else:
                t = time.monotonic()
                playbook(inventory, lab, os.path.join(REPO, 'playbooks', 'site.yml'), '-e', 'mode=vxlan',
                         '--limit', 'worker2,worker3', *EXTRA[kind])
                out.setdefault('converge_seconds', {})[kind] = round(time.monotonic() - t, 1)
                if kind in ON_TOP:
                    for host, _ip, _cidr in REAL:
                        ON_TOP[kind](lab, host, args.peers)
            out['chains'][kind] = dict((host, len(input_rules(lab, host))) for host, _ip, _cidr in REAL)
            out.setdefault('nft_peers', {})[kind] = dict((host, nft_peers(lab, host)) for host, _ip, _cidr in REAL)
            if not dataplane.check_path(lab, dataplane.pod_ip(1)):
                raise RuntimeError('%s: no pod-to-pod path in lab %s' % (kind, lab))
        configs = [Config(kind, labs[kind], 'ns1', dataplane.pod_ip(1), dataplane.PORT_POD) for kind in kinds]
        samples = measure(configs, args.reps, args.seconds, args.seconds)
    finally:
        for lab in built:
            try:
                playbook(inventory, lab, os.path.join(REPO, 'playbooks', 'lab.yml'), '-e', 'lab_state=absent')
            except RuntimeError:
                dataplane.force_teardown(lab)
        shutil.rmtree(inventory, ignore_errors=True)
    out['load_after'] = loadavg()
    hand = samples['hand']
    rows = []
    for kind in kinds:
        s = samples[kind]
        row = dict(config=kind, tcp=statistics.median(s['tcp']), udp=statistics.median(s['udp']), input_rules=out['chains'][kind],
                   nft_peers=out['nft_peers'][kind])
        row['r_tcp'] = round(row['tcp'] / statistics.median(hand['tcp']), 3)
        row['r_udp'] = round(row['udp'] / statistics.median(hand['udp']), 3)
        row['paired_tcp'] = round(statistics.median(a / b for a, b in zip(s['tcp'], hand['tcp'])), 3)
        row['paired_udp'] = round(statistics.median(a / b for a, b in zip(s['udp'], hand['udp'])), 3)
        rows.append(row)
    out.update(rows=rows, samples=samples)
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print('load average before %s, after %s; %d peers; %d x (%g s TCP + %g s UDP)'
          % (' '.join(out['load_before']), ' '.join(out['load_after']), args.peers + 1, args.reps, args.seconds, args.seconds))
    print('| configuration | PODNET-INPUT rules (worker2, worker3) | nftables set elements | TCP Gbit/s | x hand | paired | '
          '64-byte UDP kpps | x hand | paired |')
    print('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        print('| %s | %s | %s | %.2f | %.2f | %.2f | %.1f | %.2f | %.2f |' % (
            r['config'], ', '.join(str(r['input_rules'][h]) for h, _i, _c in REAL),
            ', '.join(str(r['nft_peers'][h]) for h, _i, _c in REAL), r['tcp'], r['r_tcp'], r['paired_tcp'],
            r['udp'], r['r_udp'], r['paired_udp']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
