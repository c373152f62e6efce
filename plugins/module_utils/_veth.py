# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A veth pair: one entry keyed by the name of the end that stays in ``netns``.

The peer is found through the kernel's own pairing (``IFLA_LINK`` and, when it
lives in another namespace, ``IFLA_LINK_NETNSID``), never by name alone. The
namespace id is mapped back to a name in /run/netns, so once the peer has been
moved into ``peer_netns`` it is found there and the module is idempotent.

MTU, MAC addresses and up/down change in place; moving the peer into another
named namespace is done in place too. The pair is deleted and created again
when ``name`` is not a veth, when the peer has another name, or when the peer
lives in a namespace that has no name (it cannot be reached to move it).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Literal, Optional, Set, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import (
    IFF_UP,
    NETNS_RUN_DIR,
    Netlink,
    PodnetError,
    link_kind,
    netns_exists,
)
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource


ARGSPEC = dict(
    COMMON_ARGSPEC,
    name=dict(type='str', required=True),
    peer=dict(type='str'),
    peer_netns=dict(type='str'),
    mtu=dict(type='int'),
    mac=dict(type='str'),
    peer_mac=dict(type='str'),
    up=dict(type='bool', default=True),
    master=dict(type='str'),
)

# The fields of an entry (peer_* describe the other end), all compared with the wanted entry
FIELDS = ('kind', 'peer', 'peer_netns', 'mtu', 'peer_mtu', 'mac', 'peer_mac', 'up', 'peer_up', 'master')


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    name = v.ifname('name', params['name'])
    if params.get('state', 'present') == 'absent':
        return [dict(name=name, kind='veth')]
    if params.get('peer') is None:
        raise v.ValidationError('peer: None is not allowed: the peer name is required when state is present')
    peer = v.ifname('peer', params['peer'])
    peer_netns = v.optional(v.nsname, 'peer_netns', params.get('peer_netns'))
    if peer_netns is not None and peer_netns == params.get('netns'):
        peer_netns = None  # the same namespace as name
    if peer == name and peer_netns is None:
        raise v.ValidationError('peer: %r is the same as name; both ends of a pair in one namespace need two names' % peer)
    mtu = v.optional(v.mtu, 'mtu', params.get('mtu'))
    up = bool(params.get('up', True))
    return [dict(
        name=name,
        kind='veth',
        peer=peer,
        peer_netns=peer_netns,
        mtu=mtu,
        peer_mtu=mtu,
        mac=v.optional(v.mac, 'mac', params.get('mac')),
        peer_mac=v.optional(v.mac, 'peer_mac', params.get('peer_mac')),
        up=up,
        peer_up=up,
        # the bridge the end ``name`` is a port of (None: not compared, whatever it is)
        master=v.optional(v.ifname, 'master', params.get('master')),
    )]


def _link_fields(msg: Any) -> Dict[str, Any]:
    return dict(
        mtu=msg.get_attr('IFLA_MTU'),
        mac=(msg.get_attr('IFLA_ADDRESS') or '').lower() or None,
        up=bool(msg['flags'] & IFF_UP),
    )


def _open_ns(name: Optional[str]) -> Netlink:
    """Netlink in namespace ``name`` (None: the module's own namespace, not the target's ``netns``)."""
    return Netlink(name)


