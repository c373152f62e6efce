# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's own nftables tables (named ``podnet``...), each converged whole: its sets of addresses and its
base chains, whose rules drop an encapsulation (UDP to a port, or IP-in-IP) from any source outside a set.

Why: the same filter as ``PODNET-INPUT``'s ``-m set`` rule costs half as much per packet as a native nftables set
lookup in a base chain of its own (no xtables match through nft's compatibility layer, no jump to a user chain):
3-5 % of the 64-byte UDP rate through vxlan against 7-8 % (docs/benchmarks/README.md, filter runs 7-9). A drop in
any base chain is final, so a table of the collection's own filters whatever other tables (iptables-nft's, a
host firewall's) accept.

Why the ``nft`` program and not netlink: pyroute2's nftables support reads tables but does not build rules with set
lookups; ``nft -j`` lists the kernel's state as JSON, and ``nft -f`` applies a script in one transaction. A table is
read with ``nft -j list table`` and compared as this module's own model (sets: their sorted elements; chains: hook,
priority, policy and the rules in a canonical text, ``udp dport 8472 ip saddr != @peers drop``); a rule this module
does not write reads back as ``unrecognised: <its JSON>``, so a table changed by hand differs and is rewritten.
A table that differs is replaced whole in one transaction (created if missing, deleted, defined again), so a packet
never meets a half-written filter.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError, find_program, run_program
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Change, Resource

FAMILIES = {'ip': 4, 'ip6': 6}
HOOKS = ('prerouting', 'input', 'forward', 'output', 'postrouting')
PROTOCOLS = ('udp', 'ipip')
VERDICTS = ('drop', 'accept')
_TABLE_RE = re.compile(r'^podnet[A-Za-z0-9_-]{0,26}$')
_NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_-]{0,30}$')
#: what nft prints for IP protocol 4 (from /etc/protocols) besides the number
_IPIP_NAMES = ('4', 'ipencap', 'ipip')

ARGSPEC = dict(
    COMMON_ARGSPEC,
    tables=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        family=dict(type='str', default='ip', choices=list(FAMILIES)),
        sets=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            elements=dict(type='list', elements='str', default=[]),
        )),
        chains=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            hook=dict(type='str', required=True, choices=list(HOOKS)),
            priority=dict(type='int', default=0),
            policy=dict(type='str', default='accept', choices=['accept', 'drop']),
            rules=dict(type='list', elements='dict', default=[], options=dict(
                protocol=dict(type='str', required=True, choices=list(PROTOCOLS)),
                dport=dict(type='int'),
                saddr_not_in=dict(type='str', required=True),
                verdict=dict(type='str', default='drop', choices=list(VERDICTS)),
            )),
        )),
    )),
    purge=dict(type='bool', default=False),
    nft=dict(type='str', default='nft'),
)


def rule_text(family: str, rule: Dict[str, Any]) -> str:
    """A rule as nft writes it and as this module compares it: the encapsulation's match, then the source outside
    the set, then the verdict."""
    match = 'udp dport %d' % rule['dport'] if rule['protocol'] == 'udp' else 'ip protocol 4'
    return '%s %s saddr != @%s %s' % (match, family, rule['saddr_not_in'], rule.get('verdict') or 'drop')


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    entries, seen = [], set()
    for i, table in enumerate(params.get('tables') or []):
        key = 'tables[%d]' % i
        name = table.get('name')
        if not isinstance(name, str) or not _TABLE_RE.match(name):
            raise v.ValidationError('%s.name: %r is not a table of the collection (podnet and up to 26 letters, digits, '
                                    '_ or -)' % (key, name))
        family = table.get('family') or 'ip'
        if family not in FAMILIES:
            raise v.ValidationError('%s.family: %r is not one of %s' % (key, family, ', '.join(FAMILIES)))
        if (family, name) in seen:
            raise v.ValidationError('%s.name: table %s %s is given twice' % (key, family, name))
        seen.add((family, name))
        sets = {}
        for j, entry in enumerate(table.get('sets') or []):
            set_name = _name('%s.sets[%d].name' % (key, j), entry.get('name'))
            addresses = [v.ip_address('%s.sets[%d].elements[%d]' % (key, j, k), a, FAMILIES[family])
                         for k, a in enumerate(entry.get('elements') or [])]
            sets[set_name] = [str(a) for a in sorted(set(addresses))]
        chains = {}
        for j, chain in enumerate(table.get('chains') or []):
            ckey = '%s.chains[%d]' % (key, j)
            chain_name = _name(ckey + '.name', chain.get('name'))
            if chain.get('hook') not in HOOKS:
                raise v.ValidationError('%s.hook: %r is not one of %s' % (ckey, chain.get('hook'), ', '.join(HOOKS)))
            rules = []
            for k, rule in enumerate(chain.get('rules') or []):
                rkey = '%s.rules[%d]' % (ckey, k)
                if rule.get('protocol') not in PROTOCOLS:
                    raise v.ValidationError('%s.protocol: %r is not one of %s' % (rkey, rule.get('protocol'), ', '.join(PROTOCOLS)))
                if rule['protocol'] == 'udp':
                    rule = dict(rule, dport=v.port(rkey + '.dport', rule.get('dport')))
                elif family != 'ip':
                    raise v.ValidationError('%s.protocol: ipip is IPv4 (the table is %s)' % (rkey, family))
                if rule.get('saddr_not_in') not in sets:
                    raise v.ValidationError('%s.saddr_not_in: %r is not a set of the table (%s)'
                                            % (rkey, rule.get('saddr_not_in'), ', '.join(sorted(sets)) or 'none'))
                rules.append(rule_text(family, rule))
            chains[chain_name] = dict(hook=chain['hook'], priority=int(chain.get('priority') or 0),
                                      policy=chain.get('policy') or 'accept', rules=rules)
        entries.append(dict(family=family, name=name, sets=sets, chains=chains))
    return entries


