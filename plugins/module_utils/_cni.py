# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI network configuration list a container runtime reads to attach pods (``/etc/cni/net.d``).

One entry: the file at ``path`` with the wanted configuration (JSON, written atomically, mode 0644, as
runtimes read it unprivileged). The file is owned when it holds a configuration list whose ``name`` is the
wanted network's: another file at that path (someone else's network, or not JSON) is never overwritten or
removed; ``state=present`` fails and names what is there.

``conflist()`` builds the configuration the collection writes: the CNI ``bridge`` plugin on the host's pod
bridge (the gateway on it, no masquerade of its own, hairpin, the pod MTU), ``host-local`` IPAM over the
parts of the host's pod range the collection does not use (and of its IPv6 pod range too, in a dual-stack
cluster: one address of each family per pod), and ``portmap``.
"""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._record import makedirs, remove, write_atomically
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource

CNI_VERSION = '1.0.0'  # what Debian 12's plugins (1.1.1) accept, and containerd 1.6+ and Podman 4
#: the plugins the configuration uses, and where they are looked up (Debian's folder, then upstream's)
PLUGINS = ('bridge', 'host-local', 'portmap')
BIN_DIRS = ('/usr/lib/cni', '/opt/cni/bin')

ARGSPEC = dict(
    dict((k, spec) for k, spec in COMMON_ARGSPEC.items() if k != 'netns'),
    path=dict(type='str', required=True),
    network=dict(type='str', default='podnet'),
    config=dict(type='dict'),
)


def free_ranges(pod_cidr: str, used: Sequence[str]) -> List[Dict[str, str]]:
    """host-local ranges over ``pod_cidr`` without the addresses in ``used`` (and without the first and last
    addresses, the network and broadcast ones in IPv4): one range per run of free addresses. Computed from the
    used addresses only (a /64 has 2**64 addresses)."""
    net = ipaddress.ip_network(pod_cidr)
    first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    ranges, start = [], first
    for value in sorted(set(int(ipaddress.ip_address(a)) for a in used)) + [last + 1]:
        if value < start or value > last + 1:
            continue
        if value > start:
            ranges.append(dict(subnet=str(net), rangeStart=str(ipaddress.ip_address(start)),
                               rangeEnd=str(ipaddress.ip_address(value - 1))))
        start = value + 1
    return ranges


def conflist(name: str, bridge: str, pod_cidr: str, gateway: str, mtu: int, used: Sequence[str],
             pod_cidr6: Optional[str] = None, gateway6: Optional[str] = None, used6: Sequence[str] = ()) -> Dict[str, Any]:
    """The configuration list for the host's pod range on ``bridge``; ``used``: the addresses of the range
    the collection holds (VTEP, gateway, its own pods), which host-local never hands out. With ``pod_cidr6``
    (dual-stack), a second range set over the IPv6 pod range (``used6`` likewise) and an IPv6 default route."""
    range_sets = [[dict(r, gateway=gateway) for r in free_ranges(pod_cidr, used)]]
    routes = [dict(dst='0.0.0.0/0')]
    if pod_cidr6:
        range_sets.append([dict(r, gateway=gateway6) for r in free_ranges(pod_cidr6, used6)])
        routes.append(dict(dst='::/0'))
    ipam = dict(type='host-local', ranges=range_sets, routes=routes)
    return {
        'cniVersion': CNI_VERSION,
        'name': name,
        'plugins': [
            # the gateway stays on the bridge (isGateway); the collection masquerades (podnet_masquerade)
            dict(type='bridge', bridge=bridge, isGateway=True, ipMasq=False, hairpinMode=True, mtu=mtu, ipam=ipam),
            dict(type='portmap', capabilities=dict(portMappings=True)),
        ],
    }


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    path = v.state_dir('path', params['path'])
    network = params.get('network') or 'podnet'
    if params.get('state', 'present') == 'absent':
        return [dict(path=path, network=network)]
    config = params.get('config')
    if not isinstance(config, dict) or not isinstance(config.get('plugins'), list) or not config.get('cniVersion'):
        raise v.ValidationError('config: %r is not a CNI configuration list (name, cniVersion, plugins)' % (config,))
    if config.get('name') != network:
        raise v.ValidationError('config: its name %r is not the network %r' % (config.get('name'), network))
    return [dict(path=path, network=network, config=config)]


def read_config(path: str) -> Optional[Dict[str, Any]]:
    """The configuration in ``path``, None when missing; {'unreadable': why} when it is not a JSON object."""
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return dict(unreadable='cannot read %s: %s' % (path, exc.strerror or exc))
    try:
        document = json.loads(text)
    except ValueError as exc:
        return dict(unreadable='%s is not JSON (%s)' % (path, exc))
    return document if isinstance(document, dict) else dict(unreadable='%s is not a JSON object' % path)


class CniConfig(Resource):
    result_key = 'files'
    compared = ('config',)

    def read(self) -> List[Dict[str, Any]]:
        entries = []
        for entry in self.wanted:
            document = read_config(entry['path'])
            if document is not None:
                entries.append(dict(path=entry['path'], network=document.get('name'), config=document))
        return entries

    def key(self, entry: Dict[str, Any]) -> str:
        return entry['path']

    def owned(self, entry: Dict[str, Any]) -> bool:
        wanted = [w for w in self.wanted if w['path'] == entry['path']]
        return bool(wanted) and wanted[0].get('network') is not None and entry.get('network') == wanted[0]['network']

    def conflict(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Any) -> None:
        what = current['config'].get('unreadable') or 'the configuration of network %r' % current.get('network')
        raise PodnetError('%s holds %s, not of network %r; refusing to overwrite it (choose another file name, or '
                          'remove it yourself)' % (current['path'], what, wanted['network']))

    def differences(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Any]:
        if wanted.get('config') is not None and current.get('config') != wanted['config']:
            return dict(config=(current.get('config'), wanted['config']))
        return {}

    def add(self, entry: Dict[str, Any]) -> None:
        path = entry['path']
        makedirs(os.path.dirname(path), 0o755)
        write_atomically(path, json.dumps(entry['config'], indent=2, sort_keys=True) + '\n', 0o644)

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Any) -> None:
        self.add(wanted)

    def delete(self, entry: Dict[str, Any]) -> None:
        remove(entry['path'])

    def describe(self, entry: Dict[str, Any]) -> str:
        return 'CNI configuration %s (network %s)' % (entry['path'], entry.get('network'))

    def merged(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Any]:
        return dict(wanted)
