# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One table per encapsulation: everything the collection knows about how pod packets travel
between hosts, in one place.

Each entry says: the bytes it adds to every packet (the pods' MTU is the underlay's minus that), the
device that carries it (its setting, the module that manages it, what the plan gives that module),
the per-peer entries on that device (routes, permanent neighbours, FDB entries), the role that
applies it on the roles path, the iptables match of its packets (the encapsulation filter admits
them from the peers' node IPs only), and how verify names what it saw on the wire.

Adding an encapsulation is one entry here (plus the module for its device, and its tests): the plan
(_plan.py), the converge (_converge.py), the cleanup of the other encapsulations' devices and verify
read this table. ``MODE_ENCAP`` maps each mode to its encapsulation; crosssubnet chooses per peer
(``none`` for the peers on the host's own underlay prefix, ``podnet_crosssubnet_encap`` for the others).
IPv6 pods travel the way of their IPv4 twins, with one choice: ``podnet_vxlan_underlay ipv6`` carries them in
``vxlan6``, a second vxlan device over the IPv6 underlay, instead of through the vxlan device over IPv4.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

Settings = Dict[str, Any]
Node = Dict[str, Any]


class Encap(NamedTuple):
    name: str
    #: bytes added to every packet: outer IPv4 20; vxlan + UDP 8 + VXLAN 8 + inner Ethernet 14
    overhead: int
    #: the role of the roles path that applies this encapsulation's part of the plan
    role: str
    #: what verify prints for a pair whose packets travelled this way (vxlan adds its VNI and port)
    wire: str
    #: the settings key of the device's name (None: no device), and the module that manages such devices
    device_setting: Optional[str] = None
    device_module: Optional[str] = None
    #: the device's options for its module: (host, settings, underlay device, pod MTU) -> dict
    device: Optional[Callable[[Node, Settings, str, int], Dict[str, Any]]] = None
    #: the route to a tunnelled peer's pod range: (peer, device name) -> route
    route: Optional[Callable[[Node, str], Dict[str, Any]]] = None
    #: per tunnelled peer: permanent neighbour entries and FDB entries on the device
    neighbor: Optional[Callable[[Node], Dict[str, Any]]] = None
    fdb: Optional[Callable[[Node], Dict[str, Any]]] = None
    #: the iptables match of this encapsulation's packets arriving at the host: settings -> match
    firewall_match: Optional[Callable[[Settings], str]] = None
    #: the same packets as a rule of module nftables (its protocol and port): settings -> rule options
    nft_match: Optional[Callable[[Settings], Dict[str, Any]]] = None
    #: IPv6 pods through the same device over the IPv4 underlay (None: this encapsulation carries IPv4 only):
    #: the route to a peer's IPv6 pod range and the permanent neighbour of its IPv6 VTEP address
    route6: Optional[Callable[[Node, str], Dict[str, Any]]] = None
    neighbor6: Optional[Callable[[Node], Dict[str, Any]]] = None
    #: the address family of the underlay it travels over, which is also the one family of pods it carries when 6
    family: int = 4
    #: the plan's keys of its permanent neighbour and FDB entries (one pair per device)
    entries: Tuple[str, str] = ('neighbors', 'fdb')
    #: how the capture names its packets on the wire, when not by this entry's name
    seen_as: Optional[str] = None


def _ipip_device(me, settings, underlay, mtu):  # pylint: disable=unused-argument
    # The pod range's .0/32 on the device, as flannel and Calico give their ipip devices an
    # address: the host's own traffic to other hosts' pods leaves with it (so the answer comes
    # back through the tunnel), and the kernel's reverse-path filter in loose mode drops
    # everything that arrives on a device without an IPv4 address unless the route back uses
    # that very device (seen under User-Mode Linux: a peer's node IP could not reach our pods).
    return dict(name=settings['ipip_dev'], local=me['node_ip'], mtu=mtu, address='%s/32' % me['vtep_ip'])


def _vxlan_device(me, settings, underlay, mtu):
    return dict(name=settings['vxlan_dev'], vni=settings['vxlan_vni'], port=settings['vxlan_port'],
                local=me['node_ip'], dev=underlay, mac=me['vtep_mac'], mtu=mtu, learning=False,
                address='%s/32' % me['vtep_ip'])


def _vxlan6_device(me, settings, underlay, mtu):
    # flannel's second device (flannel-v6.1): the IPv6 underlay, the same VNI and port (the kernel tells the two
    # devices apart by the family of their local address), a MAC of its own; only the IPv6 VTEP address
    return dict(name=settings['vxlan6_dev'], vni=settings['vxlan_vni'], port=settings['vxlan_port'],
                local=me['node_ip6'], dev=underlay, mac=me['vtep_mac6'], mtu=mtu, learning=False,
                address=None, address6='%s/128' % me['vtep_ip6'])


def _vxlan_match(settings):
    """VXLAN to this host's port, over either underlay."""
    return '-p udp -m udp --dport %d' % settings['vxlan_port']


def _vxlan_nft_match(settings):
    return dict(protocol='udp', dport=settings['vxlan_port'])


ENCAPS = {
    'none': Encap(name='none', overhead=0, role='host_gw', wire='plain IP'),
    'ipip': Encap(
        name='ipip', overhead=20, role='ipip', wire='ipip (IP proto 4)',
        device_setting='ipip_dev', device_module='ipip', device=_ipip_device,
        # one-to-many device without remote: the outer destination is the route's gateway (onlink)
        route=lambda peer, dev: dict(dst=peer['pod_cidr'], via=peer['node_ip'], dev=dev, onlink=True),
        firewall_match=lambda settings: '-p 4',
        nft_match=lambda settings: dict(protocol='ipip'),
    ),
    'vxlan': Encap(
        name='vxlan', overhead=50, role='vxlan', wire='vxlan',
        device_setting='vxlan_dev', device_module='vxlan', device=_vxlan_device,
        # via the peer's VTEP address, whose permanent neighbour entry gives its MAC, whose FDB entry
        # gives the peer's node IP: no learning, no flooding
        route=lambda peer, dev: dict(dst=peer['pod_cidr'], via=peer['vtep_ip'], dev=dev, onlink=True),
        neighbor=lambda peer: dict(ip=peer['vtep_ip'], lladdr=peer['vtep_mac']),
        fdb=lambda peer: dict(mac=peer['vtep_mac'], dst=peer['node_ip']),
        firewall_match=_vxlan_match,
        nft_match=_vxlan_nft_match,
        # the same device, VTEP MAC and FDB entry carry the peer's IPv6 pods: flannel's vxlan over an IPv4 underlay
        route6=lambda peer, dev: dict(dst=peer['pod_cidr6'], via=peer['vtep_ip6'], dev=dev, onlink=True),
        neighbor6=lambda peer: dict(ip=peer['vtep_ip6'], lladdr=peer['vtep_mac']),
    ),
    # IPv6 pods over the IPv6 underlay (podnet_vxlan_underlay ipv6): outer IPv6 40 + UDP 8 + VXLAN 8 + Ethernet 14
    'vxlan6': Encap(
        name='vxlan6', overhead=70, role='vxlan', wire='vxlan', family=6, entries=('neighbors6', 'fdb6'),
        seen_as='vxlan', device_setting='vxlan6_dev', device_module='vxlan', device=_vxlan6_device,
        route=lambda peer, dev: dict(dst=peer['pod_cidr6'], via=peer['vtep_ip6'], dev=dev, onlink=True),
        neighbor=lambda peer: dict(ip=peer['vtep_ip6'], lladdr=peer['vtep_mac6']),
        fdb=lambda peer: dict(mac=peer['vtep_mac6'], dst=peer['node_ip6']),
        firewall_match=_vxlan_match,
        nft_match=_vxlan_nft_match,
    ),
}

#: the encapsulation of each mode; crosssubnet: per peer (see the module's docstring)
MODE_ENCAP = {'host-gw': 'none', 'ipip': 'ipip', 'vxlan': 'vxlan', 'crosssubnet': None}
MODES = tuple(MODE_ENCAP)
#: the encapsulations that have a device
DEVICE_ENCAPS = tuple(name for name, encap in ENCAPS.items() if encap.device_setting)
#: the encapsulations crosssubnet can use for the peers off the host's own underlay prefix (over the IPv4 underlay;
#: vxlan6 joins vxlan for the IPv6 pods with podnet_vxlan_underlay ipv6)
CROSSSUBNET_ENCAPS = tuple(name for name in DEVICE_ENCAPS if ENCAPS[name].family == 4)
#: podnet_vxlan_underlay: the encapsulation of the IPv6 pods that vxlan carries
VXLAN_UNDERLAYS = {'ipv4': 'vxlan', 'ipv6': 'vxlan6'}


def mode_encap(mode: str, settings: Settings) -> str:
    """The encapsulation of ``mode`` (for crosssubnet: the one used for the peers that need one)."""
    return MODE_ENCAP.get(mode) or settings['crosssubnet_encap']


def devices_not_wanted(encaps: Sequence[str], settings: Settings, everything: bool = False) -> Dict[str, List[str]]:
    """For each encapsulation with a device: the device names to remove, unless it is one of ``encaps`` (all of them
    with ``everything``)."""
    return dict((name, [] if name in encaps and not everything else [settings[ENCAPS[name].device_setting]])
                for name in DEVICE_ENCAPS)
