# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: every host's pod network as a pure function of the inventory.

Runs on the controller (through the filter plugins in plugins/filter/plan.py)
and touches no kernel. Input: the cluster's hosts with their variables, the
settings of the host being planned, and a few facts read on that host (its
underlay device, MTU, which peers are on-link). Output: plain data that the
roles hand to the modules, one call per table:

    pods        namespaces, veth pairs, addresses, the pod's default route
    sysctl      net.ipv4.ip_forward (set with purge: what the collection changed and no longer
                wants goes back to its value from before, see the sysctl module's ledger)
    routes      the host's whole table of owned routes (pods + peers), for purge
    ipip/vxlan  the tunnel device of the mode (None otherwise)
    vxlan6      the vxlan device over the IPv6 underlay for the IPv6 pods (podnet_vxlan_underlay ipv6; None otherwise),
                with its entries neighbors6 and fdb6, and encap6 (here and per peer): how the IPv6 pods travel
    device_sysctl  per-device settings of the tunnel device (rp_filter), set once it exists
    neighbors   vxlan: permanent neighbour entries, one per tunnelled peer
    fdb         vxlan: FDB entries, one per tunnelled peer
    firewall    the collection's own iptables chains (FORWARD accept, encapsulation from peers only, masquerade)
    nftables    the encapsulation filter as the collection's nftables tables (ip podnet, ip6 podnet) where the host
                can hold them (node_facts' nftables); [] where nft is there but no table is wanted (the converge
                removes the collection's), None where the host has no nft
    bpf_filters the encapsulation filter as the collection's eBPF program on the underlay's tc ingress (backend bpf),
                one entry; [] where the last applied plan had one and this one has none (the converge removes it),
                None otherwise
    ipsets      the kernel ip sets PODNET-INPUT matches the peers' node IPs with (podnet-peers, podnet-peers6), where
                the filter is an iptables chain
    absent_ipsets  the collection's ip sets this plan does not want, to remove once no chain uses them
    absent_devices  devices of the other encapsulations, to remove
    apply_role  the role that applies the mode on the roles path (host_gw, ipip, vxlan)
    record      where the converge stores this plan on the host once applied (_record.py):
                podnet_state_dir/applied.json, read by the verify role
    repair      the boot and repair units after it (_repair.py): state, state_dir, unit_dir, interval

What each encapsulation brings (overhead, device, per-peer entries, firewall match, how verify
names it) is one entry of the table in _encap.py.

Mode ``crosssubnet`` (Calico CrossSubnet, flannel DirectRouting) is host-gw for
the peers whose node IP lies in the host's own underlay prefix and the tunnel
of ``crosssubnet_encap`` (vxlan or ipip) for the others; every peer entry of
the plan says how it is reached (``encap``: none, ipip or vxlan).

Validation of the whole cluster (preflight) happens here too, before any
change, with messages that name the host, the variable and the value.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import posixpath
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple, TypeVar, Union

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._encap import (
    CROSSSUBNET_ENCAPS, DEVICE_ENCAPS, ENCAPS, MODES, VXLAN_UNDERLAYS, devices_not_wanted, mode_encap)

T = TypeVar('T')

#: rp_filter on the tunnel device: 2 = loose (see device_sysctl in host_plan)
TUNNEL_RP_FILTER = '2'
FORWARD_CHAIN = 'PODNET-FORWARD'
INPUT_CHAIN = 'PODNET-INPUT'
MASQUERADE_CHAIN = 'PODNET-POSTROUTING'
#: the ip sets (module ipset) of the node prefixes PODNET-INPUT admits, per underlay family
PEER_SETS = {4: 'podnet-peers', 6: 'podnet-peers6'}
#: the encapsulation filter as nftables (module nftables): per underlay family a table, its set of the peers' node
#: addresses and its base chain on the input hook
NFT_FAMILIES = {4: 'ip', 6: 'ip6'}
NFT_TABLE, NFT_SET, NFT_CHAIN = 'podnet', 'peers', 'input'
#: podnet_encap_filter_backend: auto (nftables where the host can hold its table, the iptables chain elsewhere);
#: bpf: the collection's eBPF program at the underlay's tc ingress (module bpf_filter), IPv4 underlays only
FILTER_BACKENDS = ('auto', 'nftables', 'iptables', 'bpf')
MULTICAST = '224.0.0.0/4'
MULTICAST6 = 'ff00::/8'
POD_IP_OFFSET = 10  # the reference setup puts its pod at .10 of the host's range
GATEWAY_OFFSET = 1  # the host side of every pod's veth holds .1/32: the pod's gateway
RECORD_FILE = 'applied.json'  # in podnet_state_dir: the last applied plan (_record.py)
ATTACH = ('routed', 'bridge')  # a veth per pod with /32 routes; or a bridge holding the gateway, cni0-style
CNI_NETWORK = 'podnet'

DEFAULTS = dict(
    mode='vxlan',
    state='present',
    vxlan_dev='podnet.vxlan',
    vxlan6_dev='podnet.vxlan6',
    vxlan_underlay='ipv4',
    vxlan_vni=1,
    vxlan_port=v.VXLAN_DEFAULT_PORT,
    ipip_dev='podnet.ipip',
    pods=[{'name': 'ns1'}],
    attach='routed',
    bridge_dev='cni0',
    cni=False,
    cni_dir='/etc/cni/net.d',
    cni_file='10-podnet.conflist',
    mtu=None,
    crosssubnet_encap='vxlan',
    encap_filter=True,
    encap_filter_backend='auto',
    forward_accept=True,
    masquerade=True,
    iptables='iptables',
    state_dir='/var/lib/podnet',
    repair=True,
    repair_interval=60,
    repair_unit_dir='/etc/systemd/system',
)


#: Ansible's booleans (module_utils.parsing.convert_bool), compared in lower case
BOOLEANS_TRUE = ('y', 'yes', 'on', '1', 'true', 't')
BOOLEANS_FALSE = ('n', 'no', 'off', '0', 'false', 'f')
#: the entry role's variables that are not settings of the plan (the path a run takes, the pyroute2 installation
#: in its rescue): ``bool``, ``str`` or a tuple of choices. host_check checks them with the settings, so that
#: site.yml can run the role without Ansible's own check of its argument specification (a task per host; a unit
#: test holds this table to meta/argument_specs.yml)
ROLE_ARGS = dict(apply=('one_call', 'roles'), two_phase=bool, cluster_group=str, install_pyroute2=bool, pyroute2_package=str,
                 pyroute2_venv=str, pyroute2_venv_package=str, pyroute2_pip_spec=str, pyroute2_pip_args=str)


class PlanError(v.ValidationError):
    """An inventory that cannot be planned; the message names host, variable and value."""


def _host_fail(host: str, var: str, value: Any, why: str) -> NoReturn:
    raise PlanError('%s: %s %r %s' % (host, var, value, why))


def _check(host: str, var: str, validator: Callable[..., T], value: Any, *args: Any) -> T:
    """Run a validator and re-word its error as 'host: variable value why'."""
    try:
        return validator(var, value, *args)
    except v.ValidationError as exc:
        text = str(exc)
        if text.startswith(var + ': '):
            text = text[len(var) + 2:]
        raise PlanError('%s: %s %s' % (host, var, text))


def boolean(host: str, var: str, value: Any) -> bool:
    """A boolean as Ansible reads one (true/false, yes/no, on/off, 1/0, ...); anything else fails naming host,
    variable and value (Ansible's ``| bool`` would turn it into false with a deprecation warning)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int, float)) else None
    if text in BOOLEANS_TRUE or text in BOOLEANS_FALSE:
        return text in BOOLEANS_TRUE
    _host_fail(host, var, value, 'must be a boolean (true or false)')


def check_role_args(host: str, role: Dict[str, Any]) -> Dict[str, Any]:
    """The role variables of :data:`ROLE_ARGS` given in ``role`` (without their prefix podnet_), checked and
    normalised (booleans as bool)."""
    out = {}
    for key, value in role.items():
        kind = ROLE_ARGS.get(key)
        var = 'podnet_' + key
        if kind is None:
            raise PlanError('%s: %s is not a variable the role checks (choose from %s)' % (host, var, ', '.join(sorted(ROLE_ARGS))))
        if kind is bool:
            value = boolean(host, var, value)
        elif kind is str:
            if not isinstance(value, str) or (key == 'cluster_group' and not value.strip()):
                _host_fail(host, var, value, 'must be a string' + (' (the name of an inventory group)' if key == 'cluster_group' else ''))
        elif value not in kind:
            _host_fail(host, var, value, 'is not one of %s' % ', '.join(kind))
        out[key] = value
    return out


def stable_mac(what: str, node_ip: Union[str, v.IPAddress]) -> str:
    """A stable, locally administered unicast MAC for device ``what`` of the host with ``node_ip``."""
    digest = hashlib.sha256(('openkube.podnet/%s/%s' % (what, node_ip)).encode()).digest()
    octets = [0x0e] + list(digest[:5])  # 0x0e: locally administered (bit 1), unicast (bit 0 clear)
    return ':'.join('%02x' % o for o in octets)


def vtep_mac(node_ip: Union[str, v.IPAddress]) -> str:
    """A stable, locally administered unicast MAC derived from the node IP.

    Every host computes every peer's VTEP MAC the same way, and re-creating a
    device never changes it (flannel#1155, #1795)."""
    return stable_mac('vtep', node_ip)


def normalise_settings(host: str, raw: Dict[str, Any]) -> Dict[str, Any]:
    """The host's own settings (mode, devices, VNI, port, pods), validated."""
    s = dict(DEFAULTS)
    s.update(dict((k, val) for k, val in raw.items() if val is not None))
    if s['mode'] not in MODES:
        _host_fail(host, 'podnet_mode', s['mode'], 'is not a mode: choose one of %s' % ', '.join(MODES))
    if s['state'] not in ('present', 'absent'):
        _host_fail(host, 'podnet_state', s['state'], 'must be present or absent')
    s['vxlan_dev'] = _check(host, 'podnet_vxlan_dev', v.ifname, s['vxlan_dev'])
    s['ipip_dev'] = _check(host, 'podnet_ipip_dev', v.ifname, s['ipip_dev'])
    s['vxlan6_dev'] = _check(host, 'podnet_vxlan6_dev', v.ifname, s['vxlan6_dev'])
    if s['vxlan_dev'] == s['ipip_dev']:
        _host_fail(host, 'podnet_vxlan_dev', s['vxlan_dev'], 'is also podnet_ipip_dev; the devices need two names')
    if s['vxlan6_dev'] in (s['vxlan_dev'], s['ipip_dev']):
        _host_fail(host, 'podnet_vxlan6_dev', s['vxlan6_dev'], 'is also the name of another tunnel device '
                   '(podnet_vxlan_dev, podnet_ipip_dev); the devices need names of their own')
    if s['vxlan_underlay'] not in VXLAN_UNDERLAYS:
        _host_fail(host, 'podnet_vxlan_underlay', s['vxlan_underlay'], 'is not an underlay family for the IPv6 pods '
                   'that vxlan carries: choose one of %s' % ', '.join(VXLAN_UNDERLAYS))
    s['vxlan_vni'] = _check(host, 'podnet_vxlan_vni', v.vni, s['vxlan_vni'])
    s['vxlan_port'] = _check(host, 'podnet_vxlan_port', v.port, s['vxlan_port'])
    # 0 (the role's default) or None: the underlay's MTU minus the encapsulation
    if s['mtu'] is not None and str(s['mtu']).strip() != '0':
        s['mtu'] = _check(host, 'podnet_mtu', v.mtu, s['mtu'])
    else:
        s['mtu'] = None
    if s['crosssubnet_encap'] not in CROSSSUBNET_ENCAPS:
        _host_fail(host, 'podnet_crosssubnet_encap', s['crosssubnet_encap'],
                   'is not an encapsulation for crosssubnet: choose one of %s' % ', '.join(CROSSSUBNET_ENCAPS))
    if s['encap_filter_backend'] not in FILTER_BACKENDS:
        _host_fail(host, 'podnet_encap_filter_backend', s['encap_filter_backend'],
                   'is not a way to filter the encapsulation: choose one of %s' % ', '.join(FILTER_BACKENDS))
    if s['encap_filter_backend'] == 'bpf' and s['encap_filter'] and mode_encap(s['mode'], s) == 'vxlan' and \
            ENCAPS[VXLAN_UNDERLAYS[s['vxlan_underlay']]].family == 6:
        _host_fail(host, 'podnet_encap_filter_backend', 'bpf', 'filters the encapsulation over an IPv4 underlay only, '
                   'and podnet_vxlan_underlay is ipv6: use auto or nftables')
    if s['attach'] not in ATTACH:
        _host_fail(host, 'podnet_attach', s['attach'], 'is not a way to attach pods: choose one of %s' % ', '.join(ATTACH))
    s['bridge_dev'] = _check(host, 'podnet_bridge_dev', v.ifname, s['bridge_dev'])
    if s['bridge_dev'] in (s['vxlan_dev'], s['ipip_dev'], s['vxlan6_dev']):
        _host_fail(host, 'podnet_bridge_dev', s['bridge_dev'], 'is also the name of a tunnel device (podnet_vxlan_dev, '
                   'podnet_ipip_dev, podnet_vxlan6_dev)')
    s['cni_dir'] = _check(host, 'podnet_cni_dir', v.state_dir, s['cni_dir'])
    if not isinstance(s['cni_file'], str) or '/' in s['cni_file'] or not s['cni_file'].endswith('.conflist'):
        _host_fail(host, 'podnet_cni_file', s['cni_file'], 'must be a file name ending in .conflist (no folder)')
    for key in ('encap_filter', 'forward_accept', 'masquerade', 'repair', 'cni'):
        s[key] = boolean(host, 'podnet_' + key, s[key])
    if not isinstance(s['iptables'], str) or not s['iptables'] or s['iptables'] != s['iptables'].strip():
        _host_fail(host, 'podnet_iptables', s['iptables'], 'must be the name or path of an iptables program')
    s['state_dir'] = _check(host, 'podnet_state_dir', v.state_dir, s['state_dir'])
    s['repair_interval'] = _check(host, 'podnet_repair_interval', v.repair_interval, s['repair_interval'])
    s['repair_unit_dir'] = _check(host, 'podnet_repair_unit_dir', v.state_dir, s['repair_unit_dir'])
    if not isinstance(s['pods'], list):
        _host_fail(host, 'podnet_pods', s['pods'], 'must be a list of pods ({name: ns1}), or [] when the pods are '
                   'made by a container runtime')
    if s['cni'] and s['attach'] != 'bridge':
        _host_fail(host, 'podnet_cni', s['cni'], "needs podnet_attach 'bridge' (it is %r): the CNI bridge plugin attaches "
                   "the runtime's pods to the collection's bridge, which holds the gateway" % s['attach'])
    return s


def record_path(settings: Dict[str, Any]) -> str:
    """Where the converge records the applied plan on the host (normalised settings)."""
    return posixpath.join(settings['state_dir'], RECORD_FILE)


def normalise_node(host: str, hostvars: Dict[str, Any]) -> Dict[str, Any]:
    """One cluster member's inventory data, validated."""
    for var in ('podnet_node_ip', 'podnet_pod_cidr'):
        if hostvars.get(var) in (None, ''):
            raise PlanError('%s: %s is not set; every host of the cluster needs podnet_node_ip and podnet_pod_cidr'
                            % (host, var))
    node_ip = _check(host, 'podnet_node_ip', v.ip_address, hostvars['podnet_node_ip'], 4)
    pod_cidr = _check(host, 'podnet_pod_cidr', v.ip_network, hostvars['podnet_pod_cidr'], 4)
    if pod_cidr.num_addresses < 16:
        _host_fail(host, 'podnet_pod_cidr', hostvars['podnet_pod_cidr'], 'is too small: a pod range needs at least a /28')
    if node_ip in pod_cidr:
        _host_fail(host, 'podnet_pod_cidr', str(pod_cidr), 'contains the node IP %s (podnet_node_ip)' % node_ip)
    mac = hostvars.get('podnet_vxlan_mac')
    mac = _check(host, 'podnet_vxlan_mac', v.mac, mac) if mac else vtep_mac(node_ip)
    node = dict(name=host, node_ip=str(node_ip), pod_cidr=str(pod_cidr), vtep_ip=str(pod_cidr.network_address),
                vtep_mac=mac, _net=pod_cidr, _ip=node_ip)
    # IPv6 beside IPv4 (dual-stack): the host's IPv6 pod range, and its IPv6 underlay address where it has one
    if hostvars.get('podnet_pod_cidr6') not in (None, ''):
        net6 = _check(host, 'podnet_pod_cidr6', v.ip_network, hostvars['podnet_pod_cidr6'], 6)
        if net6.prefixlen > 120:
            _host_fail(host, 'podnet_pod_cidr6', str(net6), 'is too small: an IPv6 pod range needs at least a /120')
        node.update(pod_cidr6=str(net6), vtep_ip6=str(net6.network_address), _net6=net6)
    if hostvars.get('podnet_node_ip6') not in (None, ''):
        ip6 = _check(host, 'podnet_node_ip6', v.ip_address, hostvars['podnet_node_ip6'], 6)
        if node.get('_net6') is not None and ip6 in node['_net6']:
            _host_fail(host, 'podnet_pod_cidr6', node['pod_cidr6'], 'contains the node IP %s (podnet_node_ip6)' % ip6)
        node.update(node_ip6=str(ip6), vtep_mac6=stable_mac('vtep6', ip6), _ip6=ip6)
    return node


def validate_cluster(members: Sequence[Tuple[str, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """members: list of (host, hostvars). Returns normalised nodes; raises PlanError on the first problem.

    O(N log N), not pairwise: duplicates by dictionary, overlapping pod ranges by sorting them, node IPs inside
    a pod range by bisecting the sorted ranges. Of two hosts in conflict, the later one in the inventory is the
    one named as wrong, with the other as the reason."""
    if not members:
        raise PlanError('the cluster group has no hosts (podnet_cluster_group)')
    nodes = [normalise_node(host, hv) for host, hv in members]
    for i, node in enumerate(nodes):
        node['_order'] = i
    for key, var, what, label in (('_ip', 'podnet_node_ip', 'node_ip', 'node IP'),
                                  ('vtep_mac', 'podnet_vxlan_mac', 'vtep_mac', 'VTEP MAC'),
                                  ('_ip6', 'podnet_node_ip6', 'node_ip6', 'node IP')):
        seen = {}  # type: Dict[Any, Dict[str, Any]]
        for node in nodes:
            if node.get(key) is None:  # an IPv6 node address is optional
                continue
            first = seen.setdefault(node[key], node)
            if first is not node:
                _host_fail(node['name'], var, node[what], 'is also the %s of %s' % (label, first['name']))
    _no_overlaps(nodes, '_net', 'podnet_pod_cidr', 'pod_cidr')
    _no_node_ip_inside(nodes, '_ip', '_net', 'podnet_pod_cidr', 'pod_cidr', 'node_ip')
    with6 = [n for n in nodes if n.get('_net6') is not None]
    if with6 and len(with6) != len(nodes):
        without = [n for n in nodes if n.get('_net6') is None][0]
        _host_fail(without['name'], 'podnet_pod_cidr6', None, 'is not set, but %s has one: in a dual-stack cluster every '
                   'host needs an IPv6 pod range' % with6[0]['name'])
    if with6:
        _no_overlaps(nodes, '_net6', 'podnet_pod_cidr6', 'pod_cidr6')
        _no_node_ip_inside([n for n in nodes if n.get('_ip6') is not None], '_ip6', '_net6', 'podnet_pod_cidr6',
                           'pod_cidr6', 'node_ip6', ranges_of=nodes)
    for node in nodes:
        del node['_order']
    return nodes


def _no_overlaps(nodes: List[Dict[str, Any]], key: str, var: str, field: str) -> None:
    """Pod ranges in address order: one overlaps an earlier one exactly when it starts before the furthest end so far."""
    ranges = sorted(nodes, key=lambda n: (int(n[key].network_address), n[key].prefixlen))
    furthest = None  # type: Optional[Dict[str, Any]]
    for node in ranges:
        if furthest is not None and int(node[key].network_address) <= int(furthest[key].broadcast_address):
            a, b = sorted((furthest, node), key=lambda n: n['_order'])
            _host_fail(b['name'], var, b[field], "overlaps %s's %s %s" % (a['name'], var, a[field]))
        if furthest is None or int(node[key].broadcast_address) > int(furthest[key].broadcast_address):
            furthest = node


def _no_node_ip_inside(nodes: List[Dict[str, Any]], ip_key: str, net_key: str, var: str, field: str, ip_field: str,
                       ranges_of: Optional[List[Dict[str, Any]]] = None) -> None:
    """No node IP inside another host's pod range: bisect the sorted (and by now disjoint) ranges."""
    ranges = sorted(ranges_of if ranges_of is not None else nodes, key=lambda n: int(n[net_key].network_address))
    starts = [int(n[net_key].network_address) for n in ranges]
    for node in nodes:
        at = bisect.bisect_right(starts, int(node[ip_key])) - 1
        if at >= 0 and node[ip_key] in ranges[at][net_key]:
            owner = ranges[at]
            _host_fail(owner['name'], var, owner[field], 'contains the node IP of %s (%s)' % (node['name'], node[ip_field]))


POD_KEYS = ('name', 'ip', 'ip6', 'host_dev')


def _pods(host: str, node: Dict[str, Any], settings: Dict[str, Any], mtu: int) -> List[Dict[str, Any]]:
    net = node['_net']
    gateway = net.network_address + GATEWAY_OFFSET
    pods, seen_ips, seen_names = [], {}, {}  # type: List[Dict[str, Any]], Dict[Any, str], Dict[Any, str]
    for i, pod in enumerate(settings['pods']):
        var = 'podnet_pods[%d]' % i
        if not isinstance(pod, dict) or not pod.get('name'):
            _host_fail(host, var, pod, 'must be a dict with at least a name ({name: ns1})')
        unknown = sorted(str(key) for key in pod if key not in POD_KEYS)
        if unknown:  # a typo ({name: db, address: ...}) would otherwise run with the defaults
            _host_fail(host, var, pod, 'has unknown key%s %s: a pod has only %s'
                       % ('s' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(POD_KEYS)))
        name = _check(host, var + '.name', v.nsname, pod['name'])
        host_dev = _check(host, var + '.host_dev', v.ifname, pod.get('host_dev') or 'veth-%s' % name)
        ip = pod.get('ip')
        ip = _check(host, var + '.ip', v.ip_address, ip, 4) if ip else net.network_address + POD_IP_OFFSET + i
        if ip not in net or ip in (net.network_address, net.broadcast_address, gateway):
            _host_fail(host, var + '.ip', str(ip), 'is not a usable pod address in podnet_pod_cidr %s '
                       '(.0 is the VTEP, .1 the gateway)' % net)
        ip6 = None
        if node.get('_net6') is not None:  # dual-stack: an IPv6 address too, .10, .11 ... of the IPv6 range by default
            net6 = node['_net6']
            ip6 = _check(host, var + '.ip6', v.ip_address, pod['ip6'], 6) if pod.get('ip6') else net6.network_address + POD_IP_OFFSET + i
            if ip6 not in net6 or ip6 in (net6.network_address, net6.network_address + GATEWAY_OFFSET):
                _host_fail(host, var + '.ip6', str(ip6), 'is not a usable pod address in podnet_pod_cidr6 %s '
                           '(::0 is the VTEP, ::1 the gateway)' % net6)
        elif pod.get('ip6'):
            _host_fail(host, var + '.ip6', pod['ip6'], 'needs podnet_pod_cidr6 (the host has no IPv6 pod range)')
        for seen, key, what in ((seen_ips, ip, 'ip'), (seen_ips, ip6, 'ip6'), (seen_names, name, 'name'),
                                (seen_names, host_dev, 'host_dev')):
            if key is None:
                continue
            if key in seen:
                _host_fail(host, '%s.%s' % (var, what), str(key), 'is used twice (also %s)' % seen[key])
            seen[key] = var
        if settings['attach'] == 'bridge':
            # flannel's and the CNI bridge plugin's layout: the pod on the range's subnet, its veth a port of the
            # bridge that holds the gateway (the host end has no address)
            entry = dict(name=name, ip=str(ip), address='%s/%d' % (ip, net.prefixlen), host_dev=host_dev, dev='eth0',
                         gateway=str(gateway), gateway_address=None, master=settings['bridge_dev'], onlink=False,
                         mtu=mtu)
        else:
            entry = dict(name=name, ip=str(ip), address='%s/32' % ip, host_dev=host_dev, dev='eth0',
                         gateway=str(gateway), gateway_address='%s/32' % gateway, master=None, onlink=True, mtu=mtu)
        if ip6 is not None:
            gateway6 = node['_net6'].network_address + GATEWAY_OFFSET
            bridged = settings['attach'] == 'bridge'
            entry.update(ip6=str(ip6), address6='%s/%d' % (ip6, node['_net6'].prefixlen if bridged else 128),
                         gateway6=str(gateway6), gateway_address6=None if bridged else '%s/128' % gateway6)
        pods.append(entry)
    return pods


#: the inventory variables of a cluster member that the plan reads, and the fields of a node (the output of the
#: filter cluster_check) that hold them, in the same order
NODE_VARS = ('podnet_node_ip', 'podnet_pod_cidr', 'podnet_vxlan_mac', 'podnet_pod_cidr6', 'podnet_node_ip6')
NODE_FIELDS = ('node_ip', 'pod_cidr', 'vtep_mac', 'pod_cidr6', 'node_ip6')


def members_from_nodes(nodes: Sequence[Dict[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
    """[(host, {podnet_node_ip, podnet_pod_cidr, ...})] from nodes as the filter cluster_check returns them."""
    members = []
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not node.get('name'):
            raise PlanError('cluster[%d]: a node needs a name (the output of openkube.podnet.cluster_check)' % i)
        members.append((node['name'], dict(zip(NODE_VARS, (node.get(field) for field in NODE_FIELDS)))))
    return members


#: the modes whose plan reads which peers are on-link (node_facts' onlink)
ONLINK_MODES = ('host-gw', 'crosssubnet')


def reads_onlink(settings: Dict[str, Any]) -> bool:
    """Does the plan read which peers are on-link? One route lookup per peer on the host (facts_request), checked
    by host_plan: only host-gw and crosssubnet route to the peers' node addresses; state absent removes."""
    return settings['mode'] in ONLINK_MODES and settings['state'] == 'present'


def facts_request(members: Sequence[Tuple[str, Dict[str, Any]]], host: str, settings: Dict[str, Any],
                  dev: Optional[str] = None) -> Dict[str, Any]:
    """What to read on ``host`` for its plan: the parameters of node_facts (_node.py). Its messages name the
    variables people set (podnet_node_ip, podnet_underlay_dev, a peer's podnet_node_ip), not its options.
    ``settings`` are normalised (normalise_settings)."""
    mine = [hv for name, hv in members if name == host]
    if not mine:
        raise PlanError(not_in_cluster(host))
    node_ip, node_ip6 = mine[0].get('podnet_node_ip'), mine[0].get('podnet_node_ip6')
    peers = []
    if reads_onlink(settings):  # ipip and vxlan reach their peers wherever they are routed
        peers = [(name, 'podnet_node_ip', hv.get('podnet_node_ip')) for name, hv in members if name != host]
        if node_ip6:  # an IPv6 underlay: the peers' IPv6 node addresses are tested for on-link too
            peers += [(name, 'podnet_node_ip6', hv['podnet_node_ip6']) for name, hv in members
                      if name != host and hv.get('podnet_node_ip6')]
    request = dict(node_ip=node_ip, peers=[ip for _name, _var, ip in peers],
                   names=dict(node_ip='podnet_node_ip', dev='podnet_underlay_dev',
                              peers=['%s: %s' % (name, var) for name, var, _ip in peers]),
                   # the pods the last converge made, which the plan removes when they are no longer wanted
                   record=record_path(settings))
    if dev:
        request['dev'] = dev
    # is there nft (whose tables of the collection's the converge removes when the plan has none)? And where the
    # plan filters the encapsulation: can the host hold the filter as nftables tables (node_facts nftables), or else
    # as an ip set (node_facts ipset_missing)?
    request['nftables'] = []
    if filters(settings):
        backend = settings['encap_filter_backend']
        if backend == 'bpf':
            request['bpf'] = True
        elif backend != 'iptables':
            request['nftables'] = ['ip']
            if node_ip6 and mine[0].get('podnet_pod_cidr6') and mode_encap(settings['mode'], settings) == 'vxlan' and \
                    ENCAPS[VXLAN_UNDERLAYS[settings['vxlan_underlay']]].family == 6:
                request['nftables'].append('ip6')
        if backend not in ('nftables', 'bpf'):
            request['ipset'] = True
    if node_ip6:
        request['node_ip6'] = node_ip6
        request['names']['node_ip6'] = 'podnet_node_ip6'
    return request


def filters(settings: Dict[str, Any]) -> bool:
    """Does the plan filter the encapsulation on this host (podnet_encap_filter, and a mode that encapsulates)?"""
    return bool(settings['encap_filter'] and settings['state'] == 'present'
                and ENCAPS[mode_encap(settings['mode'], settings)].firewall_match)


def check_host(members: Sequence[Tuple[str, Dict[str, Any]]], host: str, raw_settings: Dict[str, Any],
               validated: bool = False) -> Dict[str, Any]:
    """Everything of ``host``'s plan that follows from the inventory alone, checked without its facts: its settings,
    its membership of the cluster, its pods against its pod ranges, the IPv6 node addresses its mode needs. What is
    left to host_plan() depends on what is read on the host (node_facts): the underlay's MTU, which peers are
    on-link, devices, VNIs and ports already in use, the CNI plugins installed.

    Returns dict(settings, nodes, me, peers, encap, encap6, dual, routes6_direct) for host_plan(); raises PlanError
    naming the host, the variable and the value. The converge runs it on the host; the controller runs the same
    checks for every host before any host is changed (check_settings(), from the filter host_check)."""
    nodes = [normalise_node(h, hv) for h, hv in members] if validated else validate_cluster(members)
    me: Any = [n for n in nodes if n['name'] == host]
    if not me:
        raise PlanError(not_in_cluster(host))
    me = me[0]
    peers = [n for n in nodes if n['name'] != host]
    checked = check_settings(host, me, raw_settings, [n for n in [me] + peers if n.get('node_ip6') is None])
    return dict(checked, nodes=nodes, me=me, peers=peers)


def not_in_cluster(host: str) -> str:
    return '%s: is not in the cluster group (podnet_cluster_group); it has no pod range to plan' % host


def check_settings(host: str, me: Dict[str, Any], raw_settings: Dict[str, Any],
                   without_ip6: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """check_host() for one host from its own node alone: ``me`` (normalise_node()) and ``without_ip6``, the
    cluster's nodes without podnet_node_ip6 (this host's first), which the IPv6 underlay's modes refuse. O(1) in the
    cluster's size: the filter host_check runs it for every host, with the cluster checked once (cluster_check).
    Returns dict(settings, encap, encap6, dual, routes6_direct)."""
    settings = normalise_settings(host, raw_settings)
    mode = settings['mode']
    # the encapsulation of the tunnel the mode uses ('none' for host-gw): _encap.py's table
    encap = mode_encap(mode, settings)
    dual = me.get('_net6') is not None
    if dual and encap == 'ipip':
        _host_fail(host, 'podnet_pod_cidr6', me['pod_cidr6'], "cannot be carried by mode %s: ipip carries IPv4 only; "
                   "vxlan carries IPv6 pods (over the IPv4 underlay, or the IPv6 one with podnet_vxlan_underlay ipv6)" % mode)
    # the encapsulation of the tunnelled peers' IPv6 pods: the same as the IPv4 pods', or vxlan6 over the IPv6 underlay
    # (state absent removes every device anyway)
    encap6 = encap
    if encap == 'vxlan' and dual and settings['state'] == 'present':
        encap6 = VXLAN_UNDERLAYS[settings['vxlan_underlay']]
    if encap6 != encap and without_ip6:
        node = without_ip6[0]
        raise PlanError("%s: podnet_node_ip6 is not set, but podnet_vxlan_underlay 'ipv6' carries %s's IPv6 pods "
                        "(podnet_pod_cidr6 %s) over the IPv6 underlay: set podnet_node_ip6 on every host, or "
                        "leave podnet_vxlan_underlay ipv4 (one vxlan device over IPv4 for both families)"
                        % (node['name'], node['name'], node.get('pod_cidr6')))

    # host-gw and crosssubnet route a peer's IPv6 pods via its IPv6 node address (the IPv6 underlay)
    routes6_direct = dual and mode in ('host-gw', 'crosssubnet') and settings['state'] == 'present'
    if routes6_direct and without_ip6:
        node = without_ip6[0]
        raise PlanError(
            "%s: podnet_node_ip6 is not set, but podnet_mode %r routes %s's IPv6 pods (podnet_pod_cidr6 %s) "
            "via its IPv6 node address: set podnet_node_ip6 on every host (their IPv6 underlay), or use "
            "podnet_mode vxlan, which carries IPv6 pods over the IPv4 underlay"
            % (node['name'], mode, node['name'], node.get('pod_cidr6')))
    if settings['mtu'] is not None and settings['mtu'] < 576:
        _host_fail(host, 'podnet_mtu', settings['mtu'], 'is too small: pods need at least 576 bytes (0: the underlay MTU '
                   'minus the encapsulation)')
    _pods(host, me, settings, 0)  # the pods' names, addresses and devices (their MTU comes from the underlay)
    return dict(settings=settings, encap=encap, encap6=encap6, dual=dual, routes6_direct=routes6_direct)


def host_plan(members: Sequence[Tuple[str, Dict[str, Any]]], host: str, raw_settings: Dict[str, Any], facts: Dict[str, Any],
              validated: bool = False, prefixes: Optional[Dict[str, List[str]]] = None) -> Dict[str, Any]:
    """The plan of ``host``.

    members: list of (host, hostvars) of the cluster group; raw_settings: the
    host's podnet_* settings (None = default); facts: what node_facts read on
    the host (underlay_dev, underlay_mtu, onlink: {peer node ip: bool}).
    validated: the members are what validate_cluster() accepted (the entry role's
    preflight runs it once for the whole cluster, the filter cluster_check): each
    node is only normalised, in O(N) per host instead of the pairwise checks again.
    prefixes: cluster_prefixes() of these members, when the caller computed them once for the cluster.
    """
    checked = check_host(members, host, raw_settings, validated=validated)
    settings, me, peers, encap = checked['settings'], checked['me'], checked['peers'], checked['encap']
    encap6, dual, routes6_direct = checked['encap6'], checked['dual'], checked['routes6_direct']
    mode = settings['mode']
    underlay = _check(host, 'podnet_underlay_dev', v.ifname, facts.get('underlay_dev'))
    underlay_mtu = int(facts.get('underlay_mtu') or 1500)
    table = ENCAPS[encap]
    overhead = max(table.overhead, ENCAPS[encap6].overhead)
    what = mode if encap6 == encap else '%s with IPv6 pods over the IPv6 underlay' % mode
    mtu = settings['mtu'] or underlay_mtu - overhead
    if mtu > underlay_mtu - overhead:
        _host_fail(host, 'podnet_mtu', mtu, 'is too large for %s over %s (MTU %d): at most %d'
                   % (what, underlay, underlay_mtu, underlay_mtu - overhead))
    if mtu < 576:
        _host_fail(host, 'podnet_mtu', mtu, 'is too small: the underlay MTU %d leaves less than 576 bytes for %s'
                   % (underlay_mtu, what))

    onlink = facts.get('onlink') or {}
    checked_onlink = reads_onlink(settings)  # what facts_request asked the host for
    if mode == 'host-gw' and checked_onlink:
        for peer in peers:
            off = _off_link(peer, onlink, routes6_direct)
            if off:
                raise PlanError(
                    "%s: podnet_mode 'host-gw' cannot reach %s (%s %s): it is not on-link from %s's %s, "
                    "so a router between them would drop the pod packets. Use podnet_mode ipip or vxlan, which "
                    "work wherever the hosts can reach each other, or crosssubnet." % (
                        host, peer['name'], off[0], off[1], host, underlay))
    peer_encap = {}
    if mode == 'crosssubnet':
        if not facts.get('underlay_network'):
            raise PlanError("%s: podnet_mode 'crosssubnet' needs the underlay prefix of %s (node_facts "
                            "underlay_network), and it was not read" % (host, underlay))
        prefix = _check(host, 'underlay_network', v.ip_network, facts['underlay_network'], 4)
        for peer in peers:
            direct = peer['_ip'] in prefix
            off = _off_link(peer, onlink, routes6_direct) if direct and checked_onlink else None
            if off:
                its = '' if off[0] == 'podnet_node_ip' else ' its %s %s is' % off
                raise PlanError(
                    "%s: podnet_mode 'crosssubnet': peer %s (podnet_node_ip %s) is inside %s's underlay prefix %s "
                    "but%s not on-link from %s, so a direct route to its pods would not work"
                    % (host, peer['name'], peer['node_ip'], host, prefix, its, underlay))
            peer_encap[peer['name']] = 'none' if direct else encap
    else:
        peer_encap = dict((peer['name'], encap) for peer in peers)
    tunnelled = [p for p in peers if peer_encap[p['name']] != 'none']
    direct_peers = [p for p in peers if peer_encap[p['name']] == 'none']

    pods = _pods(host, me, settings, mtu)
    if settings['state'] == 'present':
        _refuse_clashes(host, me, settings, (encap, encap6), pods, facts.get('links'))
    # routed: a /32 (/128) route to each pod through its veth; bridge: the bridge's address makes the range's route
    routes = [dict(dst=p['address'], dev=p['host_dev'], scope='link') for p in pods if settings['attach'] == 'routed']
    routes += [dict(dst=p['address6'], dev=p['host_dev']) for p in pods
               if settings['attach'] == 'routed' and p.get('address6')]
    bridge = None
    if settings['attach'] == 'bridge':
        # a MAC of its own (the lowest of its ports otherwise, which changes as pods come and go)
        bridge = dict(name=settings['bridge_dev'], mtu=mtu, mac=stable_mac('bridge', me['node_ip']),
                      address='%s/%d' % (me['_net'].network_address + GATEWAY_OFFSET, me['_net'].prefixlen))
        if dual:
            bridge['address6'] = '%s/%d' % (me['_net6'].network_address + GATEWAY_OFFSET, me['_net6'].prefixlen)
    cni = None
    if settings['cni']:
        # imported here: _cni is a resource module (pyroute2 through _netlink), which the controller's plugins
        # (the filters, the actions host_plan and converge) would otherwise import in every worker, for every host
        from ansible_collections.openkube.podnet.plugins.module_utils import _cni
        missing = sorted(name for name, path in (facts.get('cni_plugins') or {}).items() if not path)
        if missing and settings['state'] == 'present':
            _host_fail(host, 'podnet_cni', True, 'needs the CNI plugins %s, and %s not installed in %s (install '
                       'containernetworking-plugins, or the upstream release into /opt/cni/bin)'
                       % (', '.join(_cni.PLUGINS), ', '.join(missing) + (' is' if len(missing) == 1 else ' are'),
                          ' or '.join(_cni.BIN_DIRS)))
        used = [str(me['_net'].network_address), str(me['_net'].network_address + GATEWAY_OFFSET)] + [p['ip'] for p in pods]
        family6 = {}
        if dual:  # a range per family: each runtime pod gets an IPv6 address too
            gateway6 = str(me['_net6'].network_address + GATEWAY_OFFSET)
            family6 = dict(pod_cidr6=me['pod_cidr6'], gateway6=gateway6,
                           used6=[me['vtep_ip6'], gateway6] + [p['ip6'] for p in pods])
        cni = dict(path=posixpath.join(settings['cni_dir'], settings['cni_file']), network=CNI_NETWORK,
                   config=_cni.conflist(CNI_NETWORK, settings['bridge_dev'], me['pod_cidr'],
                                        str(me['_net'].network_address + GATEWAY_OFFSET), mtu, used, **family6))
    plan = dict(
        host=host, mode=mode, encap=encap, state=settings['state'], node_ip=me['node_ip'], pod_cidr=me['pod_cidr'],
        **({'pod_cidr6': me['pod_cidr6']} if dual else {}),
        vxlan_vni=settings['vxlan_vni'], vxlan_port=settings['vxlan_port'],
        underlay_dev=underlay, underlay_mtu=underlay_mtu, underlay_network=facts.get('underlay_network'),
        mtu=mtu, pods=pods, record=record_path(settings),
        absent_pods=_absent_pods(pods, facts.get('recorded_pods')),
        bridge=bridge, cni=cni,
        # what the last applied plan made and this one does not want (node_facts read the record)
        absent_bridge=facts.get('recorded_bridge') if facts.get('recorded_bridge') != (bridge or {}).get('name') else None,
        absent_cni=facts.get('recorded_cni') if facts.get('recorded_cni') != (cni or {}).get('path') else None,
        repair=dict(state='present' if settings['repair'] and settings['state'] == 'present' else 'absent',
                    state_dir=settings['state_dir'], unit_dir=settings['repair_unit_dir'],
                    interval=settings['repair_interval']),
        sysctl=dict({'net.ipv4.ip_forward': '1'}, **({'net.ipv6.conf.all.forwarding': '1'} if dual else {})),
        device_sysctl={},
        neighbors=[], fdb=[], routes=routes, apply_role=table.role,
        peers=[dict(name=p['name'], node_ip=p['node_ip'], pod_cidr=p['pod_cidr'], encap=peer_encap[p['name']],
                    pod_ip=str(p['_net'].network_address + POD_IP_OFFSET),
                    **({'pod_ip6': str(p['_net6'].network_address + POD_IP_OFFSET)} if dual else {}))
               for p in peers],
    )
    plan.update((name, None) for name in ENCAPS if ENCAPS[name].device)  # ipip, vxlan, vxlan6: the device of each
    routes += [dict(dst=p['pod_cidr'], via=p['node_ip'], dev=underlay) for p in direct_peers]
    if routes6_direct:
        routes += [dict(dst=p['pod_cidr6'], via=p['node_ip6'], dev=underlay) for p in direct_peers]
    tunnel_dev = None
    if table.device:
        device = table.device(me, settings, underlay, mtu)
        tunnel_dev = device['name']
        plan[encap] = device
        routes += [table.route(p, tunnel_dev) for p in tunnelled]
        if table.neighbor:
            plan['neighbors'] = [table.neighbor(p) for p in tunnelled]
        if dual and table.route6 and encap6 == encap:  # IPv6 pods through the same device, over the IPv4 underlay
            device['address6'] = '%s/128' % me['vtep_ip6']
            routes += [table.route6(p, tunnel_dev) for p in tunnelled]
            plan['neighbors'] += [table.neighbor6(p) for p in tunnelled]
        if table.fdb:
            plan['fdb'] = [table.fdb(p) for p in tunnelled]
    if encap6 != encap:  # IPv6 pods through a device of their own over the IPv6 underlay (vxlan6)
        table6 = ENCAPS[encap6]
        device6 = plan[encap6] = table6.device(me, settings, underlay, mtu)
        routes += [table6.route(p, device6['name']) for p in tunnelled]
        neighbors_key, fdb_key = table6.entries
        plan[neighbors_key] = [table6.neighbor(p) for p in tunnelled]
        plan[fdb_key] = [table6.fdb(p) for p in tunnelled]
        plan['encap6'] = encap6
        for peer in plan['peers']:
            peer['encap6'] = encap6 if peer['encap'] != 'none' else 'none'
    if tunnel_dev:
        # Loose reverse-path filtering (2) on the tunnel device and the underlay device, the two
        # interfaces where tunnel traffic arrives asymmetrically; the kernel uses the larger of
        # conf/all and conf/<dev>, so 2 wins over a strict all.rp_filter=1 (RHEL's default).
        # Seen on the lab with all.rp_filter=1: pod-to-pod traffic passes in every mode, but a peer
        # host talking to our pods from its node IP arrives through the tunnel with a source whose
        # route back is via the underlay (dropped on the tunnel device), and a peer's pod talking to
        # our node IP arrives plain on the underlay with a source whose route back is the tunnel
        # (dropped on the underlay device). host-gw is symmetric and needs nothing.
        # Only where the host filters that device at all (rp_filter_on): where conf/all and the device are 0,
        # 2 would turn on a route lookup per packet that the host does not do (3-4 % of the 64-byte UDP rate
        # through vxlan, docs/benchmarks/README.md).
        # Written with '/' separators: device names contain dots.
        plan['device_sysctl'] = dict(('net/ipv4/conf/%s/rp_filter' % dev, TUNNEL_RP_FILTER)
                                     for dev in (tunnel_dev, underlay) if rp_filter_on(facts, dev))
    filter_by = _filter_by(host, settings, facts)
    plan['firewall'], plan['ipsets'], tables = _firewall(me, peers, settings, encap, prefixes, encap6, filter_by)
    # the eBPF filter on the underlay (backend bpf); or [] where the last applied plan had one, so that the converge
    # removes it; None where neither (no call: reading tc costs a dump)
    plan['bpf_filters'] = ([dict(dev=underlay, peers=sorted(p['node_ip'] for p in peers), **ENCAPS[encap].nft_match(settings))]
                           if filter_by == 'bpf' else [] if facts.get('recorded_bpf') else None)
    nft = facts.get('nftables')
    # the tables; or [] where the host has nft, so that the converge removes the collection's tables (a switch to
    # the iptables chain, no filter, another mode); None where it has none (nothing to remove, nft is not run)
    plan['nftables'] = tables if tables else ([] if isinstance(nft, dict) and nft.get('found') else None)
    inputs = [c for c in plan['firewall']['chains'] if c['name'] == INPUT_CHAIN]
    if filter_by == 'rules' and inputs and settings['state'] == 'present':
        rules = sum(len(c['rules']) - 1 for c in inputs)
        nft_why = (nft or {}).get('missing') if settings['encap_filter_backend'] == 'auto' else None
        plan['warnings'] = ['%s: podnet_encap_filter: %s%s; PODNET-INPUT admits the peers with one rule per prefix of '
                            'their node IPs instead (%d here), which iptables tries one by one for every encapsulated '
                            'packet. Load ip_set, ip_set_hash_net and xt_set, or install nft on a kernel with '
                            'nf_tables, for one lookup whatever the number of peers.'
                            % (host, facts.get('ipset_missing'), '; no nftables table either: %s' % nft_why if nft_why else '',
                               rules)]
    plan['absent_devices'] = devices_not_wanted((encap, encap6), settings)
    plan['absent_ipsets'] = sorted(set(PEER_SETS.values()) - set(s['name'] for s in plan['ipsets']))
    if settings['state'] == 'absent':
        plan.update(routes=[], neighbors=[], fdb=[], sysctl={}, device_sysctl={}, ipsets=[],
                    absent_ipsets=sorted(PEER_SETS.values()),
                    firewall=dict(chains=[], purge=True, iptables=settings['iptables']),
                    absent_devices=devices_not_wanted((encap, encap6), settings, everything=True))
        plan.update((name, None) for name in ENCAPS if ENCAPS[name].device)
    return plan


def _off_link(peer: Dict[str, Any], onlink: Dict[str, bool], with6: bool) -> Optional[Tuple[str, str]]:
    """The first node address of ``peer`` that the kernel does not reach on-link (node_facts' ``onlink``), as
    (variable, address): its IPv4 one, then its IPv6 one when ``with6`` (IPv6 pods routed via it); None if none."""
    for var, key in (('podnet_node_ip', 'node_ip'), ('podnet_node_ip6', 'node_ip6')):
        if (key == 'node_ip' or with6) and not onlink.get(peer[key], False):
            return var, peer[key]
    return None


def _absent_pods(pods: List[Dict[str, Any]], recorded: Optional[List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The collection's own pods of the last applied plan (node_facts' recorded_pods) that this plan no longer
    has: their namespace and veth go. A pod kept under a new host_dev loses only its old veth (name None).
    Pods the collection did not record (a container runtime's) are never in this list."""
    names = set(p['name'] for p in pods)
    devs = set(p['host_dev'] for p in pods)
    absent = []
    for old in recorded or []:
        if old['name'] not in names:
            absent.append(dict(name=old['name'], host_dev=old['host_dev'] if old['host_dev'] not in devs else None))
        elif old['host_dev'] not in devs:
            absent.append(dict(name=None, host_dev=old['host_dev']))
    return absent


def _refuse_clashes(host: str, me: Dict[str, Any], settings: Dict[str, Any], encaps: Sequence[str],
                    pods: List[Dict[str, Any]], links: Optional[Dict[str, Dict[str, Any]]]) -> None:
    """Refuse names, VNIs and ports that a device the collection does not own already uses.

    ``encaps``: the encapsulations of the plan (of the IPv4 pods, then of the IPv6 pods).
    ``links`` is node_facts' table of the host's links ({name: {kind, vni, port, local, remote}});
    None when it was not read (then the kernel refuses at creation time instead).
    """
    if not links:
        return
    encap = encaps[0]
    wanted = []
    for name in sorted(set(encaps)):
        setting = ENCAPS[name].device_setting
        if setting:
            wanted.append(('podnet_' + setting, settings[setting], ENCAPS[name].device_module))
    wanted += [('podnet_pods[%d].host_dev' % i, pod['host_dev'], 'veth') for i, pod in enumerate(pods)]
    for var, name, kind in wanted:
        have = links.get(name)
        if have is not None and have.get('kind') != kind:
            _host_fail(host, var, name, 'is taken: the host already has a %s device of that name, which the '
                       'collection does not own and will not replace; choose another name'
                       % (have.get('kind') or 'physical'))
    if encap == 'vxlan':
        # the collection's own vxlan devices, wanted or about to be removed (the cleanup of the other underlay's)
        ours = set(settings[ENCAPS[name].device_setting] for name in DEVICE_ENCAPS if ENCAPS[name].device_module == 'vxlan')
        for name, have in sorted(links.items()):
            if have.get('kind') != 'vxlan' or name in ours or have.get('port') != settings['vxlan_port']:
                continue
            if have.get('vni') == settings['vxlan_vni']:
                _host_fail(host, 'podnet_vxlan_vni', settings['vxlan_vni'],
                           'clashes with vxlan device %s, not the collection\'s, which already uses VNI %s on UDP port '
                           '%s (podnet_vxlan_port): the kernel allows one device per VNI and port; choose another '
                           'podnet_vxlan_vni or podnet_vxlan_port' % (name, have.get('vni'), have.get('port')))
            _host_fail(host, 'podnet_vxlan_port', settings['vxlan_port'],
                       'is already used by vxlan device %s (VNI %s), not the collection\'s: the collection admits '
                       'only its peers on its port (podnet_encap_filter), which would cut that device off; choose '
                       'another podnet_vxlan_port' % (name, have.get('vni')))
    if encap == 'ipip':
        for name, have in sorted(links.items()):
            if (have.get('kind') == 'ipip' and name != settings['ipip_dev'] and have.get('local') == me['node_ip']
                    and have.get('remote') in (None, '0.0.0.0')):
                _host_fail(host, 'podnet_ipip_dev', settings['ipip_dev'],
                           'cannot be created: ipip device %s, not the collection\'s, already receives IP-in-IP for '
                           'local %s from any remote (podnet_node_ip), and the kernel allows one such device'
                           % (name, me['node_ip']))


def _filter_by(host: str, settings: Dict[str, Any], facts: Dict[str, Any]) -> str:
    """How the plan filters the encapsulation (podnet_encap_filter_backend, and what node_facts found): 'nftables'
    (a table of its own), 'bpf' (the eBPF program at the underlay's tc ingress), 'set' (PODNET-INPUT with an ip set) or
    'rules' (PODNET-INPUT, one rule per prefix). Backend nftables or bpf on a host that cannot hold that filter fails,
    naming the host, the variable and why."""
    backend = settings['encap_filter_backend']
    nft = facts.get('nftables')
    if backend == 'bpf' and filters(settings):
        bpf = facts.get('bpf')
        why = (bpf.get('missing') if isinstance(bpf, dict) else
               "this host's eBPF support was not probed (node_facts' option bpf)")
        if why:
            _host_fail(host, 'podnet_encap_filter_backend', backend, 'cannot filter the encapsulation here: %s; '
                       'use auto, nftables or iptables' % why)
        return 'bpf'
    if backend != 'iptables' and filters(settings):
        why = (nft.get('missing') if isinstance(nft, dict) else
               "this host's nftables support was not probed (node_facts' option nftables)")
        if not why:
            return 'nftables'
        if backend == 'nftables':
            _host_fail(host, 'podnet_encap_filter_backend', backend, 'cannot filter the encapsulation here: %s; '
                       'use auto or iptables (the chain PODNET-INPUT)' % why)
    return 'rules' if facts.get('ipset_missing') else 'set'


def _firewall(me: Dict[str, Any], peers: List[Dict[str, Any]], settings: Dict[str, Any], encap: str,
              prefixes: Optional[Dict[str, List[str]]] = None, encap6: Optional[str] = None,
              filter_by: str = 'set') -> Tuple[Dict[str, Any], List[Dict[str, Any]], List[Dict[str, Any]]]:
    """The collection's own iptables chains (module openkube.podnet.firewall), the ip sets they match
    (module openkube.podnet.ipset), and the encapsulation filter as nftables tables (module openkube.podnet.nftables).

    PODNET-FORWARD (jumped to from FORWARD) accepts traffic from and to this host's pods, so that a
    FORWARD policy DROP (Docker's) does not cut the pods off. PODNET-INPUT (jumped to from INPUT)
    drops the encapsulation the mode uses (IP protocol 4, or UDP to the VXLAN port) unless it comes
    from a peer's node IP: nobody else on the underlay can inject packets into the pod network.
    PODNET-POSTROUTING (nat, jumped to from POSTROUTING) masquerades what the pods send outside every pod
    range of the cluster (and multicast) behind the address of the interface it leaves by, the node IP for
    the underlay: flannel's --ip-masq, Calico's natOutgoing. Pod to pod is never masqueraded.
    Chains that are not wanted are removed (purge), and state absent removes them all.
    In a dual-stack cluster PODNET-FORWARD and PODNET-POSTROUTING have IPv6 twins (ip6tables, family 6) for the
    IPv6 pod range. PODNET-INPUT has one only when an encapsulation travels over the IPv6 underlay (``encap6``
    vxlan6, podnet_vxlan_underlay ipv6): it admits that from the peers' IPv6 node addresses only.

    The peers' addresses are the fewest prefixes that cover exactly them and this host's own node IP
    (``peer_prefixes``), the members of an ip set (``PEER_SETS``: podnet-peers, podnet-peers6 for the IPv6
    underlay) that one rule matches, ``-m set --match-set podnet-peers src``: a hash lookup whatever the number
    of peers, where iptables tries ``-s`` rules one by one (with one rule per peer, encapsulated traffic from the
    last of 256 peers ran at 0.62 of the rate without the chain, TCP). Where the host's kernel cannot hold the set
    (node_facts' ipset_missing: ``use_sets`` False) the chain has one ``-s PREFIX`` rule per prefix instead, as
    before sets: the same packets admitted, at a cost that grows with scattered peers. The own address opens
    nothing: the kernel drops packets from the wire whose source is a local address (martians).

    Where the host can hold it (``filter_by`` 'nftables', see _filter_by), the filter is not PODNET-INPUT but a
    table of the collection's per underlay family (``table ip podnet``): a set ``peers`` of the peers' node addresses
    and a base chain ``input`` on the input hook whose one rule drops the encapsulation from any source outside it,
    ``udp dport 8472 ip saddr != @peers drop``: a native hash lookup without an xtables match or a jump, half the
    per-packet cost of the ip set's rule (docs/benchmarks/README.md, filter runs 7-9).

    Returns (firewall, ipsets, tables): ipsets is the list of wanted sets, empty when no chain uses one; tables the
    nftables tables, empty unless ``filter_by`` is 'nftables'.
    """
    chains = []
    sets = []  # type: List[Dict[str, Any]]
    tables = []  # type: List[Dict[str, Any]]
    # (the chain's family key, the host's pod range, the cluster's pod prefixes, multicast) per family of pods;
    # IPv4 chains carry no family key (4 is the firewall module's default)
    families = [({}, me['pod_cidr'], 'pod', 'pod_cidr', MULTICAST)]
    if me.get('pod_cidr6') is not None:
        families.append(({'family': 6}, me['pod_cidr6'], 'pod6', 'pod_cidr6', MULTICAST6))
    if settings['forward_accept']:
        for family, own, _cached, _key, _multicast in families:
            chains.append(dict(name=FORWARD_CHAIN, hook='FORWARD', rules=[
                '-s %s -j ACCEPT' % own, '-d %s -j ACCEPT' % own], **family))
    # (the chain's family key, the encapsulation, the cluster's node prefixes, the node address) per underlay family
    underlays = [({}, encap, 'node', 'node_ip')]
    if encap6 not in (None, encap):
        underlays.append(({'family': 6}, encap6, 'node6', 'node_ip6'))
    for family, name, cached, key in underlays:
        if not settings['encap_filter'] or not ENCAPS[name].firewall_match:
            continue
        if filter_by == 'bpf':  # the filter is not a chain (bpf_filters, in host_plan)
            continue
        if filter_by == 'nftables':
            nft_family = NFT_FAMILIES[family.get('family', 4)]
            rule = dict(ENCAPS[name].nft_match(settings), saddr_not_in=NFT_SET)
            tables.append(dict(name=NFT_TABLE, family=nft_family,
                               sets=[dict(name=NFT_SET, elements=sorted(p[key] for p in peers))],
                               chains=[dict(name=NFT_CHAIN, hook='input', rules=[rule])]))
            continue
        match = ENCAPS[name].firewall_match(settings)
        cached_prefixes = prefixes[cached] if prefixes and cached in prefixes else None
        node_prefixes = ((cached_prefixes if peers else []) if cached_prefixes is not None
                         else peer_prefixes(me, peers, key))
        if filter_by == 'set':
            set_family = family.get('family', 4)
            sets.append(dict(name=PEER_SETS[set_family], family=set_family, members=node_prefixes))
            # the encapsulation's own match first (native and cheap: protocol, port), the set's lookup only for it
            rules = ['%s -m set --match-set %s src -j RETURN' % (match, PEER_SETS[set_family])]
        else:
            rules = ['-s %s %s -j RETURN' % (prefix, match) for prefix in node_prefixes]
        chains.append(dict(name=INPUT_CHAIN, hook='INPUT', rules=rules + ['%s -j DROP' % match], **family))
    if settings['masquerade']:
        for family, own, cached, key, multicast in families:
            pods = prefixes[cached] if prefixes and cached in prefixes else pod_prefixes(me, peers, key)
            rules = ['-s %s -d %s -j RETURN' % (own, prefix) for prefix in pods]
            chains.append(dict(name=MASQUERADE_CHAIN, table='nat', hook='POSTROUTING', rules=rules + [
                '-s %s -d %s -j RETURN' % (own, multicast), '-s %s -j MASQUERADE' % own], **family))
    return dict(chains=chains, purge=True, iptables=settings['iptables']), sets, tables


def rp_filter_on(facts: Dict[str, Any], dev: str) -> bool:
    """Whether the host filters by reverse path on ``dev`` (node_facts' ``rp_filter``): the larger of conf/all and
    the device's own value (conf/default for a device not made yet) is not 0. Unknown (facts without rp_filter, or a
    value missing): True. A device the plan set to 2 stays at 2, so the answer does not change on the next run."""
    rp = facts.get('rp_filter')
    if not isinstance(rp, dict):
        return True
    own = (rp.get('devices') or {}).get(dev, rp.get('default'))
    return not (rp.get('all') == 0 and own == 0)


def pod_prefixes(me: Dict[str, Any], peers: Sequence[Dict[str, Any]], key: str = 'pod_cidr') -> List[str]:
    """The fewest prefixes covering exactly every pod range of the cluster (``key`` pod_cidr6: every IPv6 one): what
    pods reach unmasqueraded."""
    return [str(net) for net in ipaddress.collapse_addresses(ipaddress.ip_network(n[key]) for n in [me] + list(peers))]


def peer_prefixes(me: Dict[str, Any], peers: Sequence[Dict[str, Any]], key: str = 'node_ip') -> List[str]:
    """The fewest prefixes whose union is exactly the peers' node IPs and this host's own (``key`` node_ip6: their
    IPv6 node addresses)."""
    if not peers:
        return []
    return [str(net) for net in ipaddress.collapse_addresses(ipaddress.ip_network(n[key]) for n in [me] + list(peers))]


def cluster_prefixes(nodes: Sequence[Dict[str, Any]]) -> Dict[str, List[str]]:
    """peer_prefixes and pod_prefixes of every host at once: they cover the whole cluster, so they are the same for
    every host (a single host has no peers to admit). Computed once on the controller (filter cluster_check with
    prefixes=true), they spare every host's plan an O(N log N) collapse."""
    if not nodes:
        return dict(node=[], pod=[])
    found = dict(node=peer_prefixes(nodes[0], nodes[1:]), pod=pod_prefixes(nodes[0], nodes[1:]))
    if nodes[0].get('pod_cidr6'):
        found['pod6'] = pod_prefixes(nodes[0], nodes[1:], 'pod_cidr6')
    if all(n.get('node_ip6') for n in nodes):
        found['node6'] = peer_prefixes(nodes[0], nodes[1:], 'node_ip6')
    return found
