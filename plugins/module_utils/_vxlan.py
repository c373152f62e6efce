# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VXLAN device (VTEP), designed as flannel's: VNI 1, port 8472, learning off, stable MAC.

VNI, UDP port, local address, underlay device and learning cannot all be
changed in place, so any difference there deletes the device and creates it
again, as flannel does. The MAC address is kept across that re-creation (the
given one, or else the old device's), because peers hold it in their
neighbour and FDB entries (flannel#1155, #1795). MTU, MAC and up/down change
in place.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._device import Device
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC

ARGSPEC = dict(
    COMMON_ARGSPEC,
    name=dict(type='str', required=True),
    vni=dict(type='int'),
    local=dict(type='str'),
    dev=dict(type='str'),
    port=dict(type='int', default=v.VXLAN_DEFAULT_PORT),
    learning=dict(type='bool', default=False),
    mac=dict(type='str'),
    mtu=dict(type='int'),
    up=dict(type='bool', default=True),
)


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    name = v.ifname('name', params['name'])
    if params['state'] == 'absent':
        return [dict(name=name, kind='vxlan')]
    if params.get('vni') is None:
        raise v.ValidationError('vni: is required when state is present (flannel uses 1)')
    local = v.optional(v.ip_address, 'local', params.get('local'))
    if local is not None and (local.is_multicast or local.is_unspecified or local.is_loopback):
        raise v.ValidationError('local: %r is not a unicast address of this host' % params.get('local'))
    return [dict(
        name=name,
        kind='vxlan',
        vni=v.vni('vni', params['vni']),
        local=str(local) if local is not None else None,
        dev=v.optional(v.ifname, 'dev', params.get('dev')),
        port=v.port('port', params['port'] if params.get('port') is not None else v.VXLAN_DEFAULT_PORT),
        learning=bool(params['learning']),
        mac=v.optional(v.mac, 'mac', params.get('mac')),
        mtu=v.optional(v.mtu, 'mtu', params.get('mtu')),
        up=bool(params['up']),
    )]


class Vxlan(Device):
    kind = 'vxlan'
    result_key = 'vxlan'
    compared = ('kind', 'vni', 'port', 'local', 'dev', 'learning', 'mac', 'mtu', 'up')
    immutable = ('vni', 'port', 'local', 'dev', 'learning')
    in_place = dict(mtu='mtu', mac='address')

    def read_data(self, msg: Any, data: Any) -> Dict[str, Any]:
        local = data.get_attr('IFLA_VXLAN_LOCAL') or data.get_attr('IFLA_VXLAN_LOCAL6')
        return dict(
            vni=data.get_attr('IFLA_VXLAN_ID'),
            port=data.get_attr('IFLA_VXLAN_PORT'),
            local=str(v.ip_address('local', local)) if local else None,
            dev=self.link_name(data.get_attr('IFLA_VXLAN_LINK')),
            learning=bool(data.get_attr('IFLA_VXLAN_LEARNING')),
            mac=(msg.get_attr('IFLA_ADDRESS') or '').lower() or None,
        )

    def create_request(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        request = dict(vxlan_id=entry['vni'], vxlan_port=entry['port'],
                       vxlan_learning=1 if entry.get('learning') else 0)
        if entry.get('local'):
            request['vxlan_local6' if ':' in entry['local'] else 'vxlan_local'] = entry['local']
        index = self.underlay_index(entry)
        if index is not None:
            request['vxlan_link'] = index
        return request

    def eexist_hint(self, entry: Dict[str, Any]) -> str:
        return ('a device of that name appeared, or another vxlan device already uses VNI %s on port %s'
                % (entry.get('vni'), entry.get('port')))

    def describe(self, entry: Dict[str, Any]) -> str:
        if entry.get('kind') not in (None, 'vxlan'):
            return '%s device %s' % (entry['kind'], entry['name'])
        text = ['vxlan device %s' % entry['name']]
        for field in ('vni', 'port', 'local', 'dev', 'mac', 'mtu'):
            if entry.get(field) is not None:
                text.append('%s %s' % (field, entry[field]))
        if 'learning' in entry:
            text.append('learning' if entry['learning'] else 'nolearning')
        if 'up' in entry:
            text.append('up' if entry['up'] else 'down')
        return ' '.join(text)
