# -*- coding: utf-8 -*-
"""openkube.podnet.bpf_filter against the real kernel: the program loaded, attached at a veth's tc ingress inside
throwaway namespaces only, and read back independently of our code (`tc -j filter show`, `bpftool -j prog show`,
`bpftool -j map dump`). The filter is proven with real UDP datagrams between two namespaces, counted by the
receiver's kernel (/proc/net/snmp's Udp NoPorts: nothing listens, so every datagram the filter lets through is
counted there)."""

from __future__ import annotations

import json

from kernel import four_runs, run_module, send_udp, sh, udp_noports

PEERS = ['10.57.4.21', '10.56.0.1']


def tc_filters(ns, dev):
    """The ingress filters with options (`tc -j filter show dev DEV ingress`), [] without clsact."""
    out = sh('ip', 'netns', 'exec', ns, 'tc', '-j', 'filter', 'show', 'dev', dev, 'ingress')
    return [f for f in json.loads(out or '[]') if f.get('options')]


def qdiscs(ns, dev):
    return [q['kind'] for q in json.loads(sh('ip', 'netns', 'exec', ns, 'tc', '-j', 'qdisc', 'show', 'dev', dev))]


def map_keys(prog_id):
    """The keys of the program's map as bpftool reads them (bytes -> dotted quad)."""
    prog = json.loads(sh('bpftool', '-j', 'prog', 'show', 'id', str(prog_id)))
    assert len(prog['map_ids']) == 1, prog
    dump = json.loads(sh('bpftool', '-j', 'map', 'dump', 'id', str(prog['map_ids'][0])))
    keys = []
    for item in dump:
        raw = item.get('key') if 'formatted' not in item else item['formatted']['key']
        keys.append('.'.join(str(int(b, 16)) for b in raw) if isinstance(raw, list) else str(raw))
    return sorted(keys, key=lambda a: tuple(int(x) for x in a.split('.')))


def pair(netns, name='bpf'):
    """Two namespaces on a veth: the receiver (10.57.4.20, device DEV-rx) and a sender holding a peer's address
    (10.57.4.21) and a stranger's (10.57.4.99)."""
    rx, tx = netns(name + 'r'), netns(name + 's')
    sh('ip', 'link', 'add', name + '-rx', 'netns', rx, 'type', 'veth', 'peer', 'name', name + '-tx', 'netns', tx)
    for ns, dev, addrs in ((rx, name + '-rx', ['10.57.4.20/24']), (tx, name + '-tx', ['10.57.4.21/24', '10.57.4.99/24'])):
        for addr in addrs:
            sh('ip', '-n', ns, 'addr', 'add', addr, 'dev', dev)
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
    return rx, tx, name + '-rx'


