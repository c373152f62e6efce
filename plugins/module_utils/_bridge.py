# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Linux bridge for the pods of one host, laid out as flannel's and the CNI bridge plugin's ``cni0``.

The bridge holds the pod range's gateway address (M(openkube.podnet.address)); the host ends of the pods'
veth pairs are its ports (M(openkube.podnet.veth), option ``master``), and so are those a container
runtime attaches with the CNI ``bridge`` plugin. MTU, MAC and up/down change in place. The plan gives the bridge a
stable MAC address: a bridge without one takes the lowest MAC of its ports, so attaching a pod whose veth has a
lower one changed the gateway's MAC under the pods' ARP caches, and the collection's own pod lost its gateway for
about 5 s (seen in CI after a host-gw -> vxlan switch). A device of that name and another kind is
never changed or deleted.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._device import Device
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC

ARGSPEC = dict(
    COMMON_ARGSPEC,
    name=dict(type='str', required=True),
    mtu=dict(type='int'),
    mac=dict(type='str'),
    up=dict(type='bool', default=True),
)


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    name = v.ifname('name', params['name'])
    if params['state'] == 'absent':
        return [dict(name=name, kind='bridge')]
    return [dict(name=name, kind='bridge', mtu=v.optional(v.mtu, 'mtu', params.get('mtu')),
                 mac=v.optional(v.mac, 'mac', params.get('mac')), up=bool(params['up']))]


class Bridge(Device):
    kind = 'bridge'
    result_key = 'bridge'
    compared = ('kind', 'mtu', 'mac', 'up')
    immutable = ()
    in_place = dict(mtu='mtu', mac='address')

    def read_data(self, msg: Any, data: Any) -> Dict[str, Any]:
        return dict(mac=(msg.get_attr('IFLA_ADDRESS') or '').lower() or None)

    def create_request(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        return {}

    def describe(self, entry: Dict[str, Any]) -> str:
        if entry.get('kind') not in (None, 'bridge'):
            return '%s device %s' % (entry['kind'], entry['name'])
        text = ['bridge %s' % entry['name']]
        for field in ('mac', 'mtu'):
            if entry.get(field) is not None:
                text.append('%s %s' % (field, entry[field]))
        if 'up' in entry:
            text.append('up' if entry['up'] else 'down')
        return ' '.join(text)
