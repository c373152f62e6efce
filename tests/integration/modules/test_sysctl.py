# -*- coding: utf-8 -*-
"""openkube.podnet.sysctl against the real kernel, inside throwaway namespaces only."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh

WATCHED = ('net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.default.rp_filter',
           'net.ipv4.ip_local_port_range', 'net.ipv6.conf.all.forwarding')


def sysctl(ns, *names):
    """Values as procps' sysctl prints them inside ``ns`` (iproute2 enters the namespace)."""
    out = sh('ip', 'netns', 'exec', ns, 'sysctl', '-n', *names)
    return [' '.join(line.split()) for line in out.splitlines()]


def root_values():
    """The machine's own values of WATCHED, read directly: a run in a namespace must not touch them."""
    values = []
    for name in WATCHED:
        with open('/proc/sys/' + name.replace('.', '/')) as handle:
            values.append(' '.join(handle.read().split()))
    return values


def test_four_runs(netns):
    ns = netns()
    root = root_values()
    assert sysctl(ns, 'net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter') == ['0', '0']
    settings = {'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.rp_filter': 2,
                'net.ipv4.ip_local_port_range': '20000 30000'}
    first_check, applied, second_check, again = four_runs('sysctl', dict(netns=ns, settings=settings))
    assert first_check['changed'] is True
    assert sorted(first_check['actions']) == [
        'update net.ipv4.conf.all.rp_filter = 2 (value: 0 -> 2)',
        'update net.ipv4.ip_forward = 1 (value: 0 -> 1)',
        'update net.ipv4.ip_local_port_range = 20000 30000 (value: 32768 60999 -> 20000 30000)',
    ]
    assert sysctl(ns, 'net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.ip_local_port_range') \
        == ['1', '2', '20000 30000']
    assert root_values() == root
    assert dict(name='net.ipv4.ip_forward', value='0') in diff_lists(applied)['before']
    assert dict(name='net.ipv4.ip_forward', value='1') in diff_lists(applied)['after']
    assert diff_lists(again)['before'] == diff_lists(again)['after'] == again['settings']


def test_numbers_compare_as_numbers(netns):
    ns = netns()
    four_runs('sysctl', dict(netns=ns, settings={'net.ipv4.ip_forward': '01'}))
    assert sysctl(ns, 'net.ipv4.ip_forward') == ['1']


def test_slashed_name_for_an_interface_with_a_dot(netns):
    ns = netns()
    sh('ip', '-n', ns, 'link', 'add', 'eth0.10', 'type', 'veth', 'peer', 'name', 'p0')
    first_check, applied, second_check, again = four_runs('sysctl', dict(netns=ns, settings={'net/ipv4/conf/eth0.10/rp_filter': '2'}))
    assert first_check['changed'] is True
    assert sysctl(ns, 'net/ipv4/conf/eth0.10/rp_filter') == ['2']


def test_each_namespace_keeps_its_own_value(netns):
    a, b = netns(), netns()
    assert run_module('sysctl', dict(netns=a, settings={'net.ipv4.ip_forward': '1'}))['changed'] is True
    assert sysctl(a, 'net.ipv4.ip_forward') == ['1']
    assert sysctl(b, 'net.ipv4.ip_forward') == ['0']


def test_check_mode_in_missing_namespace_creates_nothing():
    missing = 'pnt-missing-%s' % uuid.uuid4().hex[:8]
    args = dict(netns=missing, settings={'net.ipv4.ip_forward': '1'})
    root = root_values()
    result = run_module('sysctl', args, check=True)
    assert result['changed'] is True
    assert result['actions'] == ['set net.ipv4.ip_forward = 1 (current value unknown: namespace %s does not exist)'
                                 % missing]
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]
    applied = run_module('sysctl', args)
    assert applied.get('failed') is True and repr(missing) in applied['msg']
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]
    assert root_values() == root


