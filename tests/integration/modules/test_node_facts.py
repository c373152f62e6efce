# -*- coding: utf-8 -*-
"""openkube.podnet.node_facts against this machine's kernel, in a throwaway namespace set up with `ip`: which
device holds the node addresses (IPv4, and IPv6 on a dual-stack underlay), and which peers the kernel reaches
on-link in either family. Read-only: the namespace is compared before and after with `ip -j`."""

from __future__ import annotations

import pytest

from kernel import ipj, run_module, sh, underlay


@pytest.fixture
def host(netns):
    """eth0 (a veth) holds 10.57.4.20/24 and fd57:4::20/64; fd58::/64 and 10.58.0.0/24 are routed via gateways."""
    ns = underlay(netns('nf'))
    sh('ip', '-n', ns, 'addr', 'add', 'fd57:4::20/64', 'dev', 'eth0', 'nodad')
    sh('ip', '-n', ns, 'addr', 'add', 'fd59::1/64', 'dev', 'other', 'nodad')
    sh('ip', '-n', ns, '-6', 'route', 'add', 'fd58::/64', 'via', 'fd57:4::1')
    return ns


def node_facts(ns, **args):
    return run_module('node_facts', args, prefix=('ip', 'netns', 'exec', ns))


def state(ns):
    return (ipj(ns, 'addr', 'show'), ipj(ns, 'route', 'show', 'table', 'all'), ipj(ns, '-6', 'route', 'show', 'table', 'all'))


def test_dual_stack_underlay_and_on_link_peers_in_both_families(host):
    before = state(host)
    got = node_facts(host, node_ip='10.57.4.20', node_ip6='fd57:4::20',
                     peers=['10.57.4.21', '10.58.0.5', 'fd57:4::21', 'fd58::5', 'fd57:4:0:0::99'])
    assert not got.get('failed'), got
    assert (got['underlay_dev'], got['underlay_network'], got['underlay_network6']) == ('eth0', '10.57.4.0/24', 'fd57:4::/64')
    assert got['onlink'] == {'10.57.4.21': True, '10.58.0.5': False, 'fd57:4::21': True, 'fd58::5': False,
                             'fd57:4::99': True}, got['onlink']
    assert state(host) == before
    # IPv4 only: no IPv6 network in the result
    assert 'underlay_network6' not in node_facts(host, node_ip='10.57.4.20')


def test_reverse_path_filtering_as_the_namespace_has_it(host):
    """rp_filter of conf/all, conf/default, the underlay device and every vxlan or ipip device, read from the
    namespace's /proc/sys (the plan sets loose filtering only where the host filters, issue 19); compared with
    `sysctl` run in the namespace."""
    sh('ip', 'netns', 'exec', host, 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=1',
       'net.ipv4.conf.eth0.rp_filter=2')
    sh('ip', '-n', host, 'link', 'add', 'podnet.vxlan', 'type', 'vxlan', 'id', '5', 'dstport', '4789', 'dev', 'eth0')
    got = node_facts(host, node_ip='10.57.4.20')
    assert not got.get('failed'), got
    keys = ('all', 'default', 'eth0', 'podnet/vxlan')
    read = sh('ip', 'netns', 'exec', host, 'sysctl', '-n', *('net.ipv4.conf.%s.rp_filter' % k for k in keys)).split()
    assert read == ['0', '1', '2', '1'], read  # the new vxlan device started with conf/default
    assert got['rp_filter'] == dict(all=0, default=1, devices={'eth0': 2, 'podnet.vxlan': 1}), got['rp_filter']


@pytest.mark.parametrize('args, expected', [
    (dict(node_ip6='fd57:4::99', names=dict(node_ip6='podnet_node_ip6')),
     "podnet_node_ip6: 'fd57:4::99' is not an address of any interface of this host (its IPv6 addresses: "),
    (dict(node_ip6='fd59::1'), 'node_ip6: fd59::1 is on other, not on eth0, the device that holds node_ip'),
    (dict(node_ip6='10.57.4.20'), "node_ip6: '10.57.4.20' is not an IPv6 address"),
])
def test_a_wrong_ipv6_node_address_is_named(host, args, expected):
    got = node_facts(host, node_ip='10.57.4.20', **args)
    assert got.get('failed') and got['msg'].startswith(expected), got


def test_nftables_support_is_the_kernels_answer_and_creates_nothing(host):
    """nftables: the kernel checks a filter table of each family (nft --check) and discards it; the namespace has no
    table afterwards (`nft list tables` run in it). Where the table can be held, the ip set is not probed. An empty
    list only looks for nft. A family the filter does not have is named."""
    got = node_facts(host, node_ip='10.57.4.20', nftables=['ip', 'ip6'], ipset=True)
    assert not got.get('failed'), got
    assert got['nftables'] == {'found': True, 'missing': ''} and 'ipset_missing' not in got, got
    assert sh('ip', 'netns', 'exec', host, 'nft', 'list', 'tables').strip() == ''
    assert node_facts(host, node_ip='10.57.4.20', nftables=[])['nftables'] == {'found': True, 'missing': ''}
    assert 'nftables' not in node_facts(host, node_ip='10.57.4.20')
    bad = node_facts(host, node_ip='10.57.4.20', nftables=['inet'])
    assert bad.get('failed') and "nftables[0]: 'inet' is not an nftables family of the filter (ip, ip6)" in bad['msg'], bad


def test_bpf_support_is_the_kernels_answer_in_a_namespace_of_its_own(host):
    """bpf: the probe's child loads the program and attaches it in a network namespace of its own; nothing is left
    in the host's namespace (no qdisc clsact on any device, the same links and addresses). (The probe's namespace
    has no name: `ip netns list` would not show it, and other tests running beside this one change that list.)"""
    before = state(host)
    got = node_facts(host, node_ip='10.57.4.20', bpf=True)
    assert got.get('bpf') == {'missing': ''}, got
    assert state(host) == before
    for link in ipj(host, 'link', 'show'):
        assert 'clsact' not in sh('ip', 'netns', 'exec', host, 'tc', 'qdisc', 'show', 'dev', link['ifname'])
    assert 'bpf' not in node_facts(host, node_ip='10.57.4.20')