def _name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise v.ValidationError('%s: %r is not a name for nft (a letter, then up to 30 letters, digits, _ or -)' % (key, value))
    return value


def _canonical_rule(family: str, expr: Sequence[Any]) -> str:
    """The rule's canonical text (rule_text) from its ``nft -j`` expression, or ``unrecognised: <JSON>`` for a rule
    this module does not write."""
    words = []
    for item in expr:
        if not isinstance(item, dict) or len(item) != 1:
            break
        (kind, body), = item.items()
        if kind in VERDICTS and body is None:
            words.append(kind)
            continue
        if kind != 'match' or not isinstance(body, dict) or not isinstance(body.get('left'), dict):
            break
        payload = body['left'].get('payload') or {}
        proto, field, op, right = payload.get('protocol'), payload.get('field'), body.get('op'), body.get('right')
        if (proto, field, op) == ('udp', 'dport', '==') and isinstance(right, int):
            words.append('udp dport %d' % right)
        elif (proto, field, op) == ('ip', 'protocol', '==') and str(right) in _IPIP_NAMES:
            words.append('ip protocol 4')
        elif (proto, field, op) == (family, 'saddr', '!=') and isinstance(right, str) and right.startswith('@'):
            words.append('%s saddr != %s' % (family, right))
        else:
            break
    else:
        return ' '.join(words)
    return 'unrecognised: %s' % json.dumps(list(expr), sort_keys=True)


def parse_table(listing: Dict[str, Any]) -> Dict[str, Any]:
    """One table's entry from ``nft -j list table FAMILY NAME``."""
    items = [i for i in listing.get('nftables') or [] if isinstance(i, dict)]
    table = next(i['table'] for i in items if 'table' in i)
    family = table['family']
    entry = dict(family=family, name=table['name'], sets={}, chains={})
    for item in items:
        if 'set' in item:
            elements = []
            for element in item['set'].get('elem') or []:
                try:
                    elements.append(ipaddress.ip_address(element))
                except (TypeError, ValueError):
                    elements.append('unrecognised: %s' % json.dumps(element, sort_keys=True))
            entry['sets'][item['set']['name']] = [str(e) for e in sorted(
                elements, key=lambda e: (isinstance(e, str), str(e) if isinstance(e, str) else e.packed))]
        elif 'chain' in item:
            chain = item['chain']
            entry['chains'][chain['name']] = dict(hook=chain.get('hook'), priority=chain.get('prio'),
                                                  policy=chain.get('policy'), rules=[])
    for item in items:
        if 'rule' in item and item['rule'].get('chain') in entry['chains']:
            entry['chains'][item['rule']['chain']]['rules'].append(_canonical_rule(family, item['rule'].get('expr') or []))
    return entry


def script(changes: Sequence[Change]) -> str:
    """One ``nft -f`` transaction: every table added or changed is created if missing, deleted and defined again;
    every table deleted is deleted."""
    lines = []
    for change in changes:
        entry = change.before if change.op == 'delete' else change.after
        head = 'table %s %s' % (entry['family'], entry['name'])
        if change.op == 'delete':
            lines.append('delete ' + head)
            continue
        lines += [head, 'delete ' + head, head + ' {']
        for name, elements in sorted(entry['sets'].items()):
            lines += ['  set %s {' % name, '    type %s_addr' % ('ipv4' if entry['family'] == 'ip' else 'ipv6')]
            if elements:
                lines.append('    elements = { %s }' % ', '.join(elements))
            lines.append('  }')
        for name, chain in sorted(entry['chains'].items()):
            lines += ['  chain %s {' % name, '    type filter hook %s priority %d; policy %s;'
                      % (chain['hook'], chain['priority'], chain['policy'])]
            lines += ['    ' + rule for rule in chain['rules']]
            lines.append('  }')
        lines.append('}')
    return '\n'.join(lines + [''])


