# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own kernel ip sets (type ``hash:net``), keyed by name, through netlink.

A set is a list of IPv4 or IPv6 prefixes that one iptables rule matches with
``-m set --match-set NAME src`` at a cost that does not grow with the number of
members (a hash lookup per prefix length in the set), where a chain of
``-s PREFIX`` rules is walked rule by rule. The encapsulation filter (PODNET-INPUT)
admits the peers' node IPs through such a set.

Owned sets are those whose name starts with ``podnet-``: purge and state absent
act on those only. Members change in place (add the new ones, then delete the
old ones): a rule that references the set never sees it missing nor a peer that
stays wanted left out. A set whose family or type differs is destroyed and
created again, which the kernel refuses while a rule references it.

Written with pyroute2's netlink ipset support (``pyroute2.ipset.IPSet``, the same
calls on 0.7 and 0.9), never with the ``ipset`` program, which most hosts do not have.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError, inside_netns
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Change, Resource

PREFIX = 'podnet-'
TYPE = 'hash:net'
MAX_NAME = 31  # IPSET_MAXNAMELEN 32, with the trailing NUL
FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
_FAMILY_NAMES = {4: 'inet', 6: 'inet6'}
#: the kernel's ipset error numbers (include/uapi/linux/netfilter/ipset/ip_set.h) that a message names
IPSET_ERR_PROTOCOL = 4097
IPSET_ERR_FIND_TYPE = 4098
IPSET_ERR_BUSY = 4100
#: where the kernel lists the iptables matches it has (xt_set registers ``set``), and the module lists of
#: /lib/modules/<release> (a module the kernel can load on first use)
IPTABLES_MATCHES = '/proc/net/ip_tables_matches'
MODULES_DIR = '/lib/modules'

SET_OPTIONS = dict(
    name=dict(type='str', required=True),
    family=dict(type='int', default=4, choices=[4, 6]),
    members=dict(type='list', elements='str', default=[]),
)

ARGSPEC = dict(
    COMMON_ARGSPEC,
    sets=dict(type='list', elements='dict', default=[], options=SET_OPTIONS),
    purge=dict(type='bool', default=False),
)


def _member_key(text: str) -> Tuple[int, int, int]:
    net = ipaddress.ip_network(text)
    return net.version, int(net.network_address), net.prefixlen


def sorted_members(members: Any) -> List[str]:
    return sorted(members, key=_member_key)


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    present = params['state'] == 'present'
    entries, seen = [], {}  # type: List[Dict[str, Any]], Dict[str, int]
    for i, item in enumerate(params.get('sets') or []):
        key = 'sets[%d]' % i
        name = item.get('name')
        if not isinstance(name, str) or not name.startswith(PREFIX) or len(name) > MAX_NAME or \
                not all(c.isalnum() or c in '-_.' for c in name[len(PREFIX):]) or name == PREFIX:
            raise v.ValidationError('%s.name: %r is not a set of the collection (%s followed by letters, digits, '
                                    '-, _ or ., at most %d characters)' % (key, name, PREFIX, MAX_NAME))
        if name in seen:
            raise v.ValidationError('%s.name: %r is given twice (also sets[%d])' % (key, name, seen[name]))
        seen[name] = i
        family = item.get('family') or 4
        if family not in FAMILIES:
            raise v.ValidationError('%s.family: %r is neither 4 (inet) nor 6 (inet6)' % (key, family))
        members, where = [], {}  # type: List[str], Dict[str, int]
        for j, member in enumerate(item.get('members') or []):
            what = '%s.members[%d]' % (key, j)
            net = v.ip_network(what, member, family)
            if net.prefixlen == 0:
                raise v.ValidationError('%s: %r: a hash:net set holds prefixes of length 1 to %d, not /0'
                                        % (what, member, net.max_prefixlen))
            text = str(net)
            if text in where:
                raise v.ValidationError('%s: %r is listed twice (also members[%d])' % (what, member, where[text]))
            where[text] = j
            members.append(text)
        entry = dict(name=name, family=family, type=TYPE, members=sorted_members(members))
        if not present:
            entry['members'] = None
        entries.append(entry)
    return entries


