# -*- coding: utf-8 -*-
"""openkube.podnet.ipip checks that run INSIDE User-Mode Linux.

This machine's kernel has no ipip, so tests/integration/modules/test_ipip.py boots User-Mode Linux
once and runs this file there with pytest; it asserts that every check here passed (none skipped).
The file name does not match test_*.py on purpose: it is not collected on the machine itself.

The kernel's state is read with `ip -j -d link show`, never through our code. Each module run costs
about 2.5 s inside the guest, so the checks use `ip` to set up state and run the module only for
what is being checked.
"""

from __future__ import annotations

import os

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh


@pytest.fixture(autouse=True, scope='module')
def ipip_kernel():
    assert os.path.isdir('/sys/module/ipip'), (
        'this kernel has no ipip module loaded: run these checks through '
        'tests/integration/modules/test_ipip.py (User-Mode Linux)')


@pytest.fixture
def lab(netns):
    """A namespace with two up underlay devices: u0 (10.9.0.1/24) and w0 (10.9.1.1/24)."""
    ns = netns('tun')
    for dev, peer, addr in (('u0', 'u1', '10.9.0.1/24'), ('w0', 'w1', '10.9.1.1/24')):
        sh('ip', '-n', ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', peer)
        sh('ip', '-n', ns, 'addr', 'add', addr, 'dev', dev)
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
    return ns


def link(ns, name):
    for entry in ipj(ns, '-d', 'link', 'show'):
        if entry['ifname'] == name:
            return entry
    return None


def links(ns):
    """What a module could have changed, per device (operstate and carrier settle on their own)."""
    return sorted((e['ifindex'], e['ifname'], e.get('linkinfo'), e['mtu'], e.get('address'), 'UP' in e['flags'])
                  for e in ipj(ns, '-d', 'link', 'show'))


def kernel_view(entry):
    data = entry['linkinfo']['info_data']
    ttl = data.get('ttl', 0)
    return dict(kind=entry['linkinfo']['info_kind'], local=data.get('local'), remote=data.get('remote'),
                dev=data.get('link'), ttl=0 if ttl == 'inherit' else ttl, mtu=entry['mtu'],
                up='UP' in entry['flags'])


def ip_tunnel(ns, *extra):
    sh('ip', '-n', ns, 'link', 'add', 'pt0', 'type', 'ipip', 'local', '10.9.0.1', 'dev', 'u0')
    sh('ip', '-n', ns, 'link', 'set', 'pt0', *(extra + ('up',)))
    return link(ns, 'pt0')


def args(ns, **extra):
    base = dict(netns=ns, name='pt0', local='10.9.0.1', dev='u0')
    base.update(extra)
    return base


def test_four_runs_one_to_many(lab):
    first_check, applied, second_check, again = four_runs('ipip', args(lab))
    assert first_check['changed'] is True
    assert first_check['actions'] == applied['actions'] == ['add ipip device pt0 local 10.9.0.1 remote any dev u0 up']
    view = kernel_view(link(lab, 'pt0'))
    assert view == dict(kind='ipip', local='10.9.0.1', remote='any', dev='u0', ttl=0, mtu=1480, up=True), view
    entry = dict(name='pt0', kind='ipip', local='10.9.0.1', remote='0.0.0.0', dev='u0', ttl=0, mtu=1480, up=True)
    assert diff_lists(applied) == dict(before=[], after=[entry])
    assert again['ipip'] == diff_lists(again)['before'] == diff_lists(again)['after'] == [entry]


@pytest.mark.parametrize('change, field, expected', [
    (dict(remote='10.9.0.7'), 'remote', '10.9.0.7'),
    (dict(ttl=64), 'ttl', 64),
    (dict(local='10.9.0.2'), 'local', '10.9.0.2'),
    (dict(local='10.9.1.1', dev='w0'), 'dev', 'w0'),
])
def test_incompatible_change_recreates_keeping_mtu(lab, change, field, expected):
    before = ip_tunnel(lab, 'mtu', '1400')
    result = run_module('ipip', args(lab, **change))
    assert result['changed'] is True and result['actions'][0].startswith('recreate ipip device pt0 '), result
    after = link(lab, 'pt0')
    assert after['ifindex'] != before['ifindex'], 'not recreated'
    view = kernel_view(after)
    assert view[field] == expected, view
    assert (view['mtu'], view['up']) == (1400, True), view
    assert diff_lists(result)['before'][0][field] != expected
    # read back from the kernel after the run: it now matches every wanted field, so a rerun changes nothing
    # (each run costs seconds in the guest; test_four_runs_one_to_many proves the rerun itself)
    wanted = dict(args(lab, **change), remote=change.get('remote', '0.0.0.0'), ttl=change.get('ttl', 0))
    assert dict((k, diff_lists(result)['after'][0][k]) for k in ('local', 'remote', 'ttl', 'dev')) == \
        dict((k, wanted[k]) for k in ('local', 'remote', 'ttl', 'dev'))


def test_check_mode_predicts_recreation_and_changes_nothing(lab):
    ip_tunnel(lab)
    before = links(lab)
    predicted = run_module('ipip', args(lab, remote='10.9.0.7', ttl=64), check=True)
    assert predicted['changed'] is True
    assert predicted['actions'] == ['recreate ipip device pt0 local 10.9.0.1 remote 10.9.0.7 dev u0 ttl 64 mtu 1480 up '
                                    '(remote: 0.0.0.0 -> 10.9.0.7, ttl: 0 -> 64)']
    assert links(lab) == before


def test_mtu_and_up_change_in_place(lab):
    before = ip_tunnel(lab)
    result = run_module('ipip', args(lab, mtu=1400, up=False))
    assert result['actions'] == ['update ipip device pt0 local 10.9.0.1 remote any dev u0 mtu 1400 down '
                                 '(mtu: 1480 -> 1400, up: True -> False)'], result
    after = link(lab, 'pt0')
    assert after['ifindex'] == before['ifindex']
    assert (after['mtu'], 'UP' in after['flags']) == (1400, False)
    assert run_module('ipip', args(lab, up=False))['changed'] is False  # mtu omitted: kept


def test_absent(lab):
    ip_tunnel(lab)
    first_check, applied, second_check, again = four_runs('ipip', dict(netns=lab, name='pt0', state='absent'))
    assert first_check['changed'] is True
    assert applied['actions'] == ['delete ipip device pt0 local 10.9.0.1 remote any dev u0 mtu 1480 up']
    assert again['ipip'] == diff_lists(applied)['after'] == []
    assert link(lab, 'pt0') is None and link(lab, 'u0') is not None
    assert link(lab, 'tunl0') is not None


def test_device_of_another_kind_is_never_touched(lab):
    before = links(lab)
    result = run_module('ipip', dict(netns=lab, name='u0', local='10.9.0.1'))
    assert result.get('failed') and 'device u0' in result['msg'] and 'veth' in result['msg'], result
    absent = run_module('ipip', dict(netns=lab, name='u0', state='absent'))
    assert not absent.get('failed') and absent['changed'] is False, absent
    assert links(lab) == before


def test_duplicate_parameters_explained(lab):
    ip_tunnel(lab)
    before = links(lab)
    result = run_module('ipip', args(lab, name='pt1'))
    assert result.get('failed') and 'File exists' in result['msg'] and 'only one ipip device' in result['msg'], result
    assert links(lab) == before


def test_missing_underlay(lab):
    before = links(lab)
    result = run_module('ipip', args(lab, dev='nosuch0'))
    assert result.get('failed') and 'nosuch0' in result['msg'] and 'does not exist' in result['msg'], result
    assert links(lab) == before


def test_check_mode_against_missing_namespace_creates_nothing():
    name = 'pnt-missing-tun'
    predicted = run_module('ipip', dict(netns=name, name='pt0', local='10.9.0.1'), check=True)
    assert predicted['changed'] is True and predicted['actions'] == ['add ipip device pt0 local 10.9.0.1 remote any up']
    assert not os.path.exists('/run/netns/' + name)
    result = run_module('ipip', dict(netns=name, name='pt0', local='10.9.0.1'))
    assert result.get('failed') and name in result['msg'], result
    assert not os.path.exists('/run/netns/' + name)


BAD_INPUT = [
    (dict(local='10.9.0.300'), 'local', '10.9.0.300'),
    (dict(local='fd00::1'), 'local', 'IPv4'),
    (dict(remote='239.1.1.1'), 'remote', 'multicast'),
    (dict(ttl=256), 'ttl', '256'),
    (dict(mtu=67), 'mtu', '67'),
    (dict(dev='u0/x'), 'dev', 'u0/x'),
    (dict(name='tunl0'), 'name', 'tunl0'),
    (dict(name='pt0-this-is-too-long'), 'name', 'pt0-this-is-too-long'),
]


@pytest.mark.parametrize('bad, option, text', BAD_INPUT, ids=[repr(row[0]) for row in BAD_INPUT])
def test_bad_input_fails_before_any_change(lab, bad, option, text):
    ip_tunnel(lab)
    before = links(lab)
    wanted = args(lab, remote='10.9.0.9')  # would recreate pt0 if it got that far
    wanted.update(bad)
    result = run_module('ipip', wanted)
    assert result.get('failed'), result
    assert option in result['msg'] and text in result['msg'], result['msg']
    assert links(lab) == before