@pytest.mark.parametrize('settings, start', [
    ({'net.ipv4.no_such_thing': '1'}, "settings['net.ipv4.no_such_thing']: no such kernel parameter"),
    # the missing one is found before anything is written, so ip_forward stays 0
    ({'net.ipv4.ip_forward': '1', 'net.ipv4.zzz': '1'}, "settings['net.ipv4.zzz']: no such kernel parameter"),
    ({'net.ipv4.ip_forward': 'abc'}, "settings['net.ipv4.ip_forward']: the kernel refused value 'abc'"),
    ({'net.ipv4.ip_forward': True}, "settings['net.ipv4.ip_forward']: True is not a sysctl value"),
    ({'net.ipv4.ip_forward': ['1']}, "settings['net.ipv4.ip_forward']: ['1'] is not a sysctl value"),
    ({'net.ipv4.ip_forward': ' '}, "settings['net.ipv4.ip_forward']: ' ' is an empty value"),
    ({'net..ipv4': '1'}, "settings['net..ipv4']: 'net..ipv4' is not a valid sysctl name"),
    ({'net.ipv4.conf.*.rp_filter': '1'}, "settings['net.ipv4.conf.*.rp_filter']: 'net.ipv4.conf.*.rp_filter' is not"),
    ({'ip_forward': '1'}, "settings['ip_forward']: 'ip_forward' is not a valid sysctl name"),
    ({'net/ipv4/../../kernel/hostname': 'x'}, "settings['net/ipv4/../../kernel/hostname']: 'net/ipv4/../../kernel"),
    ({'vm.swappiness': '10'}, "settings['vm.swappiness']: 'vm.swappiness' is not a per-namespace parameter"),
    ({'net.ipv4.ip_forward': '1', 'net/ipv4/ip_forward': '1'}, "settings['net/ipv4/ip_forward']: 'net/ipv4/ip_forward' "
                                                               "names the same parameter"),
    ({}, "settings: {} is empty"),
])
def test_bad_input(netns, settings, start):
    ns = netns()
    before, root = sysctl(ns, *WATCHED), root_values()
    result = run_module('sysctl', dict(netns=ns, settings=settings))
    assert result.get('failed') is True, result
    assert result['msg'].startswith(start), result['msg']
    assert sysctl(ns, *WATCHED) == before
    assert root_values() == root


def test_state_absent_is_refused(netns):
    ns = netns()
    before = sysctl(ns, *WATCHED)
    result = run_module('sysctl', dict(netns=ns, settings={'net.ipv4.ip_forward': '1'}, state='absent'))
    assert result.get('failed') is True
    assert 'state' in result['msg'] and 'absent' in result['msg']
    assert sysctl(ns, *WATCHED) == before


def test_purge_restores_what_the_module_changed_and_forgets_gone_devices(netns, tmp_path):
    """The ledger: the module runs inside the namespace as if it were the host's own (no netns option)."""
    ns = netns()
    ledger = str(tmp_path / 'sysctl.json')
    sh('ip', '-n', ns, 'link', 'add', 'tun.x', 'type', 'veth', 'peer', 'name', 'tun.y')  # no dummy module here
    sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.lo.rp_filter=1')
    inside = ('ip', 'netns', 'exec', ns)
    wanted = {'net.ipv4.ip_forward': '1', 'net/ipv4/conf/tun.x/rp_filter': '2', 'net.ipv4.conf.lo.rp_filter': '2'}
    args = dict(settings=wanted, purge=True, ledger=ledger)
    applied = run_module('sysctl', args, prefix=inside)
    assert applied['changed'] is True, applied
    assert sysctl(ns, 'net.ipv4.ip_forward', 'net/ipv4/conf/tun.x/rp_filter', 'net.ipv4.conf.lo.rp_filter') == ['1', '2', '2']
    with open(ledger) as handle:
        assert json.load(handle)['saved'] == {'net/ipv4/ip_forward': '0', 'net/ipv4/conf/tun.x/rp_filter': '0',
                                              'net/ipv4/conf/lo/rp_filter': '1'}
    assert run_module('sysctl', args, prefix=inside)['changed'] is False
    # the device goes away (as a tunnel does on a mode switch); lo's setting is no longer wanted
    sh('ip', '-n', ns, 'link', 'del', 'tun.x')
    args = dict(settings={'net.ipv4.ip_forward': '1'}, purge=True, ledger=ledger)
    check = run_module('sysctl', args, check=True, prefix=inside)
    assert check['changed'] is True and check['actions'] == [
        'restore net/ipv4/conf/lo/rp_filter = 1 (value before the collection changed it; now 2)']
    assert sysctl(ns, 'net.ipv4.conf.lo.rp_filter') == ['2']  # check mode wrote nothing
    first_check, applied, second_check, again = four_runs_inside(args, inside)
    assert sysctl(ns, 'net.ipv4.ip_forward', 'net.ipv4.conf.lo.rp_filter') == ['1', '1']
    with open(ledger) as handle:
        assert json.load(handle)['saved'] == {'net/ipv4/ip_forward': '0'}  # tun.x forgotten with its device
    # teardown: nothing wanted, everything back, and the ledger is gone
    applied = run_module('sysctl', dict(settings={}, purge=True, ledger=ledger), prefix=inside)
    assert applied['changed'] is True
    assert sysctl(ns, 'net.ipv4.ip_forward') == ['0']
    assert not os.path.exists(ledger)