def _error_text(exc: BaseException) -> str:
    code = getattr(exc, 'code', 0)
    args = getattr(exc, 'args', ())
    if len(args) > 1 and args[1]:
        return '%s (errno %s)' % (args[1], code)
    return '%s (errno %s)' % (os.strerror(code) if code and code < 4096 else str(exc), code)


def open_ipset(netns: Optional[str] = None) -> Any:
    """A netlink ipset socket in namespace ``netns`` (None: this thread's own); PodnetError when the kernel has no
    ip set support (module ip_set) or pyroute2 lacks it."""
    try:
        from pyroute2.ipset import IPSet
    except ImportError as exc:  # pragma: no cover - every supported pyroute2 has it
        raise PodnetError('pyroute2 has no ipset support here (%s)' % exc)
    with inside_netns(netns):
        try:
            return IPSet()
        except Exception as exc:  # NetlinkError, OSError: no nfnetlink, no ip_set
            raise PodnetError('this kernel has no ip set support (module ip_set): opening the netlink ipset '
                              'socket failed: %s' % _error_text(exc))


def missing_support(netns: Optional[str] = None) -> str:
    """Why the kernel cannot run the encapsulation filter's set (ip_set, the hash:net type, the iptables match
    ``set`` of xt_set), or '' when it can. Reads only: asking for the type's revisions loads
    ip_set_hash_net where the kernel loads modules on demand, as creating a set would."""
    try:
        ips = open_ipset(netns)
    except PodnetError as exc:
        return str(exc)
    try:
        ips.get_supported_revisions(TYPE)
    except Exception as exc:
        return 'this kernel has no ip set type %s (module ip_set_hash_net): %s' % (TYPE, _error_text(exc))
    finally:
        ips.close()
    if not xt_set_available():
        return 'this kernel has no iptables match set (module xt_set)'
    return ''


def xt_set_available(release: Optional[str] = None) -> bool:
    """Is the iptables match ``set`` registered (built in, or loaded), or a module the kernel can load?"""
    try:
        with open(IPTABLES_MATCHES) as handle:
            if 'set' in handle.read().split():
                return True
    except OSError:
        pass
    base = os.path.join(MODULES_DIR, release or os.uname()[2])
    for listing in ('modules.dep', 'modules.builtin'):
        try:
            with open(os.path.join(base, listing)) as handle:
                for line in handle:
                    path = line.split(':')[0].strip()
                    if path.endswith('/xt_set.ko') or '/xt_set.ko.' in path:  # also compressed: xt_set.ko.xz
                        return True
        except OSError:
            continue
    return False


