# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Permanent forwarding-database entries of one vxlan device: ``<mac> dst <node ip> self permanent``.

Keyed by MAC address: for a unicast MAC the kernel's vxlan driver keeps one
destination (``append`` of a second one is silently ignored), which is also
flannel's model (one VTEP MAC per peer node). Changing the destination of a
MAC is done with ``replace``, atomically.

Owned entries are the device's own (``self``), permanent, unicast-MAC entries
that have a destination. The kernel's entries are never listed or touched: the
all-zero / multicast MAC default destinations that a vxlan device with a
``remote`` or ``group`` gets, entries the bridge keeps for a port (``master``),
and learned (non-permanent) entries, except that a learned entry for a wanted
MAC is replaced by the permanent one.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource

NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
NTF_SELF = 0x02

ENTRY_OPTIONS = dict(
    mac=dict(type='str', required=True),
    dst=dict(type='str'),
)


ARGSPEC = dict(
    COMMON_ARGSPEC,
    dev=dict(type='str', required=True),
    entries=dict(type='list', elements='dict', default=[], options=ENTRY_OPTIONS),
    purge=dict(type='bool', default=False),
)


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    v.ifname('dev', params['dev'])
    present = params['state'] == 'present'
    entries, seen = [], {}  # type: List[Dict[str, Any]], Dict[str, int]
    for i, item in enumerate(params['entries'] or []):
        name = 'entries[%d]' % i
        mac = v.mac(name + '.mac', item['mac'])
        if mac in seen:
            raise v.ValidationError('%s.mac: %r is listed twice (also entries[%d]); a unicast MAC has one '
                                    'destination on a vxlan device' % (name, item['mac'], seen[mac]))
        seen[mac] = i
        dst = v.optional(v.ip_address, name + '.dst', item.get('dst'))
        if dst is None and present:
            raise v.ValidationError('%s.dst: is required when state is present (entry %s)' % (name, mac))
        if dst is not None and (dst.is_multicast or dst.is_unspecified or dst.is_loopback):
            raise v.ValidationError('%s.dst: %r is not the unicast address of a node' % (name, item.get('dst')))
        entries.append(dict(mac=mac, dst=str(dst) if dst is not None else None, permanent=True))
    return entries


def _unicast(mac: str) -> bool:
    return mac != '00:00:00:00:00:00' and not int(mac[:2], 16) & 1


class FdbTable(Resource):
    result_key = 'entries'
    compared = ('dst', 'permanent')

    def read(self) -> List[Dict[str, Any]]:
        index = self.nl.ifindex(self.params['dev'])
        if index is None:
            return []
        wanted = set(e['mac'] for e in self.wanted)
        entries = []
        for msg in self.nl.call('dump FDB of %s' % self.params['dev'], 'fdb', 'dump', ifindex=index):
            mac = (msg.get_attr('NDA_LLADDR') or '').lower()
            dst = msg.get_attr('NDA_DST')
            if msg['ifindex'] != index or not msg['flags'] & NTF_SELF or not mac or not _unicast(mac) or dst is None:
                continue
            permanent = bool(msg['state'] & NUD_PERMANENT)
            if not permanent and mac not in wanted:
                continue  # learned: not ours, not listed
            entries.append(dict(mac=mac, dst=str(v.ip_address('NDA_DST', dst)), permanent=permanent))
        return entries

    def key(self, entry: Dict[str, Any]) -> str:
        return entry['mac']

    def owned(self, entry: Dict[str, Any]) -> bool:
        return bool(entry.get('permanent'))

    def conflict(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        """A learned entry for a wanted MAC: replaced by the permanent one (no error)."""

    def _index(self, entry: Dict[str, Any]) -> int:
        index = self.nl.ifindex(self.params['dev'])
        if index is None:
            raise PodnetError('FDB entry %s: device %s does not exist in %s'
                              % (entry['mac'], self.params['dev'], self.nl.where))
        return index

    def _write(self, command: str, entry: Dict[str, Any]) -> None:
        self.nl.call('%s FDB entry %s' % (command, self.describe(entry)), 'fdb', command,
                     ifindex=self._index(entry), lladdr=entry['mac'], dst=entry['dst'],
                     state=NUD_PERMANENT | NUD_NOARP, flags=NTF_SELF)

    def add(self, entry: Dict[str, Any]) -> None:
        self._write('append', entry)

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        self._write('replace', wanted)

    def delete(self, entry: Dict[str, Any]) -> None:
        self._write('del', entry)

    def describe(self, entry: Dict[str, Any]) -> str:
        text = [entry['mac']]
        if entry.get('dst'):
            text.append('dst %s' % entry['dst'])
        text.append('dev %s self' % self.params['dev'])
        text.append('permanent' if entry.get('permanent', True) else 'learned')
        return ' '.join(text)
