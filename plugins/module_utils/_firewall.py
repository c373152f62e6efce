# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own iptables chains, in the filter table (accept, drop) and the nat table (masquerade).

Entries are of two kinds, both owned by name (chains whose name starts with
``PODNET-``), each in a table (``filter`` unless told):

* ``chain``: a user-defined chain and its rules, in the order given, written as
  ``iptables-save`` prints them (``-s 192.168.10.0/24 -j ACCEPT``);
* ``jump``: one rule ``-j <chain>`` at the top of a built-in chain of that table (filter: ``INPUT``,
  ``FORWARD``, ``OUTPUT``; nat: ``PREROUTING``, ``OUTPUT``, ``POSTROUTING``) that sends packets through the chain.

Why iptables and not nft or netlink: netfilter rules are not netlink objects
that pyroute2 manages, and the accept rules only help when they sit in the very
chain whose policy drops. ``iptables -P FORWARD DROP`` (as Docker leaves it)
sets the policy of the FORWARD chain of whichever iptables backend the host
uses (nf_tables through iptables-nft, or legacy xtables); under nftables an
accept in another table does not override a drop in that chain. So the
collection writes its rules with that host's ``iptables-restore`` into that
same chain, in one atomic transaction (``--noflush``: every other rule and
chain of the table stays as it is), and reads them back with ``iptables-save``.

A chain whose rules differ is rewritten whole (declaring it in the restore
input flushes it); purge removes owned chains and jumps that are not wanted;
state ``absent`` removes the given ones. The policy of a built-in chain is
never changed.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError, find_program, run_program
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Change, Resource

PREFIX = 'PODNET-'
#: the built-in chains of each table a chain of the collection can be jumped to from
TABLES = {'filter': ('INPUT', 'FORWARD', 'OUTPUT'), 'nat': ('PREROUTING', 'OUTPUT', 'POSTROUTING')}
HOOKS = ('INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING')
TABLE = 'filter'  # the default table
_CHAIN_RE = re.compile(r'^PODNET-[A-Z0-9_-]{1,21}$')
# iptables-save prints protocol numbers by their /etc/protocols name
_PROTO_NAMES = {'ipencap': '4', 'ipip': '4', 'udp': 'udp', 'tcp': 'tcp', 'icmp': 'icmp'}

ARGSPEC = dict(
    COMMON_ARGSPEC,
    chains=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        table=dict(type='str', default=TABLE, choices=list(TABLES)),
        hook=dict(type='str', required=True, choices=list(HOOKS)),
        rules=dict(type='list', elements='str', default=[]),
        family=dict(type='int', default=4, choices=[4, 6]),
    )),
    purge=dict(type='bool', default=False),
    iptables=dict(type='str', default='iptables'),
)


