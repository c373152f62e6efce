# -*- coding: utf-8 -*-
"""openkube.podnet.neighbor against this machine's kernel, in throwaway namespaces.

The kernel's state is read with `ip -j neigh show dev`, never through our code.
"""

from __future__ import annotations

import os

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh

A = '0e:8a:15:00:00:22'
B = '0e:8a:15:00:00:23'


@pytest.fixture
def lab(netns):
    """A namespace with two vxlan devices, vx1 and vx2, made with `ip` (not with our modules)."""
    ns = netns('nb')
    sh('ip', '-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1')
    sh('ip', '-n', ns, 'link', 'set', 'u0', 'up')
    for name, vni in (('vx1', '1'), ('vx2', '2')):
        sh('ip', '-n', ns, 'link', 'add', name, 'type', 'vxlan', 'id', vni, 'dev', 'u0', 'dstport', '8472',
           'nolearning')
        sh('ip', '-n', ns, 'link', 'set', name, 'up')
    return ns


def neighs(ns, dev):
    """{ip: (lladdr, states)} for `ip -j neigh show dev` (which hides the kernel's NOARP entries)."""
    return dict((n['dst'], (n.get('lladdr'), tuple(n.get('state', ())))) for n in ipj(ns, 'neigh', 'show', 'dev', dev))


def ip_neigh(ns, *args):
    sh('ip', '-n', ns, 'neigh', *args)


def test_four_runs_ipv4_and_ipv6(lab):
    wanted = dict(netns=lab, dev='vx1', neighbors=[
        dict(ip='192.168.11.0', lladdr=A.upper()),
        dict(ip='FD00:0:0::11', lladdr=B),
    ])
    first_check, applied, second_check, again = four_runs('neighbor', wanted)
    assert first_check['changed'] is True
    assert sorted(first_check['actions']) == sorted(applied['actions']) == [
        'add 192.168.11.0 lladdr %s dev vx1' % A, 'add fd00::11 lladdr %s dev vx1' % B]
    assert neighs(lab, 'vx1') == {'192.168.11.0': (A, ('PERMANENT',)), 'fd00::11': (B, ('PERMANENT',))}
    assert neighs(lab, 'vx2') == {}
    entries = [dict(ip='192.168.11.0', lladdr=A, state='permanent'), dict(ip='fd00::11', lladdr=B, state='permanent')]
    assert diff_lists(applied) == dict(before=[], after=entries)
    assert again['neighbors'] == diff_lists(again)['before'] == diff_lists(again)['after'] == entries