class IpSets(Resource):
    result_key = 'sets'
    compared = ('members',)
    immutable = ('family', 'type')

    def __init__(self, nl: Any, params: Dict[str, Any], wanted: List[Dict[str, Any]]) -> None:
        super().__init__(nl, params, wanted)
        self._ips: Any = None

    def _socket(self) -> Any:
        if self._ips is None:
            self._ips = open_ipset(self.params.get('netns'))
        return self._ips

    def _close(self) -> None:
        if self._ips is not None:
            self._ips.close()
            self._ips = None

    def _call(self, action: str, method: str, *args: Any, **kwargs: Any) -> Any:
        from pyroute2.netlink.exceptions import NetlinkError
        try:
            return getattr(self._socket(), method)(*args, **kwargs)
        except NetlinkError as exc:
            if getattr(exc, 'code', 0) == IPSET_ERR_BUSY:
                raise PodnetError('%s failed in %s: the set is in use by a firewall rule (-m set --match-set), which '
                                  'must go first (errno %s)' % (action, self.nl.where, IPSET_ERR_BUSY))
            raise PodnetError('%s failed in %s: %s' % (action, self.nl.where, _error_text(exc)))

    def read(self) -> List[Dict[str, Any]]:
        try:
            self._socket()
        except PodnetError:
            if any(e['members'] is not None for e in self.wanted) and self.params.get('state') != 'absent':
                raise
            return []  # nothing to remove where the kernel cannot hold a set
        try:
            found = {}  # type: Dict[str, Dict[str, Any]]
            # one message per set, or several for a large one (the dump goes on where a message is full)
            for msg in self._call('list the ip sets', 'list'):
                name = msg.get_attr('IPSET_ATTR_SETNAME')
                family = 6 if msg.get_attr('IPSET_ATTR_FAMILY') == socket.AF_INET6 else 4
                entry = found.setdefault(name, dict(name=name, family=family, type=msg.get_attr('IPSET_ATTR_TYPENAME'),
                                                    members=[]))
                adt = msg.get_attr('IPSET_ATTR_ADT')
                for data in (adt.get_attrs('IPSET_ATTR_DATA') if adt is not None else []):
                    address = data.get_attr('IPSET_ATTR_IP_FROM')
                    if address is None:
                        continue
                    ip = address.get_attr('IPSET_ATTR_IPADDR_IPV4') or address.get_attr('IPSET_ATTR_IPADDR_IPV6')
                    cidr = data.get_attr('IPSET_ATTR_CIDR')
                    if cidr is None:
                        cidr = 32 if family == 4 else 128
                    entry['members'].append(str(ipaddress.ip_network('%s/%s' % (ip, cidr), strict=False)))
            for entry in found.values():
                entry['members'] = sorted_members(entry['members'])
            return list(found.values())
        finally:
            if self.check_mode:
                self._close()

    def key(self, entry: Dict[str, Any]) -> str:
        return entry['name']

    def owned(self, entry: Dict[str, Any]) -> bool:
        return entry['name'].startswith(PREFIX)

    def differences(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
        fields = super().differences(current, wanted)
        for field in self.immutable:
            if current.get(field) != wanted[field]:
                fields[field] = (current.get(field), wanted[field])
        return fields

    def apply(self, changes: List[Change]) -> None:
        try:
            super().apply(changes)
        finally:
            self._close()

    def tidy(self) -> None:
        self._close()

    def add(self, entry: Dict[str, Any]) -> None:
        family = FAMILIES[entry['family']]
        self._call('create set %s' % entry['name'], 'create', entry['name'], stype=TYPE, family=family)
        for member in entry['members'] or []:
            self._member('add', entry, member)

    def _member(self, command: str, entry: Dict[str, Any], member: str) -> None:
        # exclusive=False: adding a member that is there, or deleting one that is not, is no error
        self._call('%s %s %s set %s' % (command, member, 'to' if command == 'add' else 'from', entry['name']),
                   command, entry['name'], member, family=FAMILIES[entry['family']], exclusive=False, etype='net')

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        # the new members first, then the old ones out: a peer wanted before and after is never left out
        have, want = set(current['members']), set(wanted['members'])
        for member in sorted_members(want - have):
            self._member('add', wanted, member)
        for member in sorted_members(have - want):
            self._member('delete', wanted, member)

    def delete(self, entry: Dict[str, Any]) -> None:
        self._call('destroy set %s' % entry['name'], 'destroy', entry['name'])

    def describe(self, entry: Dict[str, Any]) -> str:
        members = entry.get('members') or []
        return 'set %s %s family %s [%s]' % (entry['name'], entry.get('type') or TYPE,
                                             _FAMILY_NAMES.get(entry.get('family'), entry.get('family')),
                                             ', '.join(members))

    def action_text(self, change: Change) -> str:
        if change.op != 'update' or self.recreates(change):
            return super().action_text(change)
        have, want = set(change.before['members']), set(change.after['members'])
        parts = []
        if want - have:
            parts.append('add %s' % ', '.join(sorted_members(want - have)))
        if have - want:
            parts.append('delete %s' % ', '.join(sorted_members(have - want)))
        return 'update set %s: %s' % (change.after['name'], '; '.join(parts))
