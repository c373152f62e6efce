# -*- coding: utf-8 -*-
"""The nftables resource without a kernel: validation, the canonical rules read back from `nft -j`, the script."""

from __future__ import annotations

from ansible_collections.openkube.podnet.plugins.module_utils import _nftables
from ansible_collections.openkube.podnet.plugins.module_utils._resource import Change

TABLE = dict(name='podnet', sets=[dict(name='peers', elements=['10.57.4.21', '10.56.0.1', '10.57.4.21'])],
             chains=[dict(name='input', hook='input', rules=[dict(protocol='udp', dport=8472, saddr_not_in='peers'),
                                                             dict(protocol='ipip', saddr_not_in='peers')])])
#: `nft -j list table ip podnet` of nft 1.0.6 for TABLE (handles and metainfo as nft prints them)
LISTING = {'nftables': [
    {'metainfo': {'version': '1.0.6', 'json_schema_version': 1}},
    {'table': {'family': 'ip', 'name': 'podnet', 'handle': 1}},
    {'set': {'family': 'ip', 'name': 'peers', 'table': 'podnet', 'type': 'ipv4_addr', 'handle': 2,
             'elem': ['10.57.4.21', '10.56.0.1']}},
    {'chain': {'family': 'ip', 'table': 'podnet', 'name': 'input', 'handle': 1, 'type': 'filter', 'hook': 'input',
               'prio': 0, 'policy': 'accept'}},
    {'rule': {'family': 'ip', 'table': 'podnet', 'chain': 'input', 'handle': 3, 'expr': [
        {'match': {'op': '==', 'left': {'payload': {'protocol': 'udp', 'field': 'dport'}}, 'right': 8472}},
        {'match': {'op': '!=', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@peers'}},
        {'drop': None}]}},
    {'rule': {'family': 'ip', 'table': 'podnet', 'chain': 'input', 'handle': 4, 'expr': [
        {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'protocol'}}, 'right': 'ipencap'}},
        {'match': {'op': '!=', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@peers'}},
        {'drop': None}]}},
]}


def test_wanted_is_what_nft_lists():
    wanted = _nftables.wanted_from_params(dict(tables=[TABLE]))
    assert wanted == [_nftables.parse_table(LISTING)]
    assert wanted[0]['sets'] == {'peers': ['10.56.0.1', '10.57.4.21']}  # sorted by address, once each
    assert wanted[0]['chains']['input']['rules'] == [
        'udp dport 8472 ip saddr != @peers drop', 'ip protocol 4 ip saddr != @peers drop']


def test_a_rule_not_written_by_the_module_reads_back_unrecognised():
    counter = [{'counter': {'packets': 0, 'bytes': 0}}]
    assert _nftables._canonical_rule('ip', counter).startswith('unrecognised: [{"counter"')
    accept = [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': 22}},
              {'accept': None}]
    assert _nftables._canonical_rule('ip', accept).startswith('unrecognised: ')


def test_script_replaces_a_table_whole_in_one_transaction():
    entry = _nftables.wanted_from_params(dict(tables=[TABLE]))[0]
    text = _nftables.script([Change('update', before=entry, after=entry), Change('delete', before=dict(entry, name='podnet2'))])
    lines = text.splitlines()
    assert lines[:3] == ['table ip podnet', 'delete table ip podnet', 'table ip podnet {']
    assert '    elements = { 10.56.0.1, 10.57.4.21 }' in lines
    assert '    type filter hook input priority 0; policy accept;' in lines
    assert lines[-1] == 'delete table ip podnet2'


def test_ip6_table_of_ipv6_addresses():
    table = dict(name='podnet', family='ip6', sets=[dict(name='peers', elements=['FD57:4::21'])],
                 chains=[dict(name='input', hook='input', rules=[dict(protocol='udp', dport=8472, saddr_not_in='peers')])])
    got = _nftables.wanted_from_params(dict(tables=[table]))[0]
    assert got['sets'] == {'peers': ['fd57:4::21']}
    assert got['chains']['input']['rules'] == ['udp dport 8472 ip6 saddr != @peers drop']
    assert 'type ipv6_addr' in _nftables.script([Change('add', after=got)])
