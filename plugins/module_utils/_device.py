# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One virtual network device of one kind (ipip, vxlan), as a resource of zero or one entry.

The entry is keyed by the device name. A device of that name and of the
module's kind is owned by the collection; a device of that name and of
another kind (a veth, a bridge, the host's eth0) is never changed or deleted:
``state=present`` fails and names it, ``state=absent`` leaves it alone.

MTU, up/down and (for kinds that allow it) the MAC address change in place;
any field in ``immutable`` makes the core delete the device and create it
again, with the MTU and MAC of the old device unless the user gave others
(``Resource.merged`` keeps current values for options that were not given).
"""

from __future__ import annotations

import errno
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils._netlink import (
    IFF_UP,
    NetlinkError,
    PodnetError,
    describe_netlink_error,
    link_kind,
)
from ansible_collections.openkube.podnet.plugins.module_utils._resource import Resource


class Device(Resource):
    """Subclasses set ``kind``, ``compared``, ``immutable`` and implement ``read_data``/``create_request``."""

    kind: Optional[str] = None
    #: fields changed in place by ``link('set')``: entry field -> IPRoute keyword
    in_place = dict(mtu='mtu', mac='address')

    # ---- reading ------------------------------------------------------
    def read(self) -> List[Dict[str, Any]]:
        name = self.params['name']
        msg = self.nl.get_link(name)
        if msg is None:
            return []
        info = msg.get_attr('IFLA_LINKINFO')
        kind = link_kind(msg)
        entry = dict(
            name=name,
            kind=kind or 'unknown',
            mtu=msg.get_attr('IFLA_MTU'),
            up=bool(msg['flags'] & IFF_UP),
        )
        if kind == self.kind:
            data = info.get_attr('IFLA_INFO_DATA')
            entry.update(self.read_data(msg, data))
        return [entry]

    def read_data(self, msg: Any, data: Any) -> Dict[str, Any]:
        """The kind-specific fields of an existing device of our kind."""
        raise NotImplementedError

    def link_name(self, index: Optional[int]) -> Optional[str]:
        """Name of the underlay device with ``index`` (None for 0/None)."""
        if not index:
            return None
        try:
            return self.nl.ifname(index)
        except NetlinkError:  # in another namespace or gone
            return 'if%d' % index

    def underlay_index(self, entry: Dict[str, Any]) -> Optional[int]:
        if not entry.get('dev'):
            return None
        index = self.nl.ifindex(entry['dev'])
        if index is None:
            raise PodnetError('%s device %s: underlay device %s does not exist in %s'
                              % (self.kind, entry['name'], entry['dev'], self.nl.where))
        return index

    # ---- policy -------------------------------------------------------
    def key(self, entry: Dict[str, Any]) -> str:
        return entry['name']

    def owned(self, entry: Dict[str, Any]) -> bool:
        return entry.get('kind') == self.kind

    def conflict(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        raise PodnetError(
            'device %s exists in %s but is a %s device, not %s; refusing to change or delete it '
            '(choose another name, or remove that device yourself)'
            % (current['name'], self.nl.where, current['kind'], self.kind))

    # ---- writing ------------------------------------------------------
    def create_request(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        """IPRoute ``link('add')`` keywords for the kind-specific fields."""
        raise NotImplementedError

    def add(self, entry: Dict[str, Any]) -> None:
        request = dict(ifname=entry['name'], kind=self.kind)
        request.update(self.create_request(entry))
        for field, keyword in self.in_place.items():
            if entry.get(field) is not None:
                request[keyword] = entry[field]
        action = 'add %s' % self.describe(entry)
        try:
            self.nl.ipr.link('add', **request)
        except NetlinkError as exc:
            message = describe_netlink_error(exc, action)
            if exc.code == errno.EEXIST:
                message += '; ' + self.eexist_hint(entry)
            elif exc.code == errno.EOPNOTSUPP:
                message += '; this kernel has no %s support (is its module loaded?)' % self.kind
            raise PodnetError(message)
        self.nl.forget_links()
        if entry.get('up'):
            self.nl.call('set %s up' % entry['name'], 'link', 'set',
                         index=self.nl.ifindex(entry['name']), state='up')

    def eexist_hint(self, entry: Dict[str, Any]) -> str:
        return 'another %s device with the same parameters exists' % self.kind

    def delete(self, entry: Dict[str, Any]) -> None:
        index = self.nl.ifindex(entry['name'])
        if index is not None:
            self.nl.call('delete %s device %s' % (self.kind, entry['name']), 'link', 'del', index=index)
        self.nl.forget_links()

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        index = self.nl.ifindex(current['name'])
        request = dict((self.in_place[f], wanted[f]) for f in fields if f in self.in_place)
        if 'up' in fields:
            request['state'] = 'up' if wanted['up'] else 'down'
        self.nl.call('update %s (%s)' % (self.describe(wanted), ', '.join(sorted(fields))),
                     'link', 'set', index=index, **request)
