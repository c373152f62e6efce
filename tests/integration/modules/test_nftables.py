# -*- coding: utf-8 -*-
"""openkube.podnet.nftables against the real kernel's nf_tables, inside throwaway namespaces only. The tables are
read back with `nft -j` run by `ip netns exec` (not by our code); the filter is proven with real UDP datagrams
between two namespaces, counted by the receiver's kernel (/proc/net/snmp)."""

from __future__ import annotations

import json

from kernel import four_runs, run_module, send_udp, sh, udp_noports

PEERS = ['10.57.4.21', '10.56.0.1']
TABLE = dict(name='podnet', sets=[dict(name='peers', elements=PEERS)], chains=[dict(
    name='input', hook='input', rules=[dict(protocol='udp', dport=8472, saddr_not_in='peers'),
                                       dict(protocol='ipip', saddr_not_in='peers')])])


def listing(ns, *what):
    """`nft -j list ...` in the namespace, without the metainfo."""
    out = json.loads(sh('ip', 'netns', 'exec', ns, 'nft', '-j', 'list', *what))
    return [item for item in out['nftables'] if 'metainfo' not in item]


def tables(ns):
    return sorted((t['table']['family'], t['table']['name']) for t in listing(ns, 'tables'))


def test_table_four_runs_changes_drift_and_purge_beside_a_foreign_table(netns):
    ns = netns()
    sh('ip', 'netns', 'exec', ns, 'nft', 'add table inet theirs; add chain inet theirs input '
       '{ type filter hook input priority 10; policy accept; }')
    args = dict(netns=ns, tables=[TABLE], purge=True)
    first_check, applied, _second_check, again = four_runs('nftables', args)
    assert first_check['actions'] == applied['actions'] and len(applied['actions']) == 1, applied
    assert first_check['diff']['after'] == applied['diff']['after'], (first_check['diff'], applied['diff'])
    items = listing(ns, 'table', 'ip', 'podnet')
    assert [i['set']['elem'] for i in items if 'set' in i] == [sorted(PEERS, key=lambda a: tuple(map(int, a.split('.'))))]
    chain = [i['chain'] for i in items if 'chain' in i]
    assert [(c['name'], c['type'], c['hook'], c['prio'], c['policy']) for c in chain] == [('input', 'filter', 'input', 0, 'accept')]
    exprs = [i['rule']['expr'] for i in items if 'rule' in i]
    assert len(exprs) == 2 and all(e[-1] == {'drop': None} for e in exprs), exprs
    assert exprs[0][0]['match']['left'] == {'payload': {'protocol': 'udp', 'field': 'dport'}} and exprs[0][0]['match']['right'] == 8472
    assert again['tables'][0]['chains']['input']['rules'] == ['udp dport 8472 ip saddr != @peers drop',
                                                              'ip protocol 4 ip saddr != @peers drop'], again
    # a peer leaves, another joins: the table is replaced, the elements read back
    moved = dict(TABLE, sets=[dict(name='peers', elements=['10.57.4.21', '10.57.4.22'])])
    changed = run_module('nftables', dict(args, tables=[moved]))
    assert changed['changed'] is True, changed
    assert [i['set']['elem'] for i in listing(ns, 'table', 'ip', 'podnet') if 'set' in i] == [['10.57.4.21', '10.57.4.22']]
    # a rule added by hand makes the table differ: the next run removes it (check mode says so first)
    sh('ip', 'netns', 'exec', ns, 'nft', 'add rule ip podnet input tcp dport 22 accept')
    drift = run_module('nftables', dict(args, tables=[moved]), check=True)
    assert drift['changed'] is True and 'unrecognised' in json.dumps(drift['diff']), drift
    run_module('nftables', dict(args, tables=[moved]))
    assert len([i for i in listing(ns, 'table', 'ip', 'podnet') if 'rule' in i]) == 2
    # purge with nothing wanted removes the collection's table, never the foreign one
    purged = run_module('nftables', dict(netns=ns, tables=[], purge=True))
    assert purged['changed'] is True and tables(ns) == [('inet', 'theirs')], (purged, tables(ns))


def test_the_filter_drops_vxlan_from_others_only(netns):
    """Two namespaces on a veth: the receiver (10.57.4.20) with the table; the sender holds a peer's address
    (10.57.4.21) and a stranger's (10.57.4.99). Nothing listens on 8472, so every datagram the filter lets through
    is counted by the receiver's kernel as Udp NoPorts; the stranger's never get that far."""
    rx, tx = netns('nfr'), netns('nfs')
    sh('ip', 'link', 'add', 'nft-rx', 'netns', rx, 'type', 'veth', 'peer', 'name', 'nft-tx', 'netns', tx)
    for ns, dev, addrs in ((rx, 'nft-rx', ['10.57.4.20/24']), (tx, 'nft-tx', ['10.57.4.21/24', '10.57.4.99/24'])):
        for addr in addrs:
            sh('ip', '-n', ns, 'addr', 'add', addr, 'dev', dev)
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
    before = udp_noports(rx)
    send_udp(tx, '10.57.4.99', 3)
    assert udp_noports(rx) == before + 3  # no filter yet: the stranger's datagrams arrive
    applied = run_module('nftables', dict(netns=rx, tables=[TABLE]))
    assert applied['changed'] is True, applied
    before = udp_noports(rx)
    send_udp(tx, '10.57.4.99', 5)
    send_udp(tx, '10.57.4.21', 4)
    assert udp_noports(rx) == before + 4  # the peer's four, none of the stranger's five


def test_bad_input_names_the_option_and_changes_nothing(netns):
    ns = netns()
    for tables_, expected in (
            ([dict(TABLE, name='filter')], "tables[0].name: 'filter' is not a table of the collection"),
            ([dict(TABLE, sets=[dict(name='peers', elements=['10.57.4.300'])])], 'tables[0].sets[0].elements[0]'),
            ([dict(TABLE, family='ip6', sets=[dict(name='peers', elements=['fd57:4::21'])])],
             'tables[0].chains[0].rules[1].protocol: ipip is IPv4'),
            ([dict(TABLE, chains=[dict(name='input', hook='input',
                                       rules=[dict(protocol='udp', dport=8472, saddr_not_in='nodes')])])],
             "tables[0].chains[0].rules[0].saddr_not_in: 'nodes' is not a set of the table (peers)")):
        got = run_module('nftables', dict(netns=ns, tables=tables_))
        assert got.get('failed') and expected in got['msg'], (expected, got)
    assert tables(ns) == []
