# -*- coding: utf-8 -*-
"""openkube.podnet.veth against the real kernel, in throwaway namespaces."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh


def link(ns, name):
    """`ip -d -j link show NAME` in ``ns``, or None."""
    found = [entry for entry in ipj(ns, '-d', 'link', 'show') if entry['ifname'] == name]
    return found[0] if found else None


def links(ns):
    """Everything about the links of ``ns`` that a module run could change."""
    return sorted(
        (entry['ifname'], entry['mtu'], entry['address'], tuple(sorted(entry['flags'])),
         entry.get('linkinfo', {}).get('info_kind'), entry['ifindex'])
        for entry in ipj(ns, '-d', 'link', 'show'))


def is_up(entry):
    return 'UP' in entry['flags']


def test_four_runs_peer_in_other_namespace(netns):
    host, pod = netns(), netns()
    args = dict(netns=host, name='veth-pod', peer='eth0', peer_netns=pod, mtu=1400,
                mac='0e:8a:15:00:00:01', peer_mac='0E-8A-15-00-00-02')
    first_check, applied, second_check, again = four_runs('veth', args)
    assert first_check['changed'] is True
    assert first_check['actions'] == ['add veth-pod peer eth0 in %s' % pod]
    end, peer = link(host, 'veth-pod'), link(pod, 'eth0')
    assert end['linkinfo']['info_kind'] == 'veth' and peer['linkinfo']['info_kind'] == 'veth'
    assert (end['mtu'], peer['mtu']) == (1400, 1400)
    assert (end['address'], peer['address']) == ('0e:8a:15:00:00:01', '0e:8a:15:00:00:02')
    assert is_up(end) and is_up(peer)
    # the ends are each other's peers (iproute2 reads the pairing from the kernel)
    assert end['link_index'] == peer['ifindex'] and peer['link_index'] == end['ifindex']
    assert link(host, 'eth0') is None and link(pod, 'veth-pod') is None
    # diff: nothing before, the pair after; the second apply sees exactly what the first made
    assert diff_lists(applied)['before'] == []
    assert diff_lists(applied)['after'][0]['peer_netns'] == pod
    assert diff_lists(again)['before'] == diff_lists(again)['after'] == again['veth']
    assert again['veth'][0]['mac'] == '0e:8a:15:00:00:01'
    assert again['veth'][0]['peer_mac'] == '0e:8a:15:00:00:02'


def test_four_runs_both_ends_in_one_namespace(netns):
    ns = netns()
    first_check, applied, second_check, again = four_runs('veth', dict(netns=ns, name='v-a', peer='v-b'))
    assert first_check['changed'] is True
    a, b = link(ns, 'v-a'), link(ns, 'v-b')
    assert a['link'] == 'v-b' and b['link'] == 'v-a'  # iproute2 names a peer in the same namespace
    assert is_up(a) and is_up(b)
    assert a['mtu'] == 1500


def test_mtu_mac_and_up_change_in_place(netns):
    host, pod = netns(), netns()
    base = dict(netns=host, name='veth-pod', peer='eth0', peer_netns=pod)
    assert run_module('veth', base)['changed'] is True
    index, peer_index = link(host, 'veth-pod')['ifindex'], link(pod, 'eth0')['ifindex']
    args = dict(base, mtu=1280, mac='02:00:00:00:00:0a', peer_mac='02:00:00:00:00:0b', up=False)
    first_check, applied, second_check, again = four_runs('veth', args)
    assert first_check['actions'][0].startswith('update veth-pod'), first_check['actions']
    end, peer = link(host, 'veth-pod'), link(pod, 'eth0')
    assert (end['ifindex'], peer['ifindex']) == (index, peer_index)  # not recreated
    assert (end['mtu'], peer['mtu']) == (1280, 1280)
    assert (end['address'], peer['address']) == ('02:00:00:00:00:0a', '02:00:00:00:00:0b')
    assert not is_up(end) and not is_up(peer)
    assert diff_lists(applied)['before'][0]['mtu'] == 1500
    assert diff_lists(applied)['after'][0]['mtu'] == 1280


def test_peer_is_moved_into_peer_netns(netns):
    host, pod = netns(), netns()
    sh('ip', '-n', host, 'link', 'add', 'veth-pod', 'type', 'veth', 'peer', 'name', 'eth0')
    index = link(host, 'veth-pod')['ifindex']
    first_check, applied, second_check, again = four_runs('veth', dict(netns=host, name='veth-pod', peer='eth0', peer_netns=pod))
    assert first_check['actions'][0].startswith('update veth-pod'), first_check['actions']
    assert 'peer_netns: None -> %s' % pod in first_check['actions'][0]
    assert link(host, 'veth-pod')['ifindex'] == index
    assert link(host, 'eth0') is None
    assert link(pod, 'eth0')['ifindex'] == link(host, 'veth-pod')['link_index']


def test_peer_is_moved_between_named_namespaces(netns):
    host, old, new = netns(), netns(), netns()
    assert run_module('veth', dict(netns=host, name='veth-pod', peer='eth0', peer_netns=old))['changed']
    index = link(host, 'veth-pod')['ifindex']
    four_runs('veth', dict(netns=host, name='veth-pod', peer='eth0', peer_netns=new))
    assert link(old, 'eth0') is None and link(new, 'eth0') is not None
    assert link(host, 'veth-pod')['ifindex'] == index


def test_not_a_veth_is_recreated(netns):
    ns = netns()
    sh('ip', '-n', ns, 'link', 'add', 'v-a', 'type', 'bridge')
    first_check, applied, second_check, again = four_runs('veth', dict(netns=ns, name='v-a', peer='v-b'))
    assert first_check['actions'][0].startswith('recreate v-a'), first_check['actions']
    assert diff_lists(applied)['before'][0]['kind'] == 'bridge'
    assert link(ns, 'v-a')['linkinfo']['info_kind'] == 'veth'
    assert link(ns, 'v-b')['linkinfo']['info_kind'] == 'veth'


def test_other_peer_name_is_recreated(netns):
    ns = netns()
    sh('ip', '-n', ns, 'link', 'add', 'v-a', 'type', 'veth', 'peer', 'name', 'v-old')
    first_check, applied, second_check, again = four_runs('veth', dict(netns=ns, name='v-a', peer='v-b'))
    assert first_check['actions'][0].startswith('recreate v-a'), first_check['actions']
    assert link(ns, 'v-old') is None
    assert link(ns, 'v-a')['link'] == 'v-b'


def test_peer_in_unnamed_namespace_is_recreated(netns):
    """A peer in a namespace with no name cannot be reached to move it: the pair is made again."""
    host, pod = netns(), netns()
    holder = subprocess.Popen(['unshare', '--net', 'sleep', '60'])  # keeps an unnamed namespace alive
    try:
        own = os.readlink('/proc/self/ns/net')
        for attempt in range(100):
            if os.readlink('/proc/%d/ns/net' % holder.pid) != own:
                break
            time.sleep(0.05)
        sh('ip', '-n', host, 'link', 'add', 'veth-pod', 'type', 'veth', 'peer', 'name', 'eth0')
        sh('ip', '-n', host, 'link', 'set', 'eth0', 'netns', str(holder.pid))
        first_check, applied, second_check, again = four_runs('veth', dict(netns=host, name='veth-pod', peer='eth0', peer_netns=pod))
        assert first_check['actions'][0].startswith('recreate veth-pod'), first_check['actions']
        assert diff_lists(applied)['before'][0]['peer_netns'].startswith('<unnamed namespace')
        end, peer = link(host, 'veth-pod'), link(pod, 'eth0')
        assert end['link_index'] == peer['ifindex']
        # the old peer went with the old pair
        assert 'eth0' not in sh('nsenter', '--net=/proc/%d/ns/net' % holder.pid, 'ip', '-o', 'link')
    finally:
        holder.kill()
        holder.wait()


def test_four_runs_absent(netns):
    host, pod = netns(), netns()
    assert run_module('veth', dict(netns=host, name='veth-pod', peer='eth0', peer_netns=pod))['changed']
    first_check, applied, second_check, again = four_runs('veth', dict(netns=host, name='veth-pod', state='absent'))
    assert first_check['changed'] is True
    assert link(host, 'veth-pod') is None and link(pod, 'eth0') is None
    assert diff_lists(applied)['before'][0]['peer'] == 'eth0' and diff_lists(applied)['after'] == []


def test_absent_leaves_other_kinds_alone(netns):
    ns = netns()
    sh('ip', '-n', ns, 'link', 'add', 'v-a', 'type', 'bridge')
    result = run_module('veth', dict(netns=ns, name='v-a', state='absent'))
    assert result['changed'] is False
    assert link(ns, 'v-a')['linkinfo']['info_kind'] == 'bridge'


def test_check_mode_in_missing_namespace_creates_nothing(netns):
    missing = 'pnt-missing-%s' % uuid.uuid4().hex[:8]
    args = dict(netns=missing, name='veth-pod', peer='eth0')
    result = run_module('veth', args, check=True)
    assert result['changed'] is True and result['actions'] == ['add veth-pod peer eth0']
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]
    applied = run_module('veth', args)
    assert applied.get('failed') is True
    assert repr(missing) in applied['msg']
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]


def test_missing_peer_netns(netns):
    host = netns()
    missing = 'pnt-missing-%s' % uuid.uuid4().hex[:8]
    args = dict(netns=host, name='veth-pod', peer='eth0', peer_netns=missing)
    before = links(host)
    checked = run_module('veth', args, check=True)
    assert checked['changed'] is True
    applied = run_module('veth', args)
    assert applied.get('failed') is True
    assert applied['msg'] == 'peer_netns: network namespace %r does not exist on this host' % missing
    assert links(host) == before
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]


def test_peer_name_taken_in_peer_netns(netns):
    host, pod = netns(), netns()
    sh('ip', '-n', pod, 'link', 'add', 'eth0', 'type', 'bridge')
    before_host, before_pod = links(host), links(pod)
    result = run_module('veth', dict(netns=host, name='veth-pod', peer='eth0', peer_netns=pod))
    assert result.get('failed') is True
    assert "peer: 'eth0' already exists in namespace %s" % pod in result['msg']
    assert (links(host), links(pod)) == (before_host, before_pod)


@pytest.mark.parametrize('args, option, value', [
    (dict(name='a-very-long-name0', peer='p'), 'name', 'a-very-long-name0'),
    (dict(name='a/b', peer='p'), 'name', 'a/b'),
    (dict(name='v0', peer='with space'), 'peer', 'with space'),
    (dict(name='v0', peer='péééééééé'), 'peer', 'péééééééé'),
    (dict(name='v0'), 'peer', None),
    (dict(name='v0', peer='v0'), 'peer', 'v0'),
    (dict(name='v0', peer='p0', mtu=10), 'mtu', 10),
    (dict(name='v0', peer='p0', mtu=70000), 'mtu', 70000),
    (dict(name='v0', peer='p0', mac='zz:00:00:00:00:01'), 'mac', 'zz:00:00:00:00:01'),
    (dict(name='v0', peer='p0', mac='01:00:5e:00:00:01'), 'mac', '01:00:5e:00:00:01'),
    (dict(name='v0', peer='p0', peer_mac='00:00:00:00:00:00'), 'peer_mac', '00:00:00:00:00:00'),
    (dict(name='v0', peer='p0', peer_netns='a/b'), 'peer_netns', 'a/b'),
])
def test_bad_input(netns, args, option, value):
    ns = netns()
    before = links(ns)
    result = run_module('veth', dict(args, netns=ns))
    assert result.get('failed') is True, result
    assert result['msg'].startswith('%s: %r' % (option, value)), result['msg']
    assert links(ns) == before


def test_bad_type_is_refused_by_ansible(netns):
    ns = netns()
    before = links(ns)
    result = run_module('veth', dict(netns=ns, name='v0', peer='p0', mtu='big'))
    assert result.get('failed') is True
    assert 'mtu' in result['msg'] and 'big' in result['msg']
    assert links(ns) == before
