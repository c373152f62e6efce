# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routes: a table of entries keyed by (table, destination, metric).

Every route written here carries the route protocol number ``ROUTE_PROTO``
(57, shown by ``ip route`` as ``proto 57``). Only routes with that number are
owned: ``purge`` and ``state=absent`` never delete any other route, and a
wanted route whose key is taken by a route of another protocol is an error,
not an overwrite.
"""

from __future__ import annotations

import socket
from typing import Any, Dict, List, Set, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource

RTN_UNICAST = 1
RTNH_F_ONLINK = 4
IP6_RT_PRIO_USER = 1024  # the metric the kernel gives an IPv6 route added with none
SCOPES = {'universe': 0, 'site': 200, 'link': 253, 'host': 254}
SCOPE_NAMES = dict((num, name) for name, num in SCOPES.items())
TABLE_NAMES = {254: 'main', 255: 'local', 253: 'default'}

ROUTE_OPTIONS = dict(
    dst=dict(type='str', required=True),
    via=dict(type='str'),
    dev=dict(type='str'),
    onlink=dict(type='bool', default=False),
    metric=dict(type='int', default=0),
    table=dict(type='raw', default='main'),
    scope=dict(type='str', choices=list(SCOPES)),
)

ARGSPEC = dict(
    COMMON_ARGSPEC,
    routes=dict(type='list', elements='dict', default=[], options=ROUTE_OPTIONS),
    purge=dict(type='bool', default=False),
)


def normalise(name: str, route: Dict[str, Any]) -> Dict[str, Any]:
    """A validated, normalised route entry from user input (raises ValidationError)."""
    dst = v.route_dst(name + '.dst', route['dst'])
    via = v.optional(v.ip_address, name + '.via', route.get('via'))
    if via is not None and via.version != dst.version:
        raise v.ValidationError('%s.via: %r is IPv%d but dst %s is IPv%d'
                                % (name, route.get('via'), via.version, dst, dst.version))
    dev = v.optional(v.ifname, name + '.dev', route.get('dev'))
    if via is None and dev is None:
        raise v.ValidationError('%s: route to %s needs a via, a dev or both' % (name, dst))
    if route.get('onlink') and (via is None or dev is None):
        raise v.ValidationError('%s.onlink: an onlink route to %s needs both via and dev' % (name, dst))
    scope = route.get('scope') or ('universe' if via is not None else 'link')
    metric = v.metric(name + '.metric', route.get('metric') or 0)
    if dst.version == 6:
        # The kernel keeps every IPv6 route at scope universe and gives metric 0 its default 1024:
        # compare with what it will report, or every run would see a difference.
        if route.get('scope') not in (None, 'universe'):
            raise v.ValidationError('%s.scope: %r is not possible for IPv6 route %s (IPv6 routes have no scope)'
                                    % (name, route.get('scope'), dst))
        scope = 'universe'
        metric = metric or IP6_RT_PRIO_USER
    return dict(
        dst=str(dst),
        via=str(via) if via is not None else None,
        dev=dev,
        onlink=bool(route.get('onlink')),
        metric=metric,
        table=v.table(name + '.table', route.get('table') if route.get('table') is not None else 'main'),
        scope=scope,
        proto=v.ROUTE_PROTO,
    )


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    routes = [normalise('routes[%d]' % i, r) for i, r in enumerate(params['routes'] or [])]
    seen: Dict[Tuple[int, str, int], int] = {}
    for i, r in enumerate(routes):
        key = (r['table'], r['dst'], r['metric'])
        if key in seen:
            raise v.ValidationError('routes[%d].dst: %r is listed twice (also routes[%d]) with table %s and metric %s'
                                    % (i, r['dst'], seen[key], r['table'], r['metric']))
        seen[key] = i
    return routes


class RouteTable(Resource):
    result_key = 'routes'
    compared = ('via', 'dev', 'onlink', 'scope')

    def tables(self) -> Set[int]:
        return set(r['table'] for r in self.wanted) or set([254])

    def read(self) -> List[Dict[str, Any]]:
        tables = self.tables()
        entries = []
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg in self.nl.call('dump routes', 'route', 'dump', family=family):
                table = msg.get_attr('RTA_TABLE') or msg['table']
                if msg['type'] != RTN_UNICAST or table not in tables or msg.get_attr('RTA_MULTIPATH'):
                    continue
                dst = msg.get_attr('RTA_DST')
                if dst is None:
                    dst = '0.0.0.0' if family == socket.AF_INET else '::'
                oif = msg.get_attr('RTA_OIF')
                gateway = msg.get_attr('RTA_GATEWAY')
                entries.append(dict(
                    dst='%s/%d' % (dst, msg['dst_len']),
                    via=gateway,
                    dev=self.nl.ifname(oif) if oif else None,
                    onlink=bool(msg['flags'] & RTNH_F_ONLINK),
                    metric=msg.get_attr('RTA_PRIORITY') or 0,
                    table=table,
                    scope=SCOPE_NAMES.get(msg['scope'], str(msg['scope'])),
                    proto=msg['proto'],
                ))
        return entries

    def key(self, entry: Dict[str, Any]) -> Tuple[int, str, int]:
        return (entry['table'], entry['dst'], entry['metric'])

    def owned(self, entry: Dict[str, Any]) -> bool:
        return entry.get('proto') == v.ROUTE_PROTO

    def _request(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        request = dict(dst=entry['dst'], table=entry['table'], proto=v.ROUTE_PROTO,
                       scope=SCOPES.get(entry['scope'], 0), type=RTN_UNICAST)
        if entry['metric']:
            request['priority'] = entry['metric']
        if entry['via']:
            request['gateway'] = entry['via']
        if entry['dev']:
            index = self.nl.ifindex(entry['dev'])
            if index is None:
                raise PodnetError('route to %s: device %s does not exist in %s'
                                  % (entry['dst'], entry['dev'], self.nl.where))
            request['oif'] = index
        if entry['onlink']:
            request['flags'] = RTNH_F_ONLINK
        return request

    def apply(self, changes: List[Any]) -> None:
        # Every device must exist before the first write, so that a missing one changes nothing.
        for change in changes:
            if change.op != 'delete' and change.after.get('dev'):
                self._request(change.after)
        super(RouteTable, self).apply(changes)

    def add(self, entry: Dict[str, Any]) -> None:
        self.nl.call('add route %s' % self.describe(entry), 'route', 'add', **self._request(entry))

    def recreates(self, change: Any) -> bool:
        # The kernel checks an IPv6 onlink gateway against the routes in place, the one being replaced included:
        # host-gw's fd00:10:244:11::/64 via the peer's node IP on eth0 cannot be replaced by vxlan's route via
        # fd00:10:244:11:: onlink on the vxlan device ("Nexthop has invalid gateway or device mismatch", EINVAL),
        # since the old route covers that gateway through another device. Deleted first, the new one is accepted.
        if ':' in change.after['dst'] and change.after['onlink'] and {'dev', 'via'} & set(change.fields):
            return True
        return super(RouteTable, self).recreates(change)

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        self.nl.call('replace route %s' % self.describe(wanted), 'route', 'replace', **self._request(wanted))

    def delete(self, entry: Dict[str, Any]) -> None:
        # The scope must match too: pyroute2's default (universe) would miss a link-scope route (ESRCH).
        scope = SCOPES[entry['scope']] if entry['scope'] in SCOPES else int(entry['scope'])
        request = dict(dst=entry['dst'], table=entry['table'], proto=entry['proto'], scope=scope)
        if entry['metric']:
            request['priority'] = entry['metric']
        self.nl.call('delete route %s' % self.describe(entry), 'route', 'del', **request)

    def describe(self, entry: Dict[str, Any]) -> str:
        dst = entry['dst']
        if dst in ('0.0.0.0/0', '::/0'):
            dst = 'default'
        text = [dst]
        if entry.get('via'):
            text.append('via %s' % entry['via'])
        if entry.get('dev'):
            text.append('dev %s' % entry['dev'])
        if entry.get('table', 254) != 254:
            text.append('table %s' % TABLE_NAMES.get(entry['table'], entry['table']))
        if entry.get('metric'):
            text.append('metric %s' % entry['metric'])
        if entry.get('scope') not in (None, 'universe') and not (entry.get('scope') == 'link' and not entry.get('via')):
            text.append('scope %s' % entry['scope'])
        if entry.get('proto') not in (None, v.ROUTE_PROTO):
            text.append('proto %s' % entry['proto'])
        if entry.get('onlink'):
            text.append('onlink')
        return ' '.join(text)