class VethPair(Resource):
    result_key = 'veth'
    compared = FIELDS
    immutable = ('kind', 'peer')

    def __init__(self, nl: Any, params: Dict[str, Any], wanted: List[Dict[str, Any]]) -> None:
        super(VethPair, self).__init__(nl, params, wanted)
        self._named: Set[str] = set()  # peer namespaces found by name (their peers can be moved)

    # ---- reading ------------------------------------------------------
    def _nsid(self, nsname: str) -> Optional[int]:
        """The id our namespace gives ``nsname``, or None."""
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, nsname), os.O_RDONLY)
        except OSError:
            return None
        try:
            reply = self.nl.ipr.get_netnsid(fd=fd)
        except Exception:  # an unreadable namespace file cannot be the peer's
            return None
        finally:
            os.close(fd)
        nsid = reply.get('nsid') if isinstance(reply, dict) else None
        return nsid if nsid is not None and nsid >= 0 else None

    def _find_ns(self, nsid: int, hint: Optional[str]) -> Optional[str]:
        """The name in /run/netns of the namespace with id ``nsid``, trying ``hint`` first."""
        names = [hint] if hint else []
        try:
            names += sorted(n for n in os.listdir(NETNS_RUN_DIR) if n != hint)
        except OSError:
            pass
        for name in names:
            if name != self.params.get('netns') and self._nsid(name) == nsid:
                return name
        return None

    def read(self) -> List[Dict[str, Any]]:
        wanted = self.wanted[0]
        link = self.nl.get_link(wanted['name'])
        if link is None:
            return []
        entry: Dict[str, Any] = dict((f, None) for f in FIELDS)
        entry.update(name=wanted['name'], kind=link_kind(link), **_link_fields(link))
        master = link.get_attr('IFLA_MASTER')
        entry['master'] = self.nl.ifname(master) if master else None
        if entry['kind'] != 'veth':
            return [entry]
        peer_index = link.get_attr('IFLA_LINK')
        nsid = link.get_attr('IFLA_LINK_NETNSID')
        if nsid is None:
            peer = self.nl.ipr.link('get', index=peer_index)[0]
        else:
            found = self._find_ns(nsid, wanted.get('peer_netns'))
            if found is None:
                entry['peer_netns'] = '<unnamed namespace, nsid %d>' % nsid
                return [entry]
            entry['peer_netns'] = found
            self._named.add(found)
            with _open_ns(found) as pnl:
                peer = pnl.ipr.link('get', index=peer_index)[0]
        fields = _link_fields(peer)
        entry.update(peer=peer.get_attr('IFLA_IFNAME'), peer_mtu=fields['mtu'],
                     peer_mac=fields['mac'], peer_up=fields['up'])
        return [entry]

    def key(self, entry: Dict[str, Any]) -> str:
        return entry['name']

    # ---- policy ---------------------------------------------------------
    def owned(self, entry: Dict[str, Any]) -> bool:
        # state=absent deletes only a veth; a link of another kind in the way is recreated (below).
        return entry.get('kind') == 'veth'

    def conflict(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        pass  # not a veth: it is deleted and the pair created (kind is immutable)

    def differences(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
        fields = {}
        for field in FIELDS:
            want = wanted.get(field)
            if (want is not None or field == 'peer_netns') and current.get(field) != want:
                fields[field] = (current.get(field), want)
        return fields

    def _must_recreate(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> bool:
        if current.get('kind') != 'veth' or current.get('peer') != wanted['peer']:
            return True
        where = current.get('peer_netns')
        return where != wanted['peer_netns'] and where is not None and where not in self._named

    def merged(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Any]:
        if self._must_recreate(current, wanted):
            return dict(wanted)  # a new pair: what was not asked for is the kernel's choice
        entry = super(VethPair, self).merged(current, wanted)
        entry['peer_netns'] = wanted['peer_netns']
        return entry

    def recreates(self, change: Any) -> bool:
        return self._must_recreate(change.before, change.after)

    # ---- writing --------------------------------------------------------
    def _require_peer_ns(self, entry: Dict[str, Any]) -> None:
        if entry['peer_netns'] is not None and not netns_exists(entry['peer_netns']):
            raise PodnetError('peer_netns: network namespace %r does not exist on this host' % entry['peer_netns'])

    def _set(self, nl: Netlink, ifname: str, entry: Dict[str, Any], prefix: str) -> None:
        """Bring link ``ifname`` in ``nl`` to the MTU, MAC and up state of ``entry`` (prefix '' or 'peer_')."""
        nl.forget_links()
        index = nl.ifindex(ifname)
        if index is None:
            raise PodnetError('%s %s does not exist in %s' % (prefix.rstrip('_') or 'name', ifname, nl.where))
        msg = nl.ipr.link('get', index=index)[0]
        have = _link_fields(msg)
        request = {}
        if entry.get(prefix + 'mtu') is not None and have['mtu'] != entry[prefix + 'mtu']:
            request['mtu'] = entry[prefix + 'mtu']
        if entry.get(prefix + 'mac') is not None and have['mac'] != entry[prefix + 'mac']:
            request['address'] = entry[prefix + 'mac']
        if have['up'] != entry[prefix + 'up']:
            request['state'] = 'up' if entry[prefix + 'up'] else 'down'
        if not prefix and entry.get('master') is not None:
            master = nl.ifindex(entry['master'])
            if master is None:
                raise PodnetError('master: bridge %r does not exist in %s (create it first: openkube.podnet.bridge)'
                                  % (entry['master'], nl.where))
            if msg.get_attr('IFLA_MASTER') != master:
                request['master'] = master
        if request:
            nl.call('set %s %s' % (ifname, ' '.join('%s %s' % kv for kv in sorted(request.items()))),
                    'link', 'set', index=index, **request)

    def _set_both(self, entry: Dict[str, Any]) -> None:
        self._set(self.nl, entry['name'], entry, '')
        if entry['peer_netns'] is None:
            self._set(self.nl, entry['peer'], entry, 'peer_')
        else:
            with _open_ns(entry['peer_netns']) as pnl:
                self._set(pnl, entry['peer'], entry, 'peer_')

    def _peer_free(self, entry: Dict[str, Any]) -> None:
        """Fail unless the peer's name is free where the peer goes."""
        where = entry['peer_netns']
        with (_open_ns(where) if where else _Borrowed(self.nl)) as pnl:
            if pnl.ifindex(entry['peer']) is not None:
                raise PodnetError('peer: %r already exists in %s and is not the peer of %s'
                                  % (entry['peer'], pnl.where, entry['name']))

    def add(self, entry: Dict[str, Any]) -> None:
        self._require_peer_ns(entry)
        self._peer_free(entry)
        peer = dict(ifname=entry['peer'])
        if entry['peer_netns'] is not None:
            peer['net_ns_fd'] = entry['peer_netns']
        self.nl.call('add veth %s' % self.describe(entry), 'link', 'add',
                     ifname=entry['name'], kind='veth', peer=peer)
        self._set_both(entry)

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        if 'peer_netns' in fields:
            self._require_peer_ns(wanted)
            self._peer_free(wanted)
            source = current['peer_netns']
            # None as a destination: the namespace of name (the target's netns, or the module's own)
            dest = wanted['peer_netns'] or self.params.get('netns') or '/proc/self/ns/net'
            with (_open_ns(source) if source else _Borrowed(self.nl)) as snl:
                index = snl.ifindex(current['peer'])
                snl.call('move %s into %s' % (current['peer'], dest), 'link', 'set', index=index, net_ns_fd=dest)
        self._set_both(wanted)

    def delete(self, entry: Dict[str, Any]) -> None:
        self.nl.forget_links()
        index = self.nl.ifindex(entry['name'])
        if index is not None:
            self.nl.call('delete %s' % entry['name'], 'link', 'del', index=index)
        self.nl.forget_links()

    def describe(self, entry: Dict[str, Any]) -> str:
        if entry.get('kind') not in (None, 'veth'):
            return '%s (a %s device, not a veth)' % (entry['name'], entry['kind'])
        text = [entry['name']]
        if entry.get('peer'):
            text.append('peer %s' % entry['peer'])
        if entry.get('peer_netns'):
            text.append('in %s' % entry['peer_netns'])
        if entry.get('master'):
            text.append('master %s' % entry['master'])
        return ' '.join(text)


class _Borrowed(object):
    """An already open Netlink used in a ``with`` block without closing it."""

    def __init__(self, nl: Netlink) -> None:
        self.nl = nl

    def __enter__(self) -> Netlink:
        return self.nl

    def __exit__(self, *exc: Any) -> Literal[False]:
        return False