def normalise_rule(rule: Any) -> str:
    """One rule as compared: whitespace collapsed, protocol 4 by number, and the protocol before the first match
    module, where iptables-save prints it (``-m set --match-set podnet-peers src -p udp -m udp --dport 8472`` is read
    back as ``-p udp -m set --match-set podnet-peers src -m udp --dport 8472``, with the nf_tables and legacy backends
    alike)."""
    words = str(rule).split()
    for i, word in enumerate(words[:-1]):
        if word in ('-p', '--protocol'):
            words[i] = '-p'
            words[i + 1] = _PROTO_NAMES.get(words[i + 1].lower(), words[i + 1])
            first_match = words.index('-m') if '-m' in words else i
            if first_match < i and (i < 1 or words[i - 1] != '!'):
                words[first_match:first_match] = words[i:i + 2]
                del words[i + 2:i + 4]
            break
    return ' '.join(words)


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    entries, seen = [], set()
    for i, chain in enumerate(params.get('chains') or []):
        key = 'chains[%d]' % i
        name = chain.get('name')
        if not isinstance(name, str) or not _CHAIN_RE.match(name):
            raise v.ValidationError('%s.name: %r is not a chain of the collection (PODNET- and up to 21 '
                                    'capitals, digits, _ or -)' % (key, name))
        table = chain.get('table') or TABLE
        if table not in TABLES:
            raise v.ValidationError('%s.table: %r is not one of %s' % (key, table, ', '.join(TABLES)))
        family = chain.get('family') or 4
        if family not in (4, 6):
            raise v.ValidationError('%s.family: %r is neither 4 (iptables) nor 6 (ip6tables)' % (key, family))
        if (family, table, name) in seen:
            six = ' (IPv6)' if family == 6 else ''
            raise v.ValidationError('%s.name: %r is given twice in table %s%s' % (key, name, table, six))
        seen.add((family, table, name))
        hook = chain.get('hook')
        if hook not in TABLES[table]:
            raise v.ValidationError('%s.hook: %r is not a built-in chain of table %s: one of %s'
                                    % (key, hook, table, ', '.join(TABLES[table])))
        rules = []
        for j, rule in enumerate(chain.get('rules') or []):
            text = normalise_rule(rule)
            if not text.startswith('-') or re.search(r'(^|\s)-(A|I|D|F|X|N|P|t)(\s|$)', text):
                raise v.ValidationError('%s.rules[%d]: %r is not a rule body (give the match and the target, '
                                        'as iptables-save prints them after -A CHAIN: "-s 10.0.0.0/8 -j ACCEPT")'
                                        % (key, j, rule))
            rules.append(text)
        six = {'family': 6} if family == 6 else {}  # IPv4 entries carry no family: 4 is the default
        entries.append(dict(kind='chain', table=table, name=name, rules=rules, **six))
        entries.append(dict(kind='jump', table=table, name='%s -> %s' % (hook, name), chain=hook, target=name, **six))
    return entries


def ip6_variant(base: str) -> str:
    """The ip6tables command of the same backend as the iptables command ``base``: iptables-legacy gives
    ip6tables-legacy, /usr/sbin/iptables-nft gives /usr/sbin/ip6tables-nft."""
    head, tail = os.path.split(base)
    return os.path.join(head, 'ip6' + tail[2:]) if tail.startswith('iptables') else base


def _binary(params: Dict[str, Any], suffix: str, family: int = 4) -> str:
    base = params.get('iptables') or 'iptables'
    name = (ip6_variant(base) if family == 6 else base) + suffix
    path = name if os.path.isabs(name) else find_program(name)
    if path is None:
        raise PodnetError('%s was not found on this host (install iptables: the package provides '
                          'iptables-save and iptables-restore)' % name)
    return path


def parse_save(text: str, family: int = 4) -> List[Dict[str, Any]]:
    """Owned chains and jumps to them, in every table of ``iptables-save`` output (``ip6tables-save`` with
    ``family=6``) that the collection uses."""
    chains = {}  # type: Dict[Tuple[str, str], List[str]]
    jumps = []  # type: List[Dict[str, Any]]
    table = None  # type: Optional[str]
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('*'):
            table = line[1:] if line[1:] in TABLES else None
            continue
        if table is None or not line or line.startswith('#'):
            continue
        if line == 'COMMIT':
            table = None
        elif line.startswith(':'):
            name = line[1:].split()[0]
            if name.startswith(PREFIX):
                chains.setdefault((table, name), [])
        elif line.startswith('-A '):
            parts = line.split(None, 2)
            chain, rest = parts[1], parts[2] if len(parts) > 2 else ''
            if chain.startswith(PREFIX):
                chains.setdefault((table, chain), []).append(normalise_rule(rest))
            else:
                words = rest.split()
                if words[:1] == ['-j'] and len(words) == 2 and words[1].startswith(PREFIX):
                    jumps.append(dict(kind='jump', table=table, name='%s -> %s' % (chain, words[1]), chain=chain,
                                      target=words[1]))
    six = {'family': 6} if family == 6 else {}
    return [dict(kind='chain', table=t, name=n, rules=r, **six) for (t, n), r in sorted(chains.items())] + \
        [dict(j, **six) for j in jumps]


