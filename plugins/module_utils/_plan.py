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
    sysctl      net.ipv4.ip_forward and friends
    routes      the host's whole table of owned routes (pods + peers), for purge
    ipip/vxlan  the tunnel device of the mode (None otherwise)
    neighbors   vxlan: permanent neighbour entries, one per peer
    fdb         vxlan: FDB entries, one per peer
    absent      devices of the other modes, to remove

Validation of the whole cluster (preflight) happens here too, before any
change, with messages that name the host, the variable and the value.
"""

from __future__ import annotations

import hashlib

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v

MODES = ('host-gw', 'ipip', 'vxlan')
#: bytes of encapsulation per mode: outer IPv4 (20); + UDP 8 + VXLAN 8 + inner Ethernet 14
OVERHEAD = {'host-gw': 0, 'ipip': 20, 'vxlan': 50}
POD_IP_OFFSET = 10  # the reference setup puts its pod at .10 of the host's range
GATEWAY_OFFSET = 1  # the host side of every pod's veth holds .1/32: the pod's gateway

DEFAULTS = dict(
    mode='vxlan',
    state='present',
    vxlan_dev='podnet.vxlan',
    vxlan_vni=1,
    vxlan_port=v.VXLAN_DEFAULT_PORT,
    ipip_dev='podnet.ipip',
    pods=[{'name': 'ns1'}],
    mtu=None,
)


class PlanError(v.ValidationError):
    """An inventory that cannot be planned; the message names host, variable and value."""


def _host_fail(host, var, value, why):
    raise PlanError('%s: %s %r %s' % (host, var, value, why))


def _check(host, var, validator, value, *args):
    """Run a validator and re-word its error as 'host: variable value why'."""
    try:
        return validator(var, value, *args)
    except v.ValidationError as exc:
        text = str(exc)
        if text.startswith(var + ': '):
            text = text[len(var) + 2:]
        raise PlanError('%s: %s %s' % (host, var, text))


def vtep_mac(node_ip):
    """A stable, locally administered unicast MAC derived from the node IP.

    Every host computes every peer's VTEP MAC the same way, and re-creating a
    device never changes it (flannel#1155, #1795)."""
    digest = hashlib.sha256(('openkube.podnet/vtep/%s' % node_ip).encode()).digest()
    octets = [0x0e] + list(digest[:5])  # 0x0e: locally administered (bit 1), unicast (bit 0 clear)
    return ':'.join('%02x' % o for o in octets)


def normalise_settings(host, raw):
    """The host's own settings (mode, devices, VNI, port, pods), validated."""
    s = dict(DEFAULTS)
    s.update(dict((k, val) for k, val in raw.items() if val is not None))
    if s['mode'] not in MODES:
        _host_fail(host, 'podnet_mode', s['mode'], 'is not a mode: choose one of %s' % ', '.join(MODES))
    if s['state'] not in ('present', 'absent'):
        _host_fail(host, 'podnet_state', s['state'], 'must be present or absent')
    s['vxlan_dev'] = _check(host, 'podnet_vxlan_dev', v.ifname, s['vxlan_dev'])
    s['ipip_dev'] = _check(host, 'podnet_ipip_dev', v.ifname, s['ipip_dev'])
    if s['vxlan_dev'] == s['ipip_dev']:
        _host_fail(host, 'podnet_vxlan_dev', s['vxlan_dev'], 'is also podnet_ipip_dev; the devices need two names')
    s['vxlan_vni'] = _check(host, 'podnet_vxlan_vni', v.vni, s['vxlan_vni'])
    s['vxlan_port'] = _check(host, 'podnet_vxlan_port', v.port, s['vxlan_port'])
    if s['mtu'] is not None:
        s['mtu'] = _check(host, 'podnet_mtu', v.mtu, s['mtu'])
    if not isinstance(s['pods'], list) or not s['pods']:
        _host_fail(host, 'podnet_pods', s['pods'], 'must be a non-empty list of pods ({name: ns1})')
    return s


def normalise_node(host, hostvars):
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
    return dict(name=host, node_ip=str(node_ip), pod_cidr=str(pod_cidr), vtep_ip=str(pod_cidr.network_address),
                vtep_mac=mac, _net=pod_cidr, _ip=node_ip)


def validate_cluster(members):
    """members: list of (host, hostvars). Returns normalised nodes; raises PlanError on the first problem."""
    if not members:
        raise PlanError('the cluster group has no hosts (podnet_cluster_group)')
    nodes = [normalise_node(host, hv) for host, hv in members]
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            if a['_ip'] == b['_ip']:
                _host_fail(b['name'], 'podnet_node_ip', b['node_ip'], 'is also the node IP of %s' % a['name'])
            if a['_net'].overlaps(b['_net']):
                _host_fail(b['name'], 'podnet_pod_cidr', b['pod_cidr'],
                           "overlaps %s's podnet_pod_cidr %s" % (a['name'], a['pod_cidr']))
            if a['vtep_mac'] == b['vtep_mac']:
                _host_fail(b['name'], 'podnet_vxlan_mac', b['vtep_mac'], 'is also the VTEP MAC of %s' % a['name'])
        for b in nodes:
            if b['_ip'] in a['_net']:
                _host_fail(a['name'], 'podnet_pod_cidr', a['pod_cidr'],
                           'contains the node IP of %s (%s)' % (b['name'], b['node_ip']))
    return nodes


def _pods(host, node, settings, mtu):
    net = node['_net']
    gateway = net.network_address + GATEWAY_OFFSET
    pods, seen_ips, seen_names = [], {}, {}
    for i, pod in enumerate(settings['pods']):
        var = 'podnet_pods[%d]' % i
        if not isinstance(pod, dict) or not pod.get('name'):
            _host_fail(host, var, pod, 'must be a dict with at least a name ({name: ns1})')
        name = _check(host, var + '.name', v.nsname, pod['name'])
        host_dev = _check(host, var + '.host_dev', v.ifname, pod.get('host_dev') or 'veth-%s' % name)
        ip = pod.get('ip')
        ip = _check(host, var + '.ip', v.ip_address, ip, 4) if ip else net.network_address + POD_IP_OFFSET + i
        if ip not in net or ip in (net.network_address, net.broadcast_address, gateway):
            _host_fail(host, var + '.ip', str(ip), 'is not a usable pod address in podnet_pod_cidr %s '
                       '(.0 is the VTEP, .1 the gateway)' % net)
        for seen, key, what in ((seen_ips, ip, 'ip'), (seen_names, name, 'name'), (seen_names, host_dev, 'host_dev')):
            if key in seen:
                _host_fail(host, '%s.%s' % (var, what), str(key), 'is used twice (also %s)' % seen[key])
            seen[key] = var
        pods.append(dict(name=name, ip=str(ip), address='%s/32' % ip, host_dev=host_dev, dev='eth0',
                         gateway=str(gateway), gateway_address='%s/32' % gateway, mtu=mtu))
    return pods


def host_plan(members, host, raw_settings, facts):
    """The plan of ``host``.

    members: list of (host, hostvars) of the cluster group; raw_settings: the
    host's podnet_* settings (None = default); facts: what node_facts read on
    the host (underlay_dev, underlay_mtu, onlink: {peer node ip: bool}).
    """
    nodes = validate_cluster(members)
    settings = normalise_settings(host, raw_settings)
    me = [n for n in nodes if n['name'] == host]
    if not me:
        raise PlanError('%s: is not in the cluster group (podnet_cluster_group); it has no pod range to plan' % host)
    me = me[0]
    peers = [n for n in nodes if n['name'] != host]
    mode = settings['mode']
    underlay = _check(host, 'podnet_underlay_dev', v.ifname, facts.get('underlay_dev'))
    underlay_mtu = int(facts.get('underlay_mtu') or 1500)
    mtu = settings['mtu'] or underlay_mtu - OVERHEAD[mode]
    if mtu > underlay_mtu - OVERHEAD[mode]:
        _host_fail(host, 'podnet_mtu', mtu, 'is too large for %s over %s (MTU %d): at most %d'
                   % (mode, underlay, underlay_mtu, underlay_mtu - OVERHEAD[mode]))
    if mtu < 576:
        _host_fail(host, 'podnet_mtu', mtu, 'is too small: the underlay MTU %d leaves less than 576 bytes for %s'
                   % (underlay_mtu, mode))

    if mode == 'host-gw':
        onlink = facts.get('onlink') or {}
        for peer in peers:
            if not onlink.get(peer['node_ip'], False):
                raise PlanError(
                    "%s: podnet_mode 'host-gw' cannot reach %s (podnet_node_ip %s): it is not on-link from %s's %s, "
                    "so a router between them would drop the pod packets. Use podnet_mode ipip or vxlan, which work "
                    "wherever the hosts can reach each other." % (host, peer['name'], peer['node_ip'], host, underlay))

    pods = _pods(host, me, settings, mtu)
    routes = [dict(dst=p['address'], dev=p['host_dev'], scope='link') for p in pods]
    plan = dict(
        host=host, mode=mode, state=settings['state'], node_ip=me['node_ip'], pod_cidr=me['pod_cidr'],
        vxlan_vni=settings['vxlan_vni'], vxlan_port=settings['vxlan_port'],
        underlay_dev=underlay, underlay_mtu=underlay_mtu, mtu=mtu, pods=pods,
        sysctl={'net.ipv4.ip_forward': '1'},
        ipip=None, vxlan=None, neighbors=[], fdb=[], routes=routes,
        peers=[dict(name=p['name'], node_ip=p['node_ip'], pod_cidr=p['pod_cidr'],
                    pod_ip=str(p['_net'].network_address + POD_IP_OFFSET)) for p in peers],
    )
    if mode == 'host-gw':
        routes += [dict(dst=p['pod_cidr'], via=p['node_ip'], dev=underlay) for p in peers]
    elif mode == 'ipip':
        plan['ipip'] = dict(name=settings['ipip_dev'], local=me['node_ip'], mtu=mtu)
        routes += [dict(dst=p['pod_cidr'], via=p['node_ip'], dev=settings['ipip_dev'], onlink=True) for p in peers]
    else:
        dev = settings['vxlan_dev']
        plan['vxlan'] = dict(name=dev, vni=settings['vxlan_vni'], port=settings['vxlan_port'], local=me['node_ip'],
                             dev=underlay, mac=me['vtep_mac'], mtu=mtu, learning=False,
                             address='%s/32' % me['vtep_ip'])
        plan['neighbors'] = [dict(ip=p['vtep_ip'], lladdr=p['vtep_mac']) for p in peers]
        plan['fdb'] = [dict(mac=p['vtep_mac'], dst=p['node_ip']) for p in peers]
        routes += [dict(dst=p['pod_cidr'], via=p['vtep_ip'], dev=dev, onlink=True) for p in peers]
    plan['absent_devices'] = dict(
        ipip=[] if mode == 'ipip' else [settings['ipip_dev']],
        vxlan=[] if mode == 'vxlan' else [settings['vxlan_dev']],
    )
    if settings['state'] == 'absent':
        plan.update(routes=[], neighbors=[], fdb=[], ipip=None, vxlan=None,
                    absent_devices=dict(ipip=[settings['ipip_dev']], vxlan=[settings['vxlan_dev']]))
    return plan