#: the table node_facts checks (nft --check) before the plan relies on nftables: never created
_PROBE_TABLE = 'podnetprobe'


def program(nft: str = 'nft') -> str:
    """The path of the nft program, or PodnetError saying how to get it."""
    binary = find_program(nft)
    if binary is None:
        raise PodnetError('%s was not found on this host (install nftables: the package provides nft)' % nft)
    return binary


def support(families: Sequence[str], netns: Optional[str] = None, nft: str = 'nft') -> Dict[str, Any]:
    """Can this host hold the collection's filter tables of ``families`` (ip, ip6)? ``found``: the nft program is
    there; ``missing``: why it cannot ('' when it can). The check is the kernel's own: one ``nft --check``
    transaction adds a table per family with a set of addresses and a base chain on the input hook whose rule looks
    the source up in it (for ip: UDP and IP-in-IP), which the kernel validates and discards (nothing is created).
    A kernel without nf_tables, or without its IPv4 or IPv6 family (User-Mode Linux's), refuses it."""
    try:
        binary = program(nft)
    except PodnetError as exc:
        return dict(found=False, missing=str(exc))
    udp = dict(protocol='udp', dport=v.VXLAN_DEFAULT_PORT, saddr_not_in='peers')
    ipip = dict(protocol='ipip', saddr_not_in='peers')
    probes = [dict(name=_PROBE_TABLE, family=family, sets=[dict(name='peers')],
                   chains=[dict(name='input', hook='input', rules=[udp, ipip] if family == 'ip' else [udp])])
              for family in families]
    changes = [Change('add', after=entry) for entry in wanted_from_params(dict(tables=probes))]
    if not changes:
        return dict(found=True, missing='')
    try:
        run_program([binary, '--check', '-f', '-'], netns, script(changes))
    except PodnetError as exc:
        lines = str(exc).split('\ninput was:', maxsplit=1)[0].splitlines()
        why = next((line.split('Error:', 1)[1].strip() for line in lines if 'Error:' in line), lines[0])
        return dict(found=True, missing='the kernel refuses an nftables filter table of family %s (%s)'
                    % (' and '.join(families), why))
    return dict(found=True, missing='')


class NfTables(Resource):
    result_key = 'tables'
    compared = ('sets', 'chains')

    def _run(self, args: Sequence[str], input_text: Optional[str] = None) -> str:
        return run_program([program(self.params.get('nft') or 'nft')] + list(args), self.params.get('netns'), input_text)

    def read(self) -> List[Dict[str, Any]]:
        # nothing wanted (purge, absent) on a host without nft or nf_tables: nothing of the collection's to remove
        try:
            listing = json.loads(self._run(['-j', 'list', 'tables']) or '{}')
        except (PodnetError, ValueError):
            if self.wanted:
                raise
            return []
        entries = []
        for item in listing.get('nftables') or []:
            table = item.get('table') if isinstance(item, dict) else None
            if table and table.get('family') in FAMILIES and self.owned(table):
                entries.append(parse_table(json.loads(self._run(['-j', 'list', 'table', table['family'], table['name']]))))
        return entries

    def key(self, entry: Dict[str, Any]) -> Tuple[str, str]:
        return (entry['family'], entry['name'])

    def owned(self, entry: Dict[str, Any]) -> bool:
        return bool(_TABLE_RE.match(str(entry.get('name', ''))))

    def describe(self, entry: Dict[str, Any]) -> str:
        sets = ', '.join('set %s (%d elements)' % (n, len(e)) for n, e in sorted(entry['sets'].items()))
        chains = ', '.join('chain %s (hook %s, priority %s, policy %s) [%s]'
                           % (n, c['hook'], c['priority'], c['policy'], '; '.join(c['rules']))
                           for n, c in sorted(entry['chains'].items()))
        return 'table %s %s: %s' % (entry['family'], entry['name'], '; '.join(x for x in (sets, chains) if x) or 'empty')

    def apply(self, changes: List[Change]) -> None:
        if changes:
            self._run(['-f', '-'], script(changes))

    def add(self, entry: Dict[str, Any]) -> None:  # pragma: no cover - apply() writes every change in one transaction
        self.apply([Change('add', after=entry)])

    def delete(self, entry: Dict[str, Any]) -> None:  # pragma: no cover
        self.apply([Change('delete', before=entry)])
