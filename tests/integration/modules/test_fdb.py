# -*- coding: utf-8 -*-
"""openkube.podnet.fdb against this machine's kernel, in throwaway namespaces.

The kernel's state is read with `bridge -j fdb show dev`, never through our code.
"""

from __future__ import annotations

import os

import pytest

from kernel import bridgej, diff_lists, four_runs, run_module, sh

A = '0e:8a:15:00:00:22'
B = '0e:8a:15:00:00:23'
C = '0e:8a:15:00:00:24'


@pytest.fixture
def lab(netns):
    """A namespace with vxlan devices made with `ip`: vx1 (learning off, no remote) and vx2 (remote 10.9.0.50)."""
    ns = netns('fdb')
    sh('ip', '-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1')
    sh('ip', '-n', ns, 'addr', 'add', '10.9.0.1/24', 'dev', 'u0')
    sh('ip', '-n', ns, 'link', 'set', 'u0', 'up')
    sh('ip', '-n', ns, 'link', 'add', 'vx1', 'type', 'vxlan', 'id', '1', 'dev', 'u0', 'local', '10.9.0.1',
       'dstport', '8472', 'nolearning')
    sh('ip', '-n', ns, 'link', 'add', 'vx2', 'type', 'vxlan', 'id', '2', 'dev', 'u0', 'remote', '10.9.0.50',
       'dstport', '8472')
    for dev in ('vx1', 'vx2'):
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
    return ns


def fdb(ns, dev):
    """Sorted (mac, dst, state, flags) of `bridge -j fdb show dev`."""
    return sorted((e['mac'], e.get('dst'), e.get('state', ''), tuple(e.get('flags', ())))
                  for e in bridgej(ns, 'fdb', 'show', 'dev', dev))


def bridge_fdb(ns, *args):
    sh('bridge', '-n', ns, 'fdb', *args)


def perm(mac, dst):
    return (mac, dst, 'permanent', ('self',))


def test_fresh_device_lists_nothing_and_remote_device_has_kernel_entry(lab):
    """What the kernel makes by itself: nothing on vx1; the all-zero default destination on vx2."""
    assert fdb(lab, 'vx1') == []
    assert fdb(lab, 'vx2') == [perm('00:00:00:00:00:00', '10.9.0.50')]
    result = run_module('fdb', dict(netns=lab, dev='vx2', entries=[], purge=True))
    assert result['changed'] is False and result['entries'] == []
    assert fdb(lab, 'vx2') == [perm('00:00:00:00:00:00', '10.9.0.50')]


def test_four_runs(lab):
    wanted = dict(netns=lab, dev='vx1', entries=[dict(mac=A.upper(), dst='10.9.0.2'), dict(mac=B, dst='10.9.0.3')])
    first_check, applied, second_check, again = four_runs('fdb', wanted)
    assert first_check['changed'] is True
    assert sorted(applied['actions']) == sorted(first_check['actions']) == [
        'add %s dst 10.9.0.2 dev vx1 self permanent' % A, 'add %s dst 10.9.0.3 dev vx1 self permanent' % B]
    assert fdb(lab, 'vx1') == [perm(A, '10.9.0.2'), perm(B, '10.9.0.3')]
    assert fdb(lab, 'vx2') == [perm('00:00:00:00:00:00', '10.9.0.50')]
    entries = [dict(mac=A, dst='10.9.0.2', permanent=True), dict(mac=B, dst='10.9.0.3', permanent=True)]
    assert diff_lists(applied) == dict(before=[], after=entries)
    assert again['entries'] == diff_lists(again)['before'] == diff_lists(again)['after'] == entries


def test_new_destination_replaces_in_place(lab):
    bridge_fdb(lab, 'append', A, 'dst', '10.9.0.2', 'dev', 'vx1', 'self', 'permanent')
    wanted = dict(netns=lab, dev='vx1', entries=[dict(mac=A, dst='10.9.0.7')])
    first_check, applied, second_check, again = four_runs('fdb', wanted)
    assert applied['actions'] == first_check['actions'] == [
        'update %s dst 10.9.0.7 dev vx1 self permanent (dst: 10.9.0.2 -> 10.9.0.7)' % A]
    assert fdb(lab, 'vx1') == [perm(A, '10.9.0.7')]


def test_learned_entry_for_a_wanted_mac_becomes_permanent(lab):
    bridge_fdb(lab, 'add', A, 'dst', '10.9.0.2', 'dev', 'vx1', 'self', 'dynamic')
    assert fdb(lab, 'vx1') == [(A, '10.9.0.2', '', ('self',))]
    first_check, applied, second_check, again = four_runs('fdb', dict(netns=lab, dev='vx1', entries=[dict(mac=A, dst='10.9.0.2')]))
    assert applied['actions'] == first_check['actions'] == [
        'update %s dst 10.9.0.2 dev vx1 self permanent (permanent: False -> True)' % A]
    assert fdb(lab, 'vx1') == [perm(A, '10.9.0.2')]


