# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only facts about a node's underlay, for the plan: which device holds the
node IP, its MTU and prefix, which peers are on-link (flannel's test for
'direct': the kernel's route to the peer has no gateway), and the host's links
with their kind (and, for vxlan and ipip devices, what they listen on), so the
plan can refuse a device name, VNI or port that something else already uses."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any, Dict, Optional, Sequence

from ansible_collections.openkube.podnet.plugins.module_utils import _bpf_filter, _cni, _ipset, _nftables, _record, _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError, link_kind

ARGSPEC = dict(
    node_ip=dict(type='str', required=True),
    node_ip6=dict(type='str'),
    dev=dict(type='str'),
    peers=dict(type='list', elements='str', default=[]),
    names=dict(type='dict', default={}),
    record=dict(type='str'),
    ipset=dict(type='bool', default=False),
    nftables=dict(type='list', elements='str'),
    bpf=dict(type='bool', default=False),
)


def option_names(params):
    """What the messages call each option: its own name, or what ``names`` says (the variables people set,
    for example ``podnet_node_ip``; ``names['peers']`` is a list, one name per peer)."""
    given = params.get('names') or {}
    peers = list(given.get('peers') or [])
    count = len(params.get('peers') or [])
    return dict(
        node_ip=given.get('node_ip') or 'node_ip',
        node_ip6=given.get('node_ip6') or 'node_ip6',
        dev=given.get('dev') or 'dev',
        peers=[peers[i] if i < len(peers) and peers[i] else 'peers[%d]' % i for i in range(count)],
    )


def validate(params):
    names = option_names(params)
    return dict(
        node_ip=v.ip_address(names['node_ip'], params['node_ip'], 4),
        node_ip6=v.optional(v.ip_address, names['node_ip6'], params.get('node_ip6'), 6),
        dev=v.optional(v.ifname, names['dev'], params.get('dev')),
        # IPv4 and IPv6 node addresses: a dual-stack underlay's peers are tested in both families
        peers=[v.ip_address(names['peers'][i], p) for i, p in enumerate(params.get('peers') or [])],
        names=names,
        record=v.optional(v.state_dir, 'record', params.get('record')),
        ipset=bool(params.get('ipset')),
        nftables=_families(params.get('nftables')),
        bpf=bool(params.get('bpf')),
    )


def _families(value):
    if value is None:
        return None
    for i, family in enumerate(value):
        if family not in _nftables.FAMILIES:
            raise v.ValidationError('nftables[%d]: %r is not an nftables family of the filter (%s)'
                                    % (i, family, ', '.join(_nftables.FAMILIES)))
    return list(value)


def read(nl, wanted):
    node_ip = wanted['node_ip']
    names = wanted.get('names') or option_names({})
    found = None
    addresses = []
    for msg in nl.call('dump addresses', 'addr', 'dump', family=socket.AF_INET):
        addr = msg.get_attr('IFA_ADDRESS')
        addresses.append('%s/%d' % (addr, msg['prefixlen']))
        if addr == str(node_ip):
            found = msg
    if found is None:
        raise PodnetError('%s: %r is not an address of any interface of this host (it has %s)'
                          % (names['node_ip'], str(node_ip), ', '.join(addresses) or 'none'))
    dev = nl.ifname(found['index'])
    if wanted['dev'] and wanted['dev'] != dev:
        raise PodnetError('%s: %r does not hold %s %s (%s does)' % (names['dev'], wanted['dev'], names['node_ip'], node_ip, dev))
    link = nl.get_link(dev)
    network = ipaddress.ip_interface('%s/%d' % (node_ip, found['prefixlen'])).network
    network6 = None
    if wanted.get('node_ip6') is not None:
        network6 = _node_ip6(nl, wanted['node_ip6'], found['index'], dev, names)
    onlink = {}
    for peer in wanted['peers']:
        try:
            route = nl.call('route get %s' % peer, 'route', 'get', dst=str(peer),
                            family=socket.AF_INET6 if peer.version == 6 else socket.AF_INET)[0]
            onlink[str(peer)] = route.get_attr('RTA_GATEWAY') is None and route.get_attr('RTA_OIF') == found['index']
        except PodnetError:
            onlink[str(peer)] = False  # unreachable: certainly not on-link
    found_links = links(nl)
    # can the host hold the filter as nftables tables (found: is there nft, whose tables the plan may have to
    # remove; missing: why not, '' when it can)? Where it can, the ip set is not probed: the plan uses nftables
    nft = _nftables.support(wanted['nftables']) if wanted.get('nftables') is not None else None
    # can it run the filter as the collection's eBPF program at the underlay's tc ingress (podnet_encap_filter_backend
    # bpf)? missing: why not, '' when it can
    bpf = dict(missing=_bpf_filter.support()) if wanted.get('bpf') else None
    nft_ok = nft is not None and bool(wanted['nftables']) and not nft['missing']
    return dict(
        cni_plugins=cni_plugins(),
        links=found_links,
        rp_filter=rp_filter(dev, found_links),
        underlay_dev=dev,
        underlay_mtu=link.get_attr('IFLA_MTU'),
        underlay_network=str(network),
        **({'underlay_network6': str(network6)} if network6 is not None else {}),
        onlink=onlink,
        # why the kernel cannot hold the encapsulation filter's ip set ('' when it can), where the plan would use one
        **({'ipset_missing': _ipset.missing_support()} if wanted.get('ipset') and not nft_ok else {}),
        **({'nftables': nft} if nft is not None else {}),
        **({'bpf': bpf} if bpf is not None else {}),
        **recorded(wanted.get('record'))
    )


def _node_ip6(nl, node_ip6, index, dev, names):
    """The network of the node's IPv6 underlay address, which must be on the device that holds the IPv4 one (the
    routes to the peers' IPv6 pod ranges leave through that device)."""
    held = []
    for msg in nl.call('dump IPv6 addresses', 'addr', 'dump', family=socket.AF_INET6):
        addr = msg.get_attr('IFA_ADDRESS')
        if ipaddress.ip_address(addr) == node_ip6:
            if msg['index'] != index:
                raise PodnetError('%s: %s is on %s, not on %s, the device that holds %s'
                                  % (names['node_ip6'], node_ip6, nl.ifname(msg['index']), dev, names['node_ip']))
            return ipaddress.ip_interface('%s/%d' % (node_ip6, msg['prefixlen'])).network
        if not addr.lower().startswith('fe80:') and addr != '::1':
            held.append('%s/%d' % (addr, msg['prefixlen']))
    raise PodnetError('%s: %r is not an address of any interface of this host (its IPv6 addresses: %s)'
                      % (names['node_ip6'], str(node_ip6), ', '.join(held) or 'none but link-local'))


def recorded(path: Optional[str]) -> Dict[str, Any]:
    """What the last applied plan, in the record at ``path``, says the collection made on this host and may remove
    when it is no longer wanted (and only that): its pods ({name, host_dev} each), its pod bridge and its CNI
    configuration file. An unreadable or missing record means none: nothing is removed on its account."""
    plan = ((_record.read_record(path)[0] if path else None) or {}).get('plan') or {}
    pods = plan.get('pods') if isinstance(plan.get('pods'), list) else []
    bridge = plan.get('bridge') if isinstance(plan.get('bridge'), dict) else {}
    cni = plan.get('cni') if isinstance(plan.get('cni'), dict) else {}
    bpf = plan.get('bpf_filters') if isinstance(plan.get('bpf_filters'), list) else []
    return dict(
        recorded_pods=[dict(name=p.get('name'), host_dev=p.get('host_dev')) for p in pods
                       if isinstance(p, dict) and isinstance(p.get('name'), str) and isinstance(p.get('host_dev'), str)],
        recorded_bridge=bridge.get('name') if isinstance(bridge.get('name'), str) else None,
        recorded_cni=cni.get('path') if isinstance(cni.get('path'), str) else None,
        recorded_bpf=[f['dev'] for f in bpf if isinstance(f, dict) and isinstance(f.get('dev'), str)],
    )


def cni_plugins(dirs: Sequence[str] = _cni.BIN_DIRS) -> Dict[str, Optional[str]]:
    """Where each CNI plugin the collection's configuration names is installed (the first of ``dirs``), or None."""
    found: Dict[str, Optional[str]] = {}
    for plugin in _cni.PLUGINS:
        found[plugin] = next((os.path.join(d, plugin) for d in dirs if os.access(os.path.join(d, plugin), os.X_OK)), None)
    return found


def rp_filter(dev: str, found_links: Dict[str, Dict[str, Any]], root: str = '/proc/sys/net/ipv4/conf') -> Dict[str, Any]:
    """IPv4 reverse-path filtering as this network namespace has it: ``all``, ``default`` (what a new device starts
    with) and ``devices``, the own value of the underlay device ``dev`` and of every vxlan and ipip device. The kernel
    filters a packet by the larger of conf/all and its device's value (0 off, 1 strict, 2 loose). A value that cannot
    be read is left out (the plan then assumes filtering is on)."""
    def value(name):
        try:
            with open(os.path.join(root, name, 'rp_filter')) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    names = [dev] + sorted(name for name, entry in found_links.items() if entry.get('kind') in ('vxlan', 'ipip'))
    values = dict((name, value(name)) for name in ['all', 'default'] + names)
    return dict(((k, values[k]) for k in ('all', 'default') if values[k] is not None),
                devices=dict((name, values[name]) for name in names if values[name] is not None))


def links(nl):
    """{name: {kind, and for vxlan vni/port, for ipip local/remote}} of every link of the host."""
    found = {}
    for msg in nl.call('dump links', 'link', 'dump'):
        name = msg.get_attr('IFLA_IFNAME')
        info = msg.get_attr('IFLA_LINKINFO')
        kind = link_kind(msg)
        data = info.get_attr('IFLA_INFO_DATA') if info is not None else None
        entry = dict(kind=kind)
        if kind == 'vxlan' and data is not None:
            entry.update(vni=data.get_attr('IFLA_VXLAN_ID'), port=data.get_attr('IFLA_VXLAN_PORT'))
        elif kind == 'ipip' and data is not None:
            entry.update(local=data.get_attr('IFLA_IPIP_LOCAL') or '0.0.0.0',
                         remote=data.get_attr('IFLA_IPIP_REMOTE') or '0.0.0.0')
        found[name] = entry
    return found