class Firewall(Resource):
    result_key = 'entries'
    compared = ('rules',)

    def _run(self, suffix: str, args: Sequence[str], input_text: Optional[str] = None, family: int = 4) -> str:
        return run_program([_binary(self.params, suffix, family)] + list(args), self.params.get('netns'), input_text)

    def read(self) -> List[Dict[str, Any]]:
        # every table in use: one call per family, and a table never used (nat on a host without masquerade) is
        # not loaded just to be read. ip6tables is read when IPv6 chains are wanted, and otherwise where it is
        # installed (so that purge removes the IPv6 chains of a dual-stack cluster that went back to IPv4 only).
        entries = parse_save(self._run('-save', []))
        try:
            entries += parse_save(self._run('-save', [], family=6), family=6)
        except PodnetError:
            if any(e.get('family') == 6 for e in self.wanted):
                raise
        return entries

    def key(self, entry: Dict[str, Any]) -> Tuple[int, str, str, str]:
        return (entry.get('family', 4), entry.get('table', TABLE), entry['kind'], entry['name'])

    def owned(self, entry: Dict[str, Any]) -> bool:
        return (entry['target'] if entry['kind'] == 'jump' else entry['name']).startswith(PREFIX)

    def describe(self, entry: Dict[str, Any]) -> str:
        six = 'ip6 ' if entry.get('family') == 6 else ''
        if entry['kind'] == 'jump':
            return '%sjump %s -A %s -j %s' % (six, entry.get('table', TABLE), entry['chain'], entry['target'])
        return '%schain %s %s [%s]' % (six, entry.get('table', TABLE), entry['name'], '; '.join(entry['rules']))

    def restore_input(self, changes: List[Change]) -> str:
        """One iptables-restore --noflush transaction for all the changes (of one family), table by table, each
        in a safe order: fill chains, then add jumps to them, then remove jumps, then remove the chains."""
        tables = {}  # type: Dict[str, Tuple[List[str], List[str], List[str], List[str]]]
        for change in changes:
            entry = change.before if change.op == 'delete' else change.after
            fill, add_jumps, del_jumps, del_chains = tables.setdefault(entry.get('table', TABLE), ([], [], [], []))
            if entry['kind'] == 'chain':
                if change.op == 'delete':
                    del_chains += ['-F %s' % entry['name'], '-X %s' % entry['name']]
                else:  # add or update: declaring a user chain creates it, or flushes it
                    fill += [':%s - [0:0]' % entry['name']] + ['-A %s %s' % (entry['name'], r) for r in entry['rules']]
            elif change.op == 'delete':
                del_jumps.append('-D %s -j %s' % (entry['chain'], entry['target']))
            else:
                add_jumps.append('-I %s 1 -j %s' % (entry['chain'], entry['target']))
        lines = []
        for table in sorted(tables):
            fill, add_jumps, del_jumps, del_chains = tables[table]
            lines += ['*' + table] + fill + add_jumps + del_jumps + del_chains + ['COMMIT']
        return '\n'.join(lines + [''])

    def apply(self, changes: List[Change]) -> None:
        for family in (4, 6):  # one transaction per family: iptables-restore, then ip6tables-restore
            mine = [c for c in changes if (c.before if c.op == 'delete' else c.after).get('family', 4) == family]
            if mine:
                self._run('-restore', ['-w', '--noflush'], self.restore_input(mine), family=family)

    def add(self, entry: Dict[str, Any]) -> None:  # pragma: no cover - apply() writes every change in one transaction
        self.apply([Change('add', after=entry)])

    def delete(self, entry: Dict[str, Any]) -> None:  # pragma: no cover
        self.apply([Change('delete', before=entry)])