def test_four_runs_peers_in_place_port_swapped_and_purge_beside_a_foreign_filter(netns):
    rx, _tx, dev = pair(netns)
    sh('ip', 'netns', 'exec', rx, 'tc', 'qdisc', 'add', 'dev', dev, 'clsact')
    sh('ip', 'netns', 'exec', rx, 'tc', 'filter', 'add', 'dev', dev, 'ingress', 'prio', '20', 'protocol', 'all',
       'u32', 'match', 'u32', '0', '0', 'flowid', '1:1')
    args = dict(netns=rx, filters=[dict(dev=dev, protocol='udp', dport=8472, peers=PEERS)], purge=True)
    first_check, applied, _second_check, again = four_runs('bpf_filter', args)
    assert first_check['actions'] == applied['actions'] and len(applied['actions']) == 1, applied
    assert first_check['diff']['after'] == applied['diff']['after'], (first_check['diff'], applied['diff'])
    assert again['filters'] == [dict(dev=dev, name='podnet-udp-8472', protocol='udp', dport=8472, program='podnet',
                                     peers=['10.56.0.1', '10.57.4.21'])], again
    ours = [f for f in tc_filters(rx, dev) if f['kind'] == 'bpf']
    assert len(ours) == 1 and ours[0]['pref'] == 10 and ours[0]['options']['bpf_name'] == 'podnet-udp-8472', ours
    assert ours[0]['options']['direct-action'] is True
    prog_id = ours[0]['options']['prog']['id']
    assert map_keys(prog_id) == ['10.56.0.1', '10.57.4.21']
    # a peer leaves, another joins: the map changes in place, the program stays
    moved = dict(args, filters=[dict(args['filters'][0], peers=['10.57.4.21', '10.57.4.22'])])
    predicted = run_module('bpf_filter', moved, check=True)
    assert predicted['actions'] == ['update the peers of the eBPF filter on %s: add 10.57.4.22; delete 10.56.0.1' % dev]
    assert map_keys(prog_id) == ['10.56.0.1', '10.57.4.21']  # check mode changed nothing
    assert run_module('bpf_filter', moved)['actions'] == predicted['actions']
    assert [f['options']['prog']['id'] for f in tc_filters(rx, dev) if f['kind'] == 'bpf'] == [prog_id]
    assert map_keys(prog_id) == ['10.57.4.21', '10.57.4.22']
    # another port: a new program and map swapped in at the same place
    ported = dict(args, filters=[dict(moved['filters'][0], dport=4789)])
    assert run_module('bpf_filter', ported)['changed'] is True
    ours = [f for f in tc_filters(rx, dev) if f['kind'] == 'bpf']
    assert [(f['pref'], f['options']['bpf_name']) for f in ours] == [(10, 'podnet-udp-4789')], ours
    assert ours[0]['options']['prog']['id'] != prog_id and map_keys(ours[0]['options']['prog']['id']) == ['10.57.4.21', '10.57.4.22']
    assert run_module('bpf_filter', ported)['changed'] is False
    # purge with nothing wanted removes ours, never the foreign filter (nor the qdisc that holds it)
    purged = run_module('bpf_filter', dict(netns=rx, filters=[], purge=True))
    assert purged['changed'] is True and purged['filters'] == [], purged
    assert [f['kind'] for f in tc_filters(rx, dev)] == ['u32', 'u32'] and 'clsact' in qdiscs(rx, dev)
    # alone, ours takes the qdisc it added with it
    sh('ip', 'netns', 'exec', rx, 'tc', 'qdisc', 'del', 'dev', dev, 'clsact')
    run_module('bpf_filter', args)
    assert 'clsact' in qdiscs(rx, dev)
    gone = run_module('bpf_filter', dict(args, state='absent'))
    assert gone['changed'] is True and tc_filters(rx, dev) == [] and 'clsact' not in qdiscs(rx, dev), gone


def test_the_filter_drops_vxlan_from_others_only(netns):
    rx, tx, dev = pair(netns, 'bpq')
    before = udp_noports(rx)
    send_udp(tx, '10.57.4.99', 3)
    assert udp_noports(rx) == before + 3  # no filter yet: the stranger's datagrams arrive
    applied = run_module('bpf_filter', dict(netns=rx, filters=[dict(dev=dev, protocol='udp', dport=8472, peers=PEERS)]))
    assert applied['changed'] is True, applied
    before = udp_noports(rx)
    send_udp(tx, '10.57.4.99', 5)
    send_udp(tx, '10.57.4.21', 4)
    send_udp(tx, '10.57.4.99', 2, port=4789)  # not the encapsulation: passed on
    assert udp_noports(rx) == before + 4 + 2  # the peer's four and the other port's two; none of the stranger's five
    # the peer leaves the map: its datagrams are dropped too
    run_module('bpf_filter', dict(netns=rx, filters=[dict(dev=dev, protocol='udp', dport=8472, peers=['10.56.0.1'])]))
    before = udp_noports(rx)
    send_udp(tx, '10.57.4.21', 4)
    assert udp_noports(rx) == before


def test_bad_input_names_the_option_and_changes_nothing(netns):
    rx, _tx, dev = pair(netns, 'bpb')
    for filters, expected in (
            ([dict(dev=dev, protocol='udp', dport=8472, peers=['10.57.4.300'])], 'filters[0].peers[0]'),
            ([dict(dev=dev, protocol='udp', dport=8472, peers=['fd57:4::21'])], 'filters[0].peers[0]'),
            ([dict(dev=dev, protocol='ipip', dport=8472)], 'filters[0].dport: IP-in-IP has no port'),
            ([dict(dev=dev, protocol='udp', dport=70000)], 'filters[0].dport'),
            ([dict(dev='nosuchdev', protocol='ipip')], 'device nosuchdev does not exist in namespace %s' % rx),
            ([dict(dev='lo', protocol='ipip')], 'lo in namespace %s is not an Ethernet device' % rx)):
        got = run_module('bpf_filter', dict(netns=rx, filters=filters))
        assert got.get('failed') and expected in got['msg'] and 'Traceback' not in got['msg'], (expected, got)
    assert tc_filters(rx, dev) == [] and 'clsact' not in qdiscs(rx, dev) and 'clsact' not in qdiscs(rx, 'lo')
