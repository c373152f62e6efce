# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule verify (pytest-testinfra) for every scenario: the kernel state of every lab host and
pod-to-pod reachability, for the scenario's mode, on the namespace lab or the booted machines.

What is expected comes from the scenario's inventory variables only (molecule's merged
configuration, ``$MOLECULE_FILE``): node IPs, pod ranges, mode, lab name. What is there is read
from the kernel with ``ip -j`` / ``bridge -j`` inside each lab host, through the testinfra host of
``tests/lab.py`` (commands run with nsenter in the host's namespaces: milliseconds, where
testinfra's ansible backend costs seconds per command).
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import json
import os
import sys

import pytest
import yaml

REPO = os.environ.get('MOLECULE_PROJECT_DIRECTORY') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tests'))

from lab import LabHost  # noqa: E402  (tests/lab.py of this checkout)

PROTO = 57            # every route the collection owns carries this protocol number
POD_IP_OFFSET = 10    # a host's pod ns1 is .10 of its range, its gateway .1, the VTEP .0
UNDERLAY = 'eth0'     # the lab host's underlay device
OVERHEAD = {'none': 0, 'ipip': 20, 'vxlan': 50}
VXLAN_DEV, IPIP_DEV = 'podnet.vxlan', 'podnet.ipip'
DEVICE = {'vxlan': VXLAN_DEV, 'ipip': IPIP_DEV, 'none': None}


def _scenario():
    with open(os.environ['MOLECULE_FILE']) as f:
        config = yaml.safe_load(f)
    inventory = config['provisioner']['inventory']
    common = inventory['group_vars']['all']
    segments = common['podnet_lab_segments']
    mtu = min(int(s['mtu']) for s in segments)
    nodes = {}
    for platform in config['platforms']:
        name = platform['name']
        hostvars = inventory['host_vars'][name]
        net = ipaddress.ip_network(hostvars['podnet_pod_cidr'])
        segment = [s for s in segments if s['name'] == hostvars.get('podnet_lab_segment', segments[0]['name'])][0]
        nodes[name] = dict(name=name, node_ip=hostvars['podnet_node_ip'], pod_cidr=str(net), subnet=segment['cidr'],
                           vtep_ip=str(net.network_address), gateway=str(net.network_address + 1),
                           pod_ip=str(net.network_address + POD_IP_OFFSET))
    mode = common['podnet_mode']
    tunnel = {'host-gw': 'none', 'crosssubnet': common.get('podnet_crosssubnet_encap', 'vxlan')}.get(mode, mode)
    return dict(mode=mode, tunnel=tunnel, lab=common['podnet_lab_name'], underlay_mtu=mtu, nodes=nodes,
                kind=common.get('podnet_lab_kind', 'namespaces'))


SCENARIO = _scenario()
MODE = SCENARIO['mode']
TUNNEL = SCENARIO['tunnel']  # the encapsulation of the mode's tunnel: none, ipip or vxlan
NODES = SCENARIO['nodes']
POD_MTU = SCENARIO['underlay_mtu'] - OVERHEAD[TUNNEL]


def encap(name, peer):
    """How host ``name`` reaches ``peer``: crosssubnet goes direct inside the host's own subnet."""
    if MODE == 'crosssubnet' and NODES[name]['subnet'] == peer['subnet']:
        return 'none'
    return TUNNEL


@pytest.fixture(scope='module')
def hosts():
    """{name: testinfra Host running inside that lab host}: nsenter into a namespace lab's host, or SSH
    to a booted machine as the lab's user with sudo, through the lab's bastion namespace."""
    found = {}
    for name, node in NODES.items():
        if SCENARIO['kind'] == 'machines':
            import testinfra
            key = '/var/lib/podnet/machines/%s/id_ed25519' % SCENARIO['lab']
            assert os.path.exists(key), 'the machines of lab %s are not there (no %s)' % (SCENARIO['lab'], key)
            found[name] = testinfra.get_host(
                'ssh://podnet@%s' % node['node_ip'], ssh_identity_file=key, sudo=True,
                ssh_extra_args='-o ProxyCommand="ip netns exec %s-bastion nc %%h %%p" -o StrictHostKeyChecking=no '
                               '-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ControlMaster=no' % SCENARIO['lab'])
            continue
        lab_host = LabHost(SCENARIO['lab'], name)
        assert lab_host.exists, 'lab host %s of lab %s does not exist' % (name, SCENARIO['lab'])
        found[name] = lab_host.testinfra()
    return found


def ipj(host, *args):
    out = host.check_output('ip -j ' + ' '.join(args))
    return json.loads(out) if out.strip() else []


def bridgej(host, *args):
    out = host.check_output('bridge -j ' + ' '.join(args))
    return json.loads(out) if out.strip() else []


def ipv4(addresses):
    return [a for a in addresses if ipaddress.ip_address(a).version == 4]


def link(host, dev):
    links = ipj(host, '-d', 'link', 'show', 'dev', dev)
    assert len(links) == 1, links
    return links[0]


def peers(name):
    return [node for peer, node in sorted(NODES.items()) if peer != name]


def vtep_mac(host):
    return link(host, VXLAN_DEV)['address']


@pytest.mark.parametrize('name', sorted(NODES))
def test_pod_namespace_and_veth(hosts, name):
    host, me = hosts[name], NODES[name]
    assert 'ns1' in host.check_output('ip netns list').split()
    veth = host.interface('veth-ns1')
    assert veth.exists
    assert ipv4(veth.addresses) == [me['gateway']]
    assert link(host, 'veth-ns1')['mtu'] == POD_MTU
    assert host.sysctl('net.ipv4.ip_forward') == 1

    pod_eth0 = json.loads(host.check_output('ip netns exec ns1 ip -j addr show dev eth0'))[0]
    assert [(a['local'], a['prefixlen']) for a in pod_eth0['addr_info'] if a['family'] == 'inet'] == [(me['pod_ip'], 32)]
    assert pod_eth0['mtu'] == POD_MTU
    assert 'UP' in pod_eth0['flags']
    pod_routes = json.loads(host.check_output('ip netns exec ns1 ip -j route show'))
    default = [r for r in pod_routes if r['dst'] == 'default']
    assert len(default) == 1, pod_routes
    assert (default[0]['gateway'], default[0]['dev'], 'onlink' in default[0].get('flags', [])) == (me['gateway'], 'eth0', True)


@pytest.mark.parametrize('name', sorted(NODES))
def test_owned_routes(hosts, name):
    """Exactly the routes of the mode, each tagged proto 57: the pod's /32 and one per peer range."""
    host, me = hosts[name], NODES[name]
    routes = dict((r['dst'], r) for r in ipj(host, 'route', 'show', 'proto', str(PROTO)))
    expected = {me['pod_ip']: (None, 'veth-ns1', False, 'link')}
    for peer in peers(name):
        if encap(name, peer) == 'none':
            expected[peer['pod_cidr']] = (peer['node_ip'], UNDERLAY, False, None)
        elif encap(name, peer) == 'ipip':
            expected[peer['pod_cidr']] = (peer['node_ip'], IPIP_DEV, True, None)
        else:
            expected[peer['pod_cidr']] = (peer['vtep_ip'], VXLAN_DEV, True, None)
    actual = dict((dst, (r.get('gateway'), r['dev'], 'onlink' in r.get('flags', []), r.get('scope')))
                  for dst, r in routes.items())
    assert actual == expected


@pytest.mark.parametrize('name', sorted(NODES))
def test_mode_devices(hosts, name):
    host, me = hosts[name], NODES[name]
    present = dict((dev, host.interface(dev).exists) for dev in (VXLAN_DEV, IPIP_DEV))
    assert present == {VXLAN_DEV: TUNNEL == 'vxlan', IPIP_DEV: TUNNEL == 'ipip'}
    if TUNNEL == 'vxlan':
        dev = link(host, VXLAN_DEV)
        info = dev['linkinfo']['info_data']
        assert dev['linkinfo']['info_kind'] == 'vxlan'
        assert (info['id'], info['port'], info['learning'], info['local'], info['link']) == (1, 8472, False, me['node_ip'], UNDERLAY)
        assert dev['mtu'] == POD_MTU == 1450
        assert 'UP' in dev['flags']
        first_octet = int(dev['address'].split(':')[0], 16)
        assert first_octet & 0x02 and not first_octet & 0x01, 'VTEP MAC %s is not locally administered unicast' % dev['address']
        assert ipv4(host.interface(VXLAN_DEV).addresses) == [me['vtep_ip']]
    elif TUNNEL == 'ipip':
        dev = link(host, IPIP_DEV)
        info = dev['linkinfo']['info_data']
        assert dev['linkinfo']['info_kind'] == 'ipip'
        assert info['local'] == me['node_ip']
        assert info.get('remote', 'any') in ('any', '0.0.0.0'), 'one-to-many: no remote, got %r' % info.get('remote')
        assert dev['mtu'] == POD_MTU == 1480
        assert 'UP' in dev['flags']
        assert ipv4(host.interface(IPIP_DEV).addresses) == [me['vtep_ip']]


@pytest.mark.parametrize('name', sorted(NODES))
def test_neighbours_and_fdb(hosts, name):
    """vxlan: per tunnelled peer, a permanent neighbour (VTEP IP -> that peer's VTEP MAC) and an FDB
    entry (that MAC -> the peer's node IP); the peer's MAC is read from the peer itself. Other modes: none."""
    host = hosts[name]
    if TUNNEL != 'vxlan':
        neigh = [n for n in ipj(host, 'neigh', 'show', 'nud', 'permanent') if n.get('dev', '').startswith('podnet.')]
        assert neigh == []
        return
    tunnelled = [peer for peer in peers(name) if encap(name, peer) == 'vxlan']
    want_neigh = sorted((peer['vtep_ip'], vtep_mac(hosts[peer['name']])) for peer in tunnelled)
    neigh = ipj(host, 'neigh', 'show', 'dev', VXLAN_DEV)
    assert sorted((n['dst'], n['lladdr']) for n in neigh) == want_neigh
    assert all('PERMANENT' in n['state'] for n in neigh), neigh
    want_fdb = sorted((vtep_mac(hosts[peer['name']]), peer['node_ip']) for peer in tunnelled)
    fdb = [(f['mac'], f['dst']) for f in bridgej(host, 'fdb', 'show', 'dev', VXLAN_DEV) if f.get('dst')]
    assert sorted(fdb) == want_fdb


@pytest.mark.parametrize('pair', [(a, b) for a in sorted(NODES) for b in sorted(NODES) if a != b],
                         ids=lambda pair: '%s-to-%s' % pair)
def test_pod_to_pod(hosts, pair):
    """The pod of one host pings the pod of another (traffic only between lab namespaces)."""
    src, dst = pair
    ping = hosts[src].run('ip netns exec ns1 ping -c 2 -i 0.2 -W 2 -q %s' % NODES[dst]['pod_ip'])
    assert ping.rc == 0, ping.stdout + ping.stderr
