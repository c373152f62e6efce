# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IP addresses of one device: a set of entries keyed by (address, prefix length).

There is nothing to update in place: an address is there or it is not. Two
kernel rules are handled here so that one run converges:

* IPv6 knows an address once, whatever its prefix: an IPv6 address wanted
  with another prefix length replaces the one there (delete, then add).
* Deleting a primary IPv4 address also deletes the secondaries of its subnet
  (unless ``promote_secondaries`` is set): wanted addresses that went with it
  are added again.

``purge`` never removes IPv6 link-local addresses (fe80::/10): the kernel
makes them and IPv6 needs them.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import NetlinkError, PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Change, Resource

LINK_LOCAL6 = ipaddress.ip_network('fe80::/10')

ARGSPEC = dict(
    COMMON_ARGSPEC,
    dev=dict(type='str', required=True),
    addresses=dict(type='list', elements='str', default=[]),
    purge=dict(type='bool', default=False),
    nodad=dict(type='bool', default=False),
)

IFA_F_NODAD = 0x02  # an IPv6 address usable at once, without duplicate address detection


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    v.ifname('dev', params['dev'])
    entries, seen = [], {}  # type: List[Dict[str, Any]], Dict[Tuple[str, int], int]
    for i, text in enumerate(params.get('addresses') or []):
        iface = v.ip_interface('addresses[%d]' % i, text)
        entry: Dict[str, Any] = dict(address=str(iface.ip), prefixlen=iface.network.prefixlen, family=iface.version)
        key = (entry['address'], entry['prefixlen'])
        if key in seen:
            raise v.ValidationError('addresses[%d]: %r is listed twice (also addresses[%d])' % (i, text, seen[key]))
        for other, j in seen.items():
            if iface.version == 6 and other[0] == entry['address']:
                raise v.ValidationError('addresses[%d]: %r: IPv6 address %s is also listed with prefix /%d '
                                        '(addresses[%d]); the kernel holds an IPv6 address once'
                                        % (i, text, entry['address'], other[1], j))
        seen[key] = i
        entries.append(entry)
    return entries


def is_link_local(entry: Dict[str, Any]) -> bool:
    return entry['family'] == 6 and ipaddress.ip_address(entry['address']) in LINK_LOCAL6


class Addresses(Resource):
    result_key = 'addresses'

    def _index(self) -> Optional[int]:
        return self.nl.ifindex(self.params['dev'])

    def read(self) -> List[Dict[str, Any]]:
        index = self._index()
        if index is None:
            return []
        entries = []
        for msg in self.nl.call('dump addresses', 'addr', 'dump'):
            if msg['index'] != index:
                continue
            address = msg.get_attr('IFA_LOCAL') or msg.get_attr('IFA_ADDRESS')
            family = 4 if msg['family'] == socket.AF_INET else 6
            entries.append(dict(address=str(ipaddress.ip_address(address)), prefixlen=msg['prefixlen'], family=family))
        return entries

    def key(self, entry: Dict[str, Any]) -> Tuple[str, int]:
        return (entry['address'], entry['prefixlen'])

    def compare(self, current: List[Dict[str, Any]], wanted: List[Dict[str, Any]], state: str, purge: bool) -> List[Change]:
        changes = super(Addresses, self).compare(current, wanted, state, purge)
        wanted_keys = set(self.key(e) for e in wanted)
        # purge leaves IPv6 link-local addresses alone (state=absent may still remove a listed one)
        changes = [c for c in changes
                   if not (c.op == 'delete' and is_link_local(c.before) and self.key(c.before) not in wanted_keys)]
        if state == 'present':
            deleted = set(self.key(c.before) for c in changes if c.op == 'delete')
            for change in [c for c in changes if c.op == 'add' and c.after['family'] == 6]:
                for have in current:
                    if have['address'] == change.after['address'] and self.key(have) not in deleted:
                        changes.insert(0, Change('delete', before=have))
                        deleted.add(self.key(have))
        return changes

    def apply(self, changes: List[Change]) -> None:
        super(Addresses, self).apply(changes)
        if any(c.op == 'delete' for c in changes) and self.params.get('state', 'present') == 'present':
            # a deleted primary IPv4 address takes its subnet's secondaries along: put back wanted ones
            there = set(self.key(e) for e in self.read())
            for entry in self.wanted:
                if self.key(entry) not in there:
                    self.add(entry)

    def _request(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        index = self._index()
        if index is None:
            raise PodnetError('dev: device %r does not exist in %s' % (self.params['dev'], self.nl.where))
        request = dict(index=index, address=entry['address'], prefixlen=entry['prefixlen'],
                       family=socket.AF_INET if entry['family'] == 4 else socket.AF_INET6)
        if entry['family'] == 6 and self.params.get('nodad'):
            request['flags'] = IFA_F_NODAD
        return request

    def add(self, entry: Dict[str, Any]) -> None:
        try:
            self.nl.ipr.addr('add', **self._request(entry))
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise PodnetError('add address %s to %s failed: %s (errno %s)'
                                  % (self.describe(entry), self.params['dev'], exc, exc.code))

    def delete(self, entry: Dict[str, Any]) -> None:
        try:
            self.nl.ipr.addr('del', **self._request(entry))
        except NetlinkError as exc:
            if exc.code not in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ENODEV):
                raise PodnetError('delete address %s from %s failed: %s (errno %s)'
                                  % (self.describe(entry), self.params['dev'], exc, exc.code))

    def describe(self, entry: Dict[str, Any]) -> str:
        return '%s/%d' % (entry['address'], entry['prefixlen'])
