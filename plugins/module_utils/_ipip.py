# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An IPv4-in-IPv4 (ipip) tunnel device, one-to-many by default (no remote), as flannel and Calico use it.

Local address, remote address, underlay device and TTL are never changed in
place: the kernel refuses some of those changes (a remote on a device that had
none changes its point-to-point flag: EINVAL) and others would leave a stale
MTU, so a difference there deletes and recreates the device. MTU and up/down
change in place.
"""

from __future__ import annotations

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._device import Device
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC

ANY = '0.0.0.0'
FALLBACK = 'tunl0'  # the kernel's own ipip device, made in every namespace when ipip is loaded

ARGSPEC = dict(
    COMMON_ARGSPEC,
    name=dict(type='str', required=True),
    local=dict(type='str'),
    remote=dict(type='str'),
    ttl=dict(type='int', default=0),
    mtu=dict(type='int'),
    dev=dict(type='str'),
    up=dict(type='bool', default=True),
)


def wanted_from_params(params):
    name = v.ifname('name', params['name'])
    if name == FALLBACK:
        raise v.ValidationError("name: %r is the kernel's fallback ipip device, which cannot be configured "
                                "or deleted; choose another name (flannel uses flannel.ipip)" % name)
    if params['state'] == 'absent':
        return [dict(name=name, kind='ipip')]
    local = v.optional(v.ip_address, 'local', params.get('local'), 4)
    remote = v.optional(v.ip_address, 'remote', params.get('remote'), 4)
    for option, addr in (('local', local), ('remote', remote)):
        if addr is not None and (addr.is_multicast or addr.is_loopback):
            raise v.ValidationError('%s: %r is a %s address; a unicast address is required'
                                    % (option, params.get(option), 'multicast' if addr.is_multicast else 'loopback'))
    return [dict(
        name=name,
        kind='ipip',
        local=str(local) if local is not None else None,
        remote=str(remote) if remote is not None else ANY,
        ttl=v.ttl('ttl', params['ttl'] if params.get('ttl') is not None else 0),
        dev=v.optional(v.ifname, 'dev', params.get('dev')),
        mtu=v.optional(v.mtu, 'mtu', params.get('mtu')),
        up=bool(params['up']),
    )]


class Ipip(Device):
    kind = 'ipip'
    result_key = 'ipip'
    compared = ('kind', 'local', 'remote', 'ttl', 'dev', 'mtu', 'up')
    immutable = ('local', 'remote', 'ttl', 'dev')
    in_place = dict(mtu='mtu')

    def read_data(self, msg, data):
        return dict(
            local=data.get_attr('IFLA_IPIP_LOCAL') or ANY,
            remote=data.get_attr('IFLA_IPIP_REMOTE') or ANY,
            ttl=data.get_attr('IFLA_IPIP_TTL') or 0,
            dev=self.link_name(data.get_attr('IFLA_IPIP_LINK')),
        )

    def create_request(self, entry):
        request = dict(ipip_ttl=entry.get('ttl') or 0)
        if entry.get('local') and entry['local'] != ANY:
            request['ipip_local'] = entry['local']
        if entry.get('remote') and entry['remote'] != ANY:
            request['ipip_remote'] = entry['remote']
        index = self.underlay_index(entry)
        if index is not None:
            request['ipip_link'] = index
        return request

    def eexist_hint(self, entry):
        return ('the kernel allows only one ipip device per local address, remote address and underlay '
                'device (the fallback device tunl0 has none of them: give local or dev)')

    def describe(self, entry):
        text = ['ipip device %s' % entry['name']]
        if entry.get('kind') not in (None, 'ipip'):
            return '%s device %s' % (entry['kind'], entry['name'])
        for field in ('local', 'remote'):
            if entry.get(field) is not None:
                text.append('%s %s' % (field, 'any' if entry[field] == ANY else entry[field]))
        if entry.get('dev'):
            text.append('dev %s' % entry['dev'])
        if entry.get('ttl'):
            text.append('ttl %s' % entry['ttl'])
        if entry.get('mtu'):
            text.append('mtu %s' % entry['mtu'])
        if 'up' in entry:
            text.append('up' if entry['up'] else 'down')
        return ' '.join(text)