def test_lladdr_change_and_learned_entry_become_permanent(lab):
    ip_neigh(lab, 'add', '192.168.11.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'permanent')
    ip_neigh(lab, 'add', '192.168.12.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'stale')
    wanted = dict(netns=lab, dev='vx1', neighbors=[dict(ip='192.168.11.0', lladdr=B), dict(ip='192.168.12.0', lladdr=B)])
    first_check, applied, second_check, again = four_runs('neighbor', wanted)
    assert sorted(applied['actions']) == sorted(first_check['actions']) == [
        'update 192.168.11.0 lladdr %s dev vx1 (lladdr: %s -> %s)' % (B, A, B),
        'update 192.168.12.0 lladdr %s dev vx1 (lladdr: %s -> %s, state: stale -> permanent)' % (B, A, B)]
    assert neighs(lab, 'vx1') == {'192.168.11.0': (B, ('PERMANENT',)), '192.168.12.0': (B, ('PERMANENT',))}
    assert dict((e['ip'], e['state']) for e in diff_lists(applied)['before']) == {
        '192.168.11.0': 'permanent', '192.168.12.0': 'stale'}


def test_purge_removes_owned_entries_only(lab):
    ip_neigh(lab, 'add', '192.168.13.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'permanent')   # owned: goes
    ip_neigh(lab, 'add', '192.168.14.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'stale')       # learned: stays
    ip_neigh(lab, 'add', '192.168.13.0', 'lladdr', A, 'dev', 'vx2', 'nud', 'permanent')   # other device: stays
    other_before = neighs(lab, 'vx2')
    wanted = dict(netns=lab, dev='vx1', neighbors=[dict(ip='192.168.11.0', lladdr=B)], purge=True)
    first_check, applied, second_check, again = four_runs('neighbor', wanted)
    assert sorted(applied['actions']) == sorted(first_check['actions']) == [
        'add 192.168.11.0 lladdr %s dev vx1' % B, 'delete 192.168.13.0 lladdr %s dev vx1' % A]
    assert neighs(lab, 'vx1') == {'192.168.11.0': (B, ('PERMANENT',)), '192.168.14.0': (A, ('STALE',))}
    assert neighs(lab, 'vx2') == other_before
    assert diff_lists(applied)['before'] == [dict(ip='192.168.13.0', lladdr=A, state='permanent')]
    assert diff_lists(applied)['after'] == [dict(ip='192.168.11.0', lladdr=B, state='permanent')]
    # purge with an empty list empties the owned table, and nothing else
    emptied = run_module('neighbor', dict(netns=lab, dev='vx1', neighbors=[], purge=True))
    assert emptied['changed'] is True and emptied['neighbors'] == []
    assert neighs(lab, 'vx1') == {'192.168.14.0': (A, ('STALE',))}
    assert neighs(lab, 'vx2') == other_before


def test_without_purge_unlisted_entries_stay(lab):
    ip_neigh(lab, 'add', '192.168.13.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'permanent')
    result = run_module('neighbor', dict(netns=lab, dev='vx1', neighbors=[dict(ip='192.168.11.0', lladdr=B)]))
    assert result['actions'] == ['add 192.168.11.0 lladdr %s dev vx1' % B]
    assert set(neighs(lab, 'vx1')) == {'192.168.11.0', '192.168.13.0'}


def test_absent_removes_listed_permanent_entries_only(lab):
    ip_neigh(lab, 'add', '192.168.11.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'permanent')
    ip_neigh(lab, 'add', '192.168.12.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'permanent')
    ip_neigh(lab, 'add', '192.168.14.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'stale')
    ip_neigh(lab, 'add', '192.168.11.0', 'lladdr', A, 'dev', 'vx2', 'nud', 'permanent')
    wanted = dict(netns=lab, dev='vx1', state='absent', neighbors=[dict(ip='192.168.11.0'), dict(ip='192.168.14.0')])
    first_check, applied, second_check, again = four_runs('neighbor', wanted)
    assert applied['actions'] == first_check['actions'] == ['delete 192.168.11.0 lladdr %s dev vx1' % A]
    assert neighs(lab, 'vx1') == {'192.168.12.0': (A, ('PERMANENT',)), '192.168.14.0': (A, ('STALE',))}
    assert neighs(lab, 'vx2') == {'192.168.11.0': (A, ('PERMANENT',))}


BAD_INPUT = [
    (dict(neighbors=[dict(ip='192.168.11.300', lladdr=A)]), 'neighbors[0].ip', '192.168.11.300'),
    (dict(neighbors=[dict(ip='192.168.11.0', lladdr='0e:8a:15')]), 'neighbors[0].lladdr', '0e:8a:15'),
    (dict(neighbors=[dict(ip='192.168.11.0', lladdr='01:00:5e:00:00:01')]), 'neighbors[0].lladdr', 'multicast'),
    (dict(neighbors=[dict(ip='192.168.11.0')]), 'neighbors[0].lladdr', 'required'),
    (dict(neighbors=[dict(ip='192.168.11.0', lladdr=A), dict(ip='192.168.11.00x', lladdr=A)]),
     'neighbors[1].ip', '192.168.11.00x'),
    (dict(neighbors=[dict(ip='192.168.11.0', lladdr=A), dict(ip='192.168.11.0', lladdr=B)]),
     'neighbors[1].ip', 'listed twice'),
    (dict(dev='vx 1', neighbors=[dict(ip='192.168.11.0', lladdr=A)]), 'dev', 'vx 1'),
]


@pytest.mark.parametrize('bad, option, text', BAD_INPUT, ids=[repr(row[0]) for row in BAD_INPUT])
def test_bad_input_fails_before_any_change(lab, bad, option, text):
    ip_neigh(lab, 'add', '192.168.13.0', 'lladdr', A, 'dev', 'vx1', 'nud', 'permanent')
    before = ipj(lab, 'neigh', 'show')
    args = dict(netns=lab, dev='vx1', purge=True)
    args.update(bad)
    result = run_module('neighbor', args)
    assert result.get('failed'), result
    assert option in result['msg'] and text in result['msg'], result['msg']
    assert ipj(lab, 'neigh', 'show') == before


def test_missing_device_check_mode_predicts_and_apply_fails(lab):
    wanted = dict(netns=lab, dev='nosuch0', neighbors=[dict(ip='192.168.11.0', lladdr=A)])
    before = ipj(lab, 'neigh', 'show')
    predicted = run_module('neighbor', wanted, check=True)
    assert predicted['changed'] is True and predicted['actions'] == ['add 192.168.11.0 lladdr %s dev nosuch0' % A]
    result = run_module('neighbor', wanted)
    assert result.get('failed') and 'nosuch0' in result['msg'] and 'does not exist' in result['msg'], result
    assert ipj(lab, 'neigh', 'show') == before


def test_check_mode_against_missing_namespace_creates_nothing():
    name = 'pnt-missing-nb'
    assert not os.path.exists('/run/netns/' + name)
    wanted = dict(netns=name, dev='vx1', neighbors=[dict(ip='192.168.11.0', lladdr=A)])
    predicted = run_module('neighbor', wanted, check=True)
    assert predicted['changed'] is True
    assert diff_lists(predicted) == dict(before=[], after=[dict(ip='192.168.11.0', lladdr=A, state='permanent')])
    assert not os.path.exists('/run/netns/' + name)
    result = run_module('neighbor', wanted)
    assert result.get('failed') and name in result['msg'], result
    assert not os.path.exists('/run/netns/' + name)