def test_purge_removes_owned_entries_only(lab, netns):
    bridge_fdb(lab, 'append', B, 'dst', '10.9.0.3', 'dev', 'vx1', 'self', 'permanent')          # owned: goes
    bridge_fdb(lab, 'add', C, 'dst', '10.9.0.4', 'dev', 'vx1', 'self', 'dynamic')               # learned: stays
    bridge_fdb(lab, 'append', '00:00:00:00:00:00', 'dst', '10.9.0.60', 'dev', 'vx1', 'self', 'permanent')  # flood
    bridge_fdb(lab, 'append', B, 'dst', '10.9.0.3', 'dev', 'vx2', 'self', 'permanent')          # other device
    # a bridge port: the bridge's own (master) entries for vx1 are not ours either
    sh('ip', '-n', lab, 'link', 'add', 'br0', 'type', 'bridge')
    sh('ip', '-n', lab, 'link', 'set', 'vx1', 'master', 'br0')
    kept = [e for e in fdb(lab, 'vx1') if e[0] != B]
    assert any(e[1] is None and e[2] == 'permanent' for e in kept), kept  # vx1's own MAC, kept by br0
    other_before = fdb(lab, 'vx2')

    wanted = dict(netns=lab, dev='vx1', entries=[dict(mac=A, dst='10.9.0.2')], purge=True)
    first_check, applied, second_check, again = four_runs('fdb', wanted)
    assert sorted(applied['actions']) == sorted(first_check['actions']) == [
        'add %s dst 10.9.0.2 dev vx1 self permanent' % A, 'delete %s dst 10.9.0.3 dev vx1 self permanent' % B]
    assert fdb(lab, 'vx1') == sorted(kept + [perm(A, '10.9.0.2')])
    assert fdb(lab, 'vx2') == other_before
    assert diff_lists(applied) == dict(before=[dict(mac=B, dst='10.9.0.3', permanent=True)],
                                       after=[dict(mac=A, dst='10.9.0.2', permanent=True)])
    emptied = run_module('fdb', dict(netns=lab, dev='vx1', entries=[], purge=True))
    assert emptied['actions'] == ['delete %s dst 10.9.0.2 dev vx1 self permanent' % A]
    assert fdb(lab, 'vx1') == kept
    assert fdb(lab, 'vx2') == other_before


def test_absent_removes_listed_owned_entries_only(lab):
    bridge_fdb(lab, 'append', A, 'dst', '10.9.0.2', 'dev', 'vx1', 'self', 'permanent')
    bridge_fdb(lab, 'append', B, 'dst', '10.9.0.3', 'dev', 'vx1', 'self', 'permanent')
    bridge_fdb(lab, 'add', C, 'dst', '10.9.0.4', 'dev', 'vx1', 'self', 'dynamic')
    bridge_fdb(lab, 'append', A, 'dst', '10.9.0.2', 'dev', 'vx2', 'self', 'permanent')
    wanted = dict(netns=lab, dev='vx1', state='absent', entries=[dict(mac=A), dict(mac=C)])
    first_check, applied, second_check, again = four_runs('fdb', wanted)
    assert applied['actions'] == first_check['actions'] == ['delete %s dst 10.9.0.2 dev vx1 self permanent' % A]
    assert fdb(lab, 'vx1') == [perm(B, '10.9.0.3'), (C, '10.9.0.4', '', ('self',))]
    assert perm(A, '10.9.0.2') in fdb(lab, 'vx2')


BAD_INPUT = [
    (dict(entries=[dict(mac='0e:8a:15:00:00', dst='10.9.0.2')]), 'entries[0].mac', '0e:8a:15:00:00'),
    (dict(entries=[dict(mac='00:00:00:00:00:00', dst='10.9.0.2')]), 'entries[0].mac', 'all-zero'),
    (dict(entries=[dict(mac='33:33:00:00:00:01', dst='10.9.0.2')]), 'entries[0].mac', 'multicast'),
    (dict(entries=[dict(mac=A, dst='10.9.0.256')]), 'entries[0].dst', '10.9.0.256'),
    (dict(entries=[dict(mac=A, dst='239.1.1.1')]), 'entries[0].dst', '239.1.1.1'),
    (dict(entries=[dict(mac=A)]), 'entries[0].dst', 'required'),
    (dict(entries=[dict(mac=A, dst='10.9.0.2'), dict(mac=A.upper(), dst='10.9.0.3')]), 'entries[1].mac', 'listed twice'),
    (dict(dev='', entries=[]), 'dev', "''"),
]


@pytest.mark.parametrize('bad, option, text', BAD_INPUT, ids=[repr(row[0]) for row in BAD_INPUT])
def test_bad_input_fails_before_any_change(lab, bad, option, text):
    bridge_fdb(lab, 'append', B, 'dst', '10.9.0.3', 'dev', 'vx1', 'self', 'permanent')
    before = bridgej(lab, 'fdb', 'show')
    args = dict(netns=lab, dev='vx1', purge=True)
    args.update(bad)
    result = run_module('fdb', args)
    assert result.get('failed'), result
    assert option in result['msg'] and text in result['msg'], result['msg']
    assert bridgej(lab, 'fdb', 'show') == before


def test_missing_device_check_mode_predicts_and_apply_fails(lab):
    wanted = dict(netns=lab, dev='nosuch0', entries=[dict(mac=A, dst='10.9.0.2')])
    before = bridgej(lab, 'fdb', 'show')
    predicted = run_module('fdb', wanted, check=True)
    assert predicted['changed'] is True and predicted['actions'] == ['add %s dst 10.9.0.2 dev nosuch0 self permanent' % A]
    result = run_module('fdb', wanted)
    assert result.get('failed') and 'nosuch0' in result['msg'] and 'does not exist' in result['msg'], result
    assert bridgej(lab, 'fdb', 'show') == before


def test_check_mode_against_missing_namespace_creates_nothing():
    name = 'pnt-missing-fdb'
    assert not os.path.exists('/run/netns/' + name)
    wanted = dict(netns=name, dev='vx1', entries=[dict(mac=A, dst='10.9.0.2')])
    predicted = run_module('fdb', wanted, check=True)
    assert predicted['changed'] is True
    assert diff_lists(predicted) == dict(before=[], after=[dict(mac=A, dst='10.9.0.2', permanent=True)])
    assert not os.path.exists('/run/netns/' + name)
    result = run_module('fdb', wanted)
    assert result.get('failed') and name in result['msg'], result
    assert not os.path.exists('/run/netns/' + name)
