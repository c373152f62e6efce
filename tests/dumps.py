# -*- coding: utf-8 -*-
"""The one dump of a lab host's kernel state that every suite compares (modes, lifecycle, hardening, the
second kernel's suites through ``python tests/integration/lifecycle/kit.py dump``).

Normalised dump
---------------
``dump(lab)`` reads every lab host with iproute2 (never with our own code) and returns
``{host: state}``; ``state`` has

    links    {ifname: `ip -j -d link` entry}
    addrs    {ifname: [addr_info entries]}
    routes   `ip -j -4 route show table all` + `ip -j -6 route show table all`
    neigh    `ip -j neigh show nud permanent`
    fdb      `bridge -j fdb show`
    netns    the host's named network namespaces (`ip netns list`)
    sysctl   {net.ipv4.ip_forward: value, net.ipv4.conf.DEV.rp_filter: value, ..., net.ipv6.conf.all.forwarding}
    iptables {table: `iptables-save` lines of that table} (see iptables())
    ip6tables the same of `ip6tables-save`
    ipsets   the kernel's ip sets, one line each: `set NAME FAMILY MEMBER...` (tests/ipsets.py: pyroute2's own IPSet,
             run in the host; there is no `ipset` program)
    tc       {dev: [ingress filter]} of the devices with a clsact qdisc: the eBPF filter's name, flags and map keys
             (tc_filters())
    nftables {'FAMILY NAME': {sets: {name: sorted elements}, chains: {name: {hook, prio, policy, rules}}}} of every
             nftables table named podnet* (`nft -j list table`; iptables-nft's own tables are in iptables above),
             the rules as nft's JSON expressions
    pods     {netns: {links, addrs, routes, neigh}} for every named namespace of the host

Normalisation, so that two labs (or one lab before and after a change) that hold the same
network state compare equal:

* dropped everywhere: ``ifindex``, ``link_index``, ``link_netnsid`` (numbers the kernel hands
  out in creation order), ``stats``/``stats64`` (counters), address lifetimes
  (``valid_life_time``, ``preferred_life_time``), IPv6 DAD progress (``tentative``,
  ``optimistic``, ``dadfailed``) and a bridge's running timers (``gc_timer``, a port's
  ``forward_delay_timer``: every ``*_timer``);
* MAC addresses the kernel picks at random (veth pairs, the lab's eth0 — every device whose kind
  is not vxlan or ipip) are replaced by ``<mac:IFNAME>``, and what derives from them as well:
  the EUI-64 IPv6 link-local address (``<ll:IFNAME>``) and the solicited-node multicast FDB
  entry (``33:33:ff:<IFNAME>``). The vxlan device's MAC is kept literally: it is the
  collection's stable VTEP MAC, which peers hold in their neighbour and FDB entries, and a
  change of it is a defect the dumps must show;
* every list is sorted (creation order is not state).

Nothing else is dropped: kinds, MTUs, flags, operstate, vxlan/ipip parameters, addresses,
routes with protocol/scope/flags, permanent neighbours, FDB entries and ``ip_forward`` all
count. Non-permanent neighbour entries (the ARP cache) are traffic, not configuration, and
are left out.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
import time

from lab import LabHost  # tests/lab.py

VOLATILE = frozenset(('ifindex', 'link_index', 'link_netnsid', 'stats', 'stats64', 'valid_life_time',
                      'preferred_life_time', 'tentative', 'optimistic', 'dadfailed'))
STABLE_MAC_KINDS = ('vxlan', 'ipip')
IPTABLES = os.environ.get('PODNET_TEST_IPTABLES', 'iptables')
IP6TABLES = 'ip6' + IPTABLES[2:]  # ip6tables-legacy beside iptables-legacy
IPSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ipsets.py')


def _eui64_ll(mac):
    octets = [int(x, 16) for x in mac.split(':')]
    octets[0] ^= 0x02
    interface_id = bytes(octets[:3] + [0xff, 0xfe] + octets[3:])
    # as iproute2 prints it: a MAC starting 02:00 gives fe80::d0ff:..., not fe80::0:d0ff:...
    return str(ipaddress.IPv6Address(b'\xfe\x80' + bytes(6) + interface_id))


def _masks(links):
    """{literal: placeholder} for the random MACs of one namespace and what derives from them."""
    masks = {}
    for link in links:
        kind = (link.get('linkinfo') or {}).get('info_kind')
        mac = link.get('address') or ''
        if kind in STABLE_MAC_KINDS or link.get('link_type') != 'ether' or mac.count(':') != 5:
            continue
        name = link['ifname']
        masks[mac] = '<mac:%s>' % name
        masks[_eui64_ll(mac)] = '<ll:%s>' % name
        masks['33:33:ff:' + mac[9:]] = '33:33:ff:<%s>' % name
    return masks


def _clean(value, masks):
    if isinstance(value, dict):
        return dict((k, _clean(v, masks)) for k, v in value.items() if k not in VOLATILE and not k.endswith('_timer'))
    if isinstance(value, list):
        return sorted((_clean(v, masks) for v in value), key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(value, str):
        return masks.get(value, value)
    return value


def _settled_addrs(ipj, wait=6.0):
    """`ip -j addr`, once no IPv6 address is tentative any more: the kernel adds an address's local
    route only after duplicate address detection, so a dump taken during DAD would differ."""
    deadline = time.monotonic() + wait
    while True:
        addrs = ipj('addr', 'show')
        if not any(a.get('tentative') for link in addrs for a in link.get('addr_info', [])):
            return addrs
        if time.monotonic() > deadline:
            return addrs
        time.sleep(0.2)


def _netns_state(ipj, with_fdb, bridgej=None):
    addrs = _settled_addrs(ipj)
    links = ipj('-d', 'link', 'show')
    masks = _masks(links)
    state = dict(
        links=dict((link['ifname'], _clean(link, masks)) for link in links),
        addrs=dict((a['ifname'], _clean(a.get('addr_info', []), masks)) for a in addrs),
        routes=_clean(ipj('-4', 'route', 'show', 'table', 'all') + ipj('-6', 'route', 'show', 'table', 'all'), masks),
        neigh=_clean(ipj('neigh', 'show', 'nud', 'permanent'), masks),
    )
    if with_fdb:
        state['fdb'] = _clean(bridgej('fdb', 'show'), masks)
    return state


def host_state(host):
    """The normalised state of one LabHost (see the module docstring)."""
    state = _netns_state(host.ipj, True, host.bridgej)
    state['netns'] = sorted(host.netns_list())
    state['sysctl'] = sysctls(host)
    state['iptables'] = iptables(host)
    state['ip6tables'] = iptables(host, IP6TABLES)
    state['ipsets'] = ip_sets(host)
    state['nftables'] = nft_tables(host)
    state['tc'] = tc_filters(host)
    pods = {}
    for ns in state['netns']:
        def ipj(*args, _ns=ns):
            out = host.ns_run(_ns, ['ip', '-j'] + list(args), check=True).stdout
            return json.loads(out) if out.strip() else []
        pods[ns] = _netns_state(ipj, False)
    state['pods'] = pods
    return state


def sysctls(host):
    """net.ipv4.ip_forward, every net.ipv4.conf.*.rp_filter and net.ipv6.conf.all.forwarding of the host."""
    out = host.run(['sh', '-c', 'cd /proc/sys/net && for f in ipv4/ip_forward ipv4/conf/*/rp_filter ipv6/conf/all/forwarding; do '
                    '[ -e "$f" ] && echo "$f $(cat "$f")"; done; true'], check=True).stdout
    return dict(('net.' + line.split()[0].replace('/', '.'), line.split()[1]) for line in out.splitlines())


def iptables(host, command=None):
    """`iptables-save` (or ``command``-save), table by table, in rule order: comments dropped, packet counters
    zeroed, and a table that holds nothing (only built-in chains, policy ACCEPT, no rule) left out: the kernel
    keeps an empty table once any rule was written, and it configures nothing."""
    proc = host.run([(command or IPTABLES) + '-save'])
    if proc.returncode != 0:
        return {'error': proc.stderr.strip()}
    tables, current = {}, None
    for line in proc.stdout.splitlines():
        if not line or line.startswith('#'):
            continue
        if line.startswith('*'):
            current = tables.setdefault(line[1:], [])
        elif line != 'COMMIT' and current is not None:
            if line.startswith(':'):
                line = re.sub(r'\[\d+:\d+\]$', '[0:0]', line)
            current.append(line)
    return dict((name, '\n'.join(lines)) for name, lines in tables.items()
                if any(not (ln.startswith(':') and ln.endswith(' ACCEPT [0:0]')) for ln in lines)
                or any(ln.split()[0][1:] not in BUILTIN_CHAINS for ln in lines if ln.startswith(':')))


def nft_tables(host):
    """The host's nftables tables named podnet* (see the module docstring), read with nft itself; {'error': ...} where
    nft cannot list tables."""
    proc = host.run(['nft', '-j', 'list', 'tables'])
    if proc.returncode != 0:
        return {'error': proc.stderr.strip()}
    tables = {}
    for item in json.loads(proc.stdout or '{}').get('nftables', []):
        table = item.get('table')
        if not table or not table['name'].startswith('podnet'):
            continue
        listing = json.loads(host.run(['nft', '-j', 'list', 'table', table['family'], table['name']], check=True).stdout)
        entry = tables['%s %s' % (table['family'], table['name'])] = dict(sets={}, chains={})
        for part in listing['nftables']:
            if 'set' in part:
                entry['sets'][part['set']['name']] = sorted(str(e) for e in part['set'].get('elem', []))
            elif 'chain' in part:
                chain = part['chain']
                entry['chains'][chain['name']] = dict(hook=chain.get('hook'), prio=chain.get('prio'),
                                                      policy=chain.get('policy'), rules=[])
        for part in listing['nftables']:
            if 'rule' in part:
                entry['chains'][part['rule']['chain']]['rules'].append(part['rule']['expr'])
    return tables


def tc_filters(host):
    """{dev: [ingress filter]} of the host's devices that have a clsact qdisc (`tc -j`), each filter as
    {kind, pref, name, direct_action, peers}: for a bpf filter, its program's map keys as dotted quads (bpftool, by
    the program's id; ids are volatile and left out). {} where no device has clsact."""
    proc = host.run(['tc', '-j', 'qdisc', 'show'])
    if proc.returncode != 0:
        return {'error': proc.stderr.strip()}
    devs = sorted(set(q['dev'] for q in json.loads(proc.stdout or '[]') if q.get('kind') == 'clsact'))
    found = {}
    for dev in devs:
        filters = []
        for item in json.loads(host.run(['tc', '-j', 'filter', 'show', 'dev', dev, 'ingress'], check=True).stdout or '[]'):
            options = item.get('options')
            if not options:
                continue
            entry = dict(kind=item.get('kind'), pref=item.get('pref'))
            if item.get('kind') == 'bpf':
                entry.update(name=options.get('bpf_name'), direct_action=bool(options.get('direct-action')),
                             peers=bpf_map_keys(host, (options.get('prog') or {}).get('id')))
            filters.append(entry)
        found[dev] = sorted(filters, key=lambda f: json.dumps(f, sort_keys=True))
    return found


