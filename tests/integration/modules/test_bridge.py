# -*- coding: utf-8 -*-
"""openkube.podnet.bridge, and veth's ``master``, against the real kernel in throwaway namespaces.
The kernel's state is read with `ip -j -d link show`, never through our code."""

from __future__ import annotations

from kernel import diff_lists, four_runs, ipj, run_module, sh


def link(ns, name):
    found = [entry for entry in ipj(ns, '-d', 'link', 'show') if entry['ifname'] == name]
    return found[0] if found else None


def test_four_runs_mtu_in_place_then_absent(netns):
    ns = netns()
    first_check, applied, _second, again = four_runs('bridge', dict(netns=ns, name='cni0', mtu=1450))
    assert first_check['actions'] == applied['actions'] == ['add bridge cni0 mtu 1450 up']  # no mac asked: the kernel's
    entry = link(ns, 'cni0')
    assert (entry['linkinfo']['info_kind'], entry['mtu'], 'UP' in entry['flags']) == ('bridge', 1450, True)
    assert [dict((k, e[k]) for k in ('name', 'kind', 'mtu', 'up')) for e in again['bridge']] == [
        {'name': 'cni0', 'kind': 'bridge', 'mtu': 1450, 'up': True}]
    index = entry['ifindex']

    changed = run_module('bridge', dict(netns=ns, name='cni0', mtu=1400))
    assert changed['changed'] and changed['actions'][0].endswith('mtu 1400 up (mtu: 1450 -> 1400)'), changed['actions']
    assert diff_lists(changed)['before'][0]['mtu'] == 1450 and diff_lists(changed)['after'][0]['mtu'] == 1400
    assert (link(ns, 'cni0')['mtu'], link(ns, 'cni0')['ifindex']) == (1400, index)  # in place, same device

    first_check, applied, _second, again = four_runs('bridge', dict(netns=ns, name='cni0', state='absent'))
    assert applied['actions'][0].startswith('delete bridge cni0') and link(ns, 'cni0') is None


def test_a_bridge_with_its_own_mac_keeps_it_as_ports_come(netns):
    """Without a MAC of its own a bridge takes the lowest of its ports' (the gateway's MAC then changes under the
    pods' ARP caches); with one, it keeps it."""
    ns = netns()
    four_runs('bridge', dict(netns=ns, name='cni0', mac='0e:ff:ff:ff:ff:01'))
    sh('ip', '-n', ns, 'link', 'add', 'p0', 'address', '02:00:00:00:00:01', 'type', 'veth', 'peer', 'name', 'p1')
    sh('ip', '-n', ns, 'link', 'set', 'p0', 'master', 'cni0')
    assert link(ns, 'cni0')['address'] == '0e:ff:ff:ff:ff:01'
    # the contrast: a bridge made without one follows its port
    sh('ip', '-n', ns, 'link', 'add', 'br9', 'type', 'bridge')
    sh('ip', '-n', ns, 'link', 'add', 'q0', 'address', '02:00:00:00:00:02', 'type', 'veth', 'peer', 'name', 'q1')
    sh('ip', '-n', ns, 'link', 'set', 'q0', 'master', 'br9')
    assert link(ns, 'br9')['address'] == '02:00:00:00:00:02'
    changed = run_module('bridge', dict(netns=ns, name='cni0', mac='0e:ff:ff:ff:ff:02'))
    assert changed['changed'] and link(ns, 'cni0')['address'] == '0e:ff:ff:ff:ff:02'


def test_veth_becomes_a_port_of_the_bridge_in_place(netns):
    host, pod = netns(), netns()
    run_module('bridge', dict(netns=host, name='cni0'))
    args = dict(netns=host, name='veth-ns1', peer='eth0', peer_netns=pod)
    assert run_module('veth', args)['changed']
    index = link(host, 'veth-ns1')['ifindex']
    assert 'master' not in link(host, 'veth-ns1')
    first_check, applied, _second, again = four_runs('veth', dict(args, master='cni0'))
    assert first_check['changed'] and applied['actions'] == [
        'update veth-ns1 peer eth0 in %s master cni0 (master: None -> cni0)' % pod]
    entry = link(host, 'veth-ns1')
    assert (entry['master'], entry['ifindex']) == ('cni0', index)
    assert [p['ifname'] for p in ipj(host, 'link', 'show', 'master', 'cni0')] == ['veth-ns1']
    # without master the port is left as it is
    assert run_module('veth', args)['changed'] is False
    # a bridge that does not exist: a clear error, nothing changed
    failed = run_module('veth', dict(args, master='cni9'))
    assert failed['failed'] and "master: bridge 'cni9' does not exist" in failed['msg']
    assert link(host, 'veth-ns1')['master'] == 'cni0'


def test_foreign_device_of_that_name_is_never_touched(netns):
    ns = netns()
    sh('ip', '-n', ns, 'link', 'add', 'cni0', 'type', 'veth', 'peer', 'name', 'cni0p')
    failed = run_module('bridge', dict(netns=ns, name='cni0'))
    assert failed['failed'] and 'is a veth device, not bridge' in failed['msg']
    assert run_module('bridge', dict(netns=ns, name='cni0', state='absent'))['changed'] is False
    assert link(ns, 'cni0')['linkinfo']['info_kind'] == 'veth'
