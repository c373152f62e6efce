# -*- coding: utf-8 -*-
"""openkube.podnet.address against the real kernel, in throwaway namespaces."""

from __future__ import annotations

import time
import uuid

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh


def addrs(ns, dev='d0'):
    """{(address, prefixlen)} of ``dev`` as iproute2 shows them."""
    return set((a['local'], a['prefixlen']) for link in ipj(ns, 'addr', 'show', 'dev', dev) for a in link['addr_info'])


def all_addrs(ns):
    """Every address of every link (without flags such as 'tentative', which DAD clears by itself)."""
    return sorted((link['ifname'], a['family'], a['local'], a['prefixlen'])
                  for link in ipj(ns, 'addr', 'show') for a in link['addr_info'])


def link_local(ns, dev='d0'):
    for attempt in range(100):
        found = [a for a in addrs(ns, dev) if a[0].startswith('fe80:')]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError('no IPv6 link-local address on %s in %s' % (dev, ns))


@pytest.fixture
def dev(netns):
    """A namespace with a veth pair d0/d0p, both up (so d0 has its IPv6 link-local address)."""
    ns = netns()
    sh('ip', '-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd0p')
    sh('ip', '-n', ns, 'link', 'set', 'd0', 'up')
    sh('ip', '-n', ns, 'link', 'set', 'd0p', 'up')
    link_local(ns)
    return ns


def test_four_runs(dev):
    args = dict(netns=dev, dev='d0', addresses=['192.168.10.1/24', '10.0.0.5', 'FD00:10::1/64'])
    first_check, applied, second_check, again = four_runs('address', args)
    assert first_check['changed'] is True
    assert sorted(first_check['actions']) == ['add 10.0.0.5/32', 'add 192.168.10.1/24', 'add fd00:10::1/64']
    have = addrs(dev)
    assert {('192.168.10.1', 24), ('10.0.0.5', 32), ('fd00:10::1', 64)} <= have
    lla = link_local(dev)
    assert lla in have
    assert dict(address=lla[0], prefixlen=64, family=6) in diff_lists(applied)['before']
    assert dict(address='192.168.10.1', prefixlen=24, family=4) not in diff_lists(applied)['before']
    assert dict(address='192.168.10.1', prefixlen=24, family=4) in diff_lists(applied)['after']
    assert diff_lists(again)['before'] == diff_lists(again)['after']
    assert sorted((a['address'], a['prefixlen']) for a in again['addresses']) == sorted(have)


def test_nodad_ipv6_addresses_are_usable_at_once(dev):
    """nodad: the kernel marks the IPv6 address nodad (never tentative); IPv4 addresses are unaffected; a rerun
    without nodad finds nothing to change (the flag is not compared)."""
    args = dict(netns=dev, dev='d0', addresses=['fd00:10::a/128', '192.168.10.10/32'], nodad=True, purge=True)
    four_runs('address', args)
    info = [a for a in ipj(dev, '-6', 'addr', 'show', 'dev', 'd0')[0]['addr_info'] if a['local'] == 'fd00:10::a']
    assert info and info[0].get('nodad') is True and not info[0].get('tentative'), info
    assert run_module('address', dict(args, nodad=False))['changed'] is False


def test_purge_removes_unlisted_but_keeps_link_local(dev):
    sh('ip', '-n', dev, 'addr', 'add', '172.16.0.1/16', 'dev', 'd0')
    sh('ip', '-n', dev, 'addr', 'add', 'fd00:99::9/64', 'dev', 'd0')
    lla = link_local(dev)
    first_check, applied, second_check, again = four_runs('address', dict(netns=dev, dev='d0', addresses=['192.168.10.1/24'], purge=True))
    assert sorted(first_check['actions']) == ['add 192.168.10.1/24', 'delete 172.16.0.1/16', 'delete fd00:99::9/64']
    assert addrs(dev) == {('192.168.10.1', 24), lla}
    assert dict(address='172.16.0.1', prefixlen=16, family=4) in diff_lists(applied)['before']
    assert dict(address='172.16.0.1', prefixlen=16, family=4) not in diff_lists(applied)['after']


def test_without_purge_other_addresses_stay(dev):
    sh('ip', '-n', dev, 'addr', 'add', '172.16.0.1/16', 'dev', 'd0')
    four_runs('address', dict(netns=dev, dev='d0', addresses=['192.168.10.1/24']))
    assert {('172.16.0.1', 16), ('192.168.10.1', 24)} <= addrs(dev)