def bpf_map_keys(host, prog_id):
    """The keys of the one map of program ``prog_id``, as bpftool dumps them (4-byte keys as dotted quads)."""
    if prog_id is None:
        return None
    prog = json.loads(host.run(['bpftool', '-j', 'prog', 'show', 'id', str(prog_id)], check=True).stdout)
    keys = []
    for map_id in prog.get('map_ids') or []:
        for item in json.loads(host.run(['bpftool', '-j', 'map', 'dump', 'id', str(map_id)], check=True).stdout or '[]'):
            raw = item['formatted']['key'] if 'formatted' in item else item.get('key')
            keys.append('.'.join(str(int(b, 16)) for b in raw) if isinstance(raw, list) else str(raw))
    return sorted(keys, key=lambda a: [int(x) if x.isdigit() else x for x in a.split('.')])


def ip_sets(host):
    """The host's ip sets, 'set NAME FAMILY MEMBER...' each, sorted (tests/ipsets.py, a process of its own)."""
    return host.run([sys.executable, IPSETS], check=True).stdout.splitlines()


BUILTIN_CHAINS = ('INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING')


def dump(lab_or_name, hosts=None):
    """{host: normalised state} of every host of a Lab (or of lab NAME with the given hosts)."""
    if hasattr(lab_or_name, 'hosts'):
        return dict((name, host_state(h)) for name, h in sorted(lab_or_name.hosts.items()))
    return dict((name, host_state(LabHost(lab_or_name, name))) for name in hosts)


def differences(a, b, path='', limit=40):
    """Readable differences between two dumps (['path: only in a: ...', ...])."""
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = '%s/%s' % (path, key)
            if key not in b:
                out.append('%s: only in first: %s' % (sub, json.dumps(a[key], sort_keys=True)[:400]))
            elif key not in a:
                out.append('%s: only in second: %s' % (sub, json.dumps(b[key], sort_keys=True)[:400]))
            else:
                out += differences(a[key], b[key], sub, limit)
    elif isinstance(a, list) and isinstance(b, list):
        ja = [json.dumps(x, sort_keys=True) for x in a]
        jb = [json.dumps(x, sort_keys=True) for x in b]
        out += ['%s: only in first: %s' % (path, x[:400]) for x in ja if x not in jb]
        out += ['%s: only in second: %s' % (path, x[:400]) for x in jb if x not in ja]
    elif a != b:
        out.append('%s: %r != %r' % (path, a, b))
    return out[:limit]


def assert_same(a, b, what):
    diff = differences(a, b)
    assert not diff, '%s:\n  %s' % (what, '\n  '.join(diff))
