# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Permanent neighbour (ARP / NDP) entries of one device, keyed by IP address.

Owned entries are the permanent ones on the named device: ``purge`` and
``state=absent`` delete only those, and never look at another device. An
entry the kernel learned by itself (reachable, stale, failed, ...) for a
wanted address is replaced by the permanent one, as ``ip neigh replace``
does; learned entries for other addresses are neither listed nor touched.
"""

from __future__ import annotations

import socket
from typing import Any, Dict, List, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource

NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
NUD_NAMES = {0x01: 'incomplete', 0x02: 'reachable', 0x04: 'stale', 0x08: 'delay', 0x10: 'probe',
             0x20: 'failed', 0x40: 'noarp', 0x80: 'permanent', 0x00: 'none'}

NEIGHBOR_OPTIONS = dict(
    ip=dict(type='str', required=True),
    lladdr=dict(type='str'),
)

ARGSPEC = dict(
    COMMON_ARGSPEC,
    dev=dict(type='str', required=True),
    neighbors=dict(type='list', elements='dict', default=[], options=NEIGHBOR_OPTIONS),
    purge=dict(type='bool', default=False),
)


def state_name(state: int) -> str:
    for bit in sorted(NUD_NAMES, reverse=True):
        if bit and state & bit:
            return NUD_NAMES[bit]
    return 'none'


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    v.ifname('dev', params['dev'])
    present = params['state'] == 'present'
    entries, seen = [], {}  # type: List[Dict[str, Any]], Dict[str, int]
    for i, item in enumerate(params['neighbors'] or []):
        name = 'neighbors[%d]' % i
        ip = str(v.ip_address(name + '.ip', item['ip']))
        if ip in seen:
            raise v.ValidationError('%s.ip: %r is listed twice (also neighbors[%d])' % (name, item['ip'], seen[ip]))
        seen[ip] = i
        lladdr = item.get('lladdr')
        if lladdr is None and present:
            raise v.ValidationError('%s.lladdr: is required when state is present (neighbour %s)' % (name, ip))
        entries.append(dict(ip=ip, lladdr=v.optional(v.mac, name + '.lladdr', lladdr), state='permanent'))
    return entries


class NeighborTable(Resource):
    result_key = 'neighbors'
    compared = ('lladdr', 'state')

    def read(self) -> List[Dict[str, Any]]:
        index = self.nl.ifindex(self.params['dev'])
        if index is None:
            return []
        wanted = set(e['ip'] for e in self.wanted)
        entries = []
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg in self.nl.call('dump neighbours of %s' % self.params['dev'], 'neigh', 'dump',
                                    family=family, ifindex=index):
                if msg['ifindex'] != index or msg.get_attr('NDA_DST') is None:
                    continue
                ip = str(v.ip_address('NDA_DST', msg.get_attr('NDA_DST')))
                permanent = bool(msg['state'] & NUD_PERMANENT)
                if not permanent and ip not in wanted:
                    continue  # the kernel's own cache: not ours, not listed
                lladdr = msg.get_attr('NDA_LLADDR')
                entries.append(dict(ip=ip, lladdr=lladdr.lower() if lladdr else None,
                                    state=state_name(msg['state'])))
        return entries

    def key(self, entry: Dict[str, Any]) -> str:
        return entry['ip']

    def owned(self, entry: Dict[str, Any]) -> bool:
        return entry.get('state') == 'permanent'

    def conflict(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        """A learned entry for a wanted address: replaced by the permanent one (no error)."""

    def _index(self, entry: Dict[str, Any]) -> int:
        index = self.nl.ifindex(self.params['dev'])
        if index is None:
            raise PodnetError('neighbour %s: device %s does not exist in %s'
                              % (entry['ip'], self.params['dev'], self.nl.where))
        return index

    def _write(self, command: str, entry: Dict[str, Any]) -> None:
        self.nl.call('%s neighbour %s' % (command, self.describe(entry)), 'neigh', command,
                     dst=entry['ip'], lladdr=entry['lladdr'], ifindex=self._index(entry),
                     state=NUD_PERMANENT, family=socket.AF_INET6 if ':' in entry['ip'] else socket.AF_INET)

    def add(self, entry: Dict[str, Any]) -> None:
        self._write('replace', entry)

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        self._write('replace', wanted)

    def delete(self, entry: Dict[str, Any]) -> None:
        self.nl.call('delete neighbour %s' % self.describe(entry), 'neigh', 'del',
                     dst=entry['ip'], ifindex=self._index(entry),
                     family=socket.AF_INET6 if ':' in entry['ip'] else socket.AF_INET)

    def describe(self, entry: Dict[str, Any]) -> str:
        text = [entry['ip']]
        if entry.get('lladdr'):
            text.append('lladdr %s' % entry['lladdr'])
        text.append('dev %s' % self.params['dev'])
        if entry.get('state') and entry['state'] != 'permanent':
            text.append(entry['state'])
        return ' '.join(text)
