# -*- coding: utf-8 -*-
"""openkube.podnet.vxlan against this machine's kernel, in throwaway namespaces.

The kernel's state is read with `ip -j -d link show`, never through our code.
"""

from __future__ import annotations

import os

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh

MAC = '0e:8a:15:00:00:21'


@pytest.fixture
def lab(netns):
    """A namespace with two up underlay devices: u0 (10.9.0.1/24) and w0 (10.9.1.1/24), MTU 1500."""
    ns = netns('vx')
    for dev, peer, addr in (('u0', 'u1', '10.9.0.1/24'), ('w0', 'w1', '10.9.1.1/24')):
        sh('ip', '-n', ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', peer)
        sh('ip', '-n', ns, 'addr', 'add', addr, 'dev', dev)
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
    return ns


def link(ns, name):
    """The device as `ip -j -d link show` reports it, or None."""
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
    return dict(
        kind=entry['linkinfo']['info_kind'], vni=data['id'], port=data['port'], local=data.get('local'),
        dev=data.get('link'), learning=data['learning'], mac=entry['address'], mtu=entry['mtu'],
        up='UP' in entry['flags'],
    )


def args(ns, **extra):
    base = dict(netns=ns, name='vx1', vni=1, local='10.9.0.1', dev='u0')
    base.update(extra)
    return base


def test_four_runs_create_flannel_style_device(lab):
    first_check, applied, second_check, again = four_runs('vxlan', args(lab, mac=MAC.upper()))
    assert first_check['changed'] is True
    assert first_check['actions'] == applied['actions'] == [
        'add vxlan device vx1 vni 1 port 8472 local 10.9.0.1 dev u0 mac %s nolearning up' % MAC]
    assert diff_lists(first_check)['before'] == diff_lists(applied)['before'] == []
    dev = link(lab, 'vx1')
    assert kernel_view(dev) == dict(kind='vxlan', vni=1, port=8472, local='10.9.0.1', dev='u0', learning=False,
                                    mac=MAC, mtu=1450, up=True)
    # the result and the diff describe the kernel's device exactly
    assert again['vxlan'] == diff_lists(again)['before'] == diff_lists(again)['after'] == [dict(
        name='vx1', kind='vxlan', vni=1, port=8472, local='10.9.0.1', dev='u0', learning=False,
        mac=MAC, mtu=1450, up=True)]
    assert diff_lists(applied)['after'] == again['vxlan']


def test_create_without_mac_then_idempotent(lab):
    first_check, applied, second_check, again = four_runs('vxlan', dict(netns=lab, name='vx2', vni=7, port=4789))
    assert first_check['changed'] is True
    assert diff_lists(first_check)['after'] == [dict(name='vx2', kind='vxlan', vni=7, port=4789, local=None, dev=None,
                                                     learning=False, mac=None, mtu=None, up=True)]
    view = kernel_view(link(lab, 'vx2'))
    assert (view['vni'], view['port'], view['local'], view['dev'], view['learning']) == (7, 4789, None, None, False)
    assert again['vxlan'][0]['mac'] == view['mac']


@pytest.mark.parametrize('change, field, expected', [
    (dict(vni=2), 'vni', 2),
    (dict(port=4789), 'port', 4789),
    (dict(learning=True), 'learning', True),
    (dict(local='10.9.1.1', dev='w0'), 'dev', 'w0'),
    (dict(local='10.9.0.9'), 'local', '10.9.0.9'),
])
@pytest.mark.parametrize('mac', [MAC, None], ids=['mac-given', 'mac-omitted'])
def test_incompatible_change_recreates_and_keeps_mac(lab, change, field, expected, mac):
    assert run_module('vxlan', args(lab, mac=mac))['changed'] is True
    before = link(lab, 'vx1')
    old_mac = before['address']
    if mac:
        assert old_mac == mac

    wanted = args(lab, mac=mac, **change)
    kernel_before = links(lab)
    predicted = run_module('vxlan', wanted, check=True)
    assert predicted['changed'] is True
    assert predicted['actions'][0].startswith('recreate vxlan device vx1 ')
    assert links(lab) == kernel_before, 'check mode changed the kernel'

    applied = run_module('vxlan', wanted)
    assert applied['changed'] is True and applied['actions'] == predicted['actions']
    after = link(lab, 'vx1')
    assert after['ifindex'] != before['ifindex'], 'the device was not recreated'
    view = kernel_view(after)
    assert view[field] == expected
    assert view['mac'] == old_mac, 'the MAC changed across re-creation'
    assert view['mtu'] == 1450 and view['up'] is True
    assert diff_lists(applied)['before'][0][field] != expected
    assert diff_lists(applied)['after'] == applied['vxlan'] == run_module('vxlan', wanted)['vxlan']
    assert run_module('vxlan', wanted)['changed'] is False


def test_mtu_mac_and_up_change_in_place(lab):
    run_module('vxlan', args(lab, mac=MAC))
    index = link(lab, 'vx1')['ifindex']
    wanted = args(lab, mac='0e:8a:15:00:00:99', mtu=1400, up=False)
    first_check, applied, second_check, again = four_runs('vxlan', wanted)
    assert first_check['actions'] == applied['actions']
    assert applied['actions'][0].startswith('update vxlan device vx1 ')
    assert 'mtu: 1450 -> 1400' in applied['actions'][0]
    dev = link(lab, 'vx1')
    assert dev['ifindex'] == index, 'an in-place change recreated the device'
    assert (dev['mtu'], dev['address'], 'UP' in dev['flags']) == (1400, '0e:8a:15:00:00:99', False)
    assert diff_lists(applied)['before'][0]['mtu'] == 1450 and diff_lists(applied)['after'][0]['mtu'] == 1400
    # omitting mtu and mac afterwards keeps them
    assert run_module('vxlan', args(lab, up=False))['changed'] is False


def test_absent(lab):
    run_module('vxlan', args(lab))
    first_check, applied, second_check, again = four_runs('vxlan', dict(netns=lab, name='vx1', state='absent'))
    assert first_check['changed'] is True
    assert applied['actions'] == ['delete vxlan device vx1 vni 1 port 8472 local 10.9.0.1 dev u0 mac %s mtu 1450 '
                                  'nolearning up' % diff_lists(applied)['before'][0]['mac']]
    assert diff_lists(applied)['after'] == again['vxlan'] == []
    assert link(lab, 'vx1') is None
    assert link(lab, 'u0') is not None


def test_device_of_another_kind_is_never_touched(lab):
    before = links(lab)
    result = run_module('vxlan', dict(netns=lab, name='u0', vni=1))
    assert result.get('failed'), result
    assert 'device u0' in result['msg'] and 'veth' in result['msg'] and 'refusing' in result['msg']
    absent = run_module('vxlan', dict(netns=lab, name='u0', state='absent'))
    assert not absent.get('failed') and absent['changed'] is False, absent
    assert links(lab) == before


BAD_INPUT = [
    (dict(vni=0), 'vni', '0'),
    (dict(vni=16777216), 'vni', '16777216'),
    (dict(vni=None), 'vni', 'required'),
    (dict(port=0), 'port', '0'),
    (dict(port=70000), 'port', '70000'),
    (dict(mac='zz:zz'), 'mac', 'zz:zz'),
    (dict(mac='01:00:5e:00:00:01'), 'mac', 'multicast'),
    (dict(mtu=20), 'mtu', '20'),
    (dict(local='10.9.0.300'), 'local', '10.9.0.300'),
    (dict(local='239.1.1.1'), 'local', '239.1.1.1'),
    (dict(dev='bad/dev'), 'dev', 'bad/dev'),
    (dict(name='a-very-long-vxlan-name'), 'name', 'a-very-long-vxlan-name'),
    (dict(vni='one'), 'vni', 'one'),
]


@pytest.mark.parametrize('bad, option, text', BAD_INPUT, ids=[repr(row[0]) for row in BAD_INPUT])
def test_bad_input_fails_before_any_change(lab, bad, option, text):
    run_module('vxlan', args(lab, vni=5))
    before = links(lab)
    result = run_module('vxlan', args(lab, **bad))
    assert result.get('failed'), result
    assert option in result['msg'] and text in result['msg'], result['msg']
    assert links(lab) == before


def test_missing_underlay_check_mode_predicts_and_apply_fails(lab):
    before = links(lab)
    predicted = run_module('vxlan', args(lab, dev='nosuch0'), check=True)
    assert predicted['changed'] is True and predicted['actions'][0].startswith('add vxlan device vx1')
    result = run_module('vxlan', args(lab, dev='nosuch0'))
    assert result.get('failed') and 'nosuch0' in result['msg'] and 'does not exist' in result['msg'], result
    assert links(lab) == before


def test_check_mode_against_missing_namespace_creates_nothing():
    name = 'pnt-missing-vx'
    assert not os.path.exists('/run/netns/' + name)
    predicted = run_module('vxlan', dict(netns=name, name='vx1', vni=1, dev='u0'), check=True)
    assert predicted['changed'] is True, predicted
    assert diff_lists(predicted) == dict(before=[], after=predicted['vxlan'])
    assert not os.path.exists('/run/netns/' + name)
    result = run_module('vxlan', dict(netns=name, name='vx1', vni=1))
    assert result.get('failed') and name in result['msg'], result
    assert not os.path.exists('/run/netns/' + name)
    # absent in a missing namespace: nothing to do
    assert run_module('vxlan', dict(netns=name, name='vx1', state='absent'), check=True)['changed'] is False