def four_runs_inside(args, prefix):
    results = [run_module('sysctl', args, check=check, prefix=prefix) for check in (True, False, True, False)]
    assert [r['changed'] for r in results] == [True, True, False, False], results
    return results


def test_check_mode_predicts_a_device_parameter_of_a_device_not_there_yet(netns, tmp_path):
    ns = netns()
    inside = ('ip', 'netns', 'exec', ns)
    args = dict(settings={'net/ipv4/conf/podnet.vxlan/rp_filter': '2'}, purge=True, ledger=str(tmp_path / 'l.json'))
    check = run_module('sysctl', args, check=True, prefix=inside)
    # predicted from conf/default, the value a new device starts with (here 0)
    assert check['changed'] is True and check['actions'] == [
        'update net/ipv4/conf/podnet.vxlan/rp_filter = 2 (value: 0 -> 2)']
    applied = run_module('sysctl', args, prefix=inside)
    assert applied.get('failed') is True and 'no such kernel parameter' in applied['msg']
    sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.default.rp_filter=2')
    assert run_module('sysctl', args, check=True, prefix=inside)['changed'] is False  # a new device would have 2
    # but a parameter that is not a device's still fails in check mode
    check = run_module('sysctl', dict(settings={'net.ipv4.no_such_thing': '1'}), check=True, prefix=inside)
    assert check.get('failed') is True and 'no such kernel parameter' in check['msg']


def test_removed_devices_are_forgotten_not_restored(netns, tmp_path):
    ns = netns()
    inside = ('ip', 'netns', 'exec', ns)
    ledger = str(tmp_path / 'l.json')
    sh('ip', '-n', ns, 'link', 'add', 'tun.x', 'type', 'veth', 'peer', 'name', 'tun.y')
    run_module('sysctl', dict(settings={'net/ipv4/conf/tun.x/rp_filter': '2'}, purge=True, ledger=ledger), prefix=inside)
    # check mode: tun.x is still there, but the run removes it (an earlier step): nothing to restore
    args = dict(settings={}, purge=True, ledger=ledger, removed_devices=['tun.x'])
    assert run_module('sysctl', args, check=True, prefix=inside)['changed'] is False
    assert run_module('sysctl', args, prefix=inside)['changed'] is False
    assert not os.path.exists(ledger)  # forgotten
    assert sysctl(ns, 'net/ipv4/conf/tun.x/rp_filter') == ['2']  # not restored: the device was to go


def test_purge_is_refused_with_netns(netns):
    result = run_module('sysctl', dict(netns=netns(), settings={}, purge=True))
    assert result.get('failed') is True and result['msg'].startswith('purge: true with netns')