def test_same_address_other_prefix(dev):
    """IPv4 holds 10.1.0.1/24 and 10.1.0.1/16 side by side; IPv6 holds an address once."""
    sh('ip', '-n', dev, 'addr', 'add', '10.1.0.1/16', 'dev', 'd0')
    sh('ip', '-n', dev, 'addr', 'add', 'fd00:10::1/48', 'dev', 'd0')
    first_check, applied, second_check, again = four_runs('address', dict(netns=dev, dev='d0', addresses=['10.1.0.1/24', 'fd00:10::1/64']))
    assert sorted(first_check['actions']) == ['add 10.1.0.1/24', 'add fd00:10::1/64', 'delete fd00:10::1/48']
    have = addrs(dev)
    assert {('10.1.0.1', 16), ('10.1.0.1', 24), ('fd00:10::1', 64)} <= have
    assert ('fd00:10::1', 48) not in have


def test_purging_a_primary_keeps_listed_secondaries(dev):
    """Deleting a primary IPv4 address takes the secondaries of its subnet along; listed ones come back."""
    sh('ip', '-n', dev, 'addr', 'add', '10.2.0.1/24', 'dev', 'd0')
    sh('ip', '-n', dev, 'addr', 'add', '10.2.0.2/24', 'dev', 'd0')
    four_runs('address', dict(netns=dev, dev='d0', addresses=['10.2.0.2/24'], purge=True))
    assert ('10.2.0.2', 24) in addrs(dev) and ('10.2.0.1', 24) not in addrs(dev)


def test_four_runs_absent(dev):
    sh('ip', '-n', dev, 'addr', 'add', '192.168.10.1/24', 'dev', 'd0')
    sh('ip', '-n', dev, 'addr', 'add', '172.16.0.1/16', 'dev', 'd0')
    first_check, applied, second_check, again = four_runs('address', dict(netns=dev, dev='d0', addresses=['192.168.10.1/24', '10.9.9.9/8'],
                                                                          state='absent'))
    assert first_check['actions'] == ['delete 192.168.10.1/24']
    have = addrs(dev)
    assert ('192.168.10.1', 24) not in have and ('172.16.0.1', 16) in have
    assert dict(address='192.168.10.1', prefixlen=24, family=4) in diff_lists(applied)['before']
    assert dict(address='192.168.10.1', prefixlen=24, family=4) not in diff_lists(applied)['after']


def test_check_mode_in_missing_namespace_creates_nothing():
    missing = 'pnt-missing-%s' % uuid.uuid4().hex[:8]
    args = dict(netns=missing, dev='d0', addresses=['192.168.10.1/24'])
    result = run_module('address', args, check=True)
    assert result['changed'] is True and result['actions'] == ['add 192.168.10.1/24']
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]
    applied = run_module('address', args)
    assert applied.get('failed') is True and repr(missing) in applied['msg']
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]


def test_missing_device(dev):
    args = dict(netns=dev, dev='nope0', addresses=['192.168.10.1/24'])
    before = all_addrs(dev)
    assert run_module('address', args, check=True)['changed'] is True
    result = run_module('address', args)
    assert result.get('failed') is True
    assert result['msg'] == "dev: device 'nope0' does not exist in namespace %s" % dev
    assert all_addrs(dev) == before
    assert run_module('address', dict(args, state='absent'))['changed'] is False


@pytest.mark.parametrize('args, option, value', [
    (dict(dev='d0', addresses=['300.1.1.1/24']), 'addresses[0]', '300.1.1.1/24'),
    (dict(dev='d0', addresses=['10.0.0.1/24', '10.0.0.2/33']), 'addresses[1]', '10.0.0.2/33'),
    (dict(dev='d0', addresses=['not-an-address']), 'addresses[0]', 'not-an-address'),
    (dict(dev='d0', addresses=['fd00::1/129']), 'addresses[0]', 'fd00::1/129'),
    (dict(dev='d0', addresses=['10.0.0.1/24', '10.0.0.1/24']), 'addresses[1]', '10.0.0.1/24'),
    (dict(dev='d0', addresses=['fd00::1/64', 'fd00::1/48']), 'addresses[1]', 'fd00::1/48'),
    (dict(dev='a-very-long-name0', addresses=['10.0.0.1/24']), 'dev', 'a-very-long-name0'),
    (dict(dev='d0:1', addresses=['10.0.0.1/24']), 'dev', 'd0:1'),
])
def test_bad_input(dev, args, option, value):
    sh('ip', '-n', dev, 'addr', 'add', '172.16.0.1/16', 'dev', 'd0')
    before = all_addrs(dev)
    result = run_module('address', dict(args, netns=dev, purge=True))
    assert result.get('failed') is True, result
    assert result['msg'].startswith('%s: %r' % (option, value)), result['msg']
    assert all_addrs(dev) == before
