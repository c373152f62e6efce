# -*- coding: utf-8 -*-
"""openkube.podnet.firewall against the real kernel's netfilter, inside throwaway namespaces only.
The rules are read back with iptables-save (run by `ip netns exec`, not by our code)."""

from __future__ import annotations

from kernel import diff_lists, four_runs, run_module, sh

CHAINS = [
    dict(name='PODNET-FORWARD', hook='FORWARD', rules=['-s 192.168.10.0/24 -j ACCEPT', '-d 192.168.10.0/24 -j ACCEPT']),
    dict(name='PODNET-INPUT', hook='INPUT', rules=[
        '-s 10.57.4.21/32 -p udp -m udp --dport 8472 -j RETURN', '-p udp -m udp --dport 8472 -j DROP']),
]


def save(ns, table='filter'):
    return [line for line in sh('ip', 'netns', 'exec', ns, 'iptables-save', '-t', table).splitlines()
            if line and not line.startswith('#')]


MASQUERADE = dict(name='PODNET-POSTROUTING', table='nat', hook='POSTROUTING', rules=[
    '-s 192.168.10.0/24 -d 192.168.10.0/23 -j RETURN', '-s 192.168.10.0/24 -d 224.0.0.0/4 -j RETURN',
    '-s 192.168.10.0/24 -j MASQUERADE'])


def test_nat_chain_four_runs_beside_foreign_nat_rules_then_purge(netns):
    """The masquerade chain in the nat table, with a filter chain in the same transaction; a rule of someone
    else's in nat POSTROUTING (Docker's, say) stays where it is, below the collection's jump."""
    ns = netns()
    sh('ip', 'netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '172.17.0.0/16', '-j', 'MASQUERADE')
    args = dict(netns=ns, chains=[CHAINS[0], MASQUERADE], purge=True)
    first_check, applied, _second_check, again = four_runs('firewall', args)
    assert sorted(first_check['actions']) == sorted(applied['actions']) and len(applied['actions']) == 4
    assert sorted((e['table'], e['kind'], e['name']) for e in again['entries'] if e['table'] == 'nat') == [
        ('nat', 'chain', 'PODNET-POSTROUTING'), ('nat', 'jump', 'POSTROUTING -> PODNET-POSTROUTING')]
    nat = save(ns, 'nat')
    assert [line for line in nat if line.startswith('-A POSTROUTING')] == [
        '-A POSTROUTING -j PODNET-POSTROUTING', '-A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE']
    assert ['-A PODNET-POSTROUTING ' + r for r in MASQUERADE['rules']] == [line for line in nat if line.startswith('-A PODNET-')]
    assert '-A FORWARD -j PODNET-FORWARD' in save(ns)

    removed = run_module('firewall', dict(netns=ns, chains=[CHAINS[0]], purge=True))
    assert removed['changed'] and [e['table'] for e in removed['entries']] == ['filter', 'filter'], removed
    nat = save(ns, 'nat')
    assert not [line for line in nat if 'PODNET' in line]
    assert '-A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE' in nat


def save6(ns, table='filter'):
    return [line for line in sh('ip', 'netns', 'exec', ns, 'ip6tables-save', '-t', table).splitlines()
            if line and not line.startswith('#')]


FORWARD6 = dict(name='PODNET-FORWARD', hook='FORWARD', family=6,
                rules=['-s fd00:10:244:10::/64 -j ACCEPT', '-d fd00:10:244:10::/64 -j ACCEPT'])
MASQUERADE6 = dict(name='PODNET-POSTROUTING', table='nat', hook='POSTROUTING', family=6, rules=[
    '-s fd00:10:244:10::/64 -d fd00:10:244::/63 -j RETURN', '-s fd00:10:244:10::/64 -d ff00::/8 -j RETURN',
    '-s fd00:10:244:10::/64 -j MASQUERADE'])


def test_ipv6_chains_four_runs_beside_the_ipv4_twins_then_purge(netns):
    """IPv6 chains (ip6tables, family 6) of the same names as IPv4 ones, in filter and nat, beside a foreign
    ip6tables rule and a FORWARD policy DROP; purge without IPv6 chains removes them and leaves the IPv4 ones."""
    ns = netns()
    sh('ip', 'netns', 'exec', ns, 'ip6tables', '-P', 'FORWARD', 'DROP')
    sh('ip', 'netns', 'exec', ns, 'ip6tables', '-A', 'FORWARD', '-s', 'fd99::/64', '-j', 'ACCEPT')
    args = dict(netns=ns, chains=[CHAINS[0], FORWARD6, MASQUERADE6], purge=True)
    first_check, applied, _second_check, again = four_runs('firewall', args)
    assert sorted(first_check['actions']) == sorted(applied['actions']) and len(applied['actions']) == 6, applied['actions']
    assert sum(a.startswith('add ip6 ') for a in applied['actions']) == 4, applied['actions']
    filter6 = save6(ns)
    assert ':FORWARD DROP [0:0]' in filter6
    assert [line for line in filter6 if line.startswith('-A FORWARD')] == [
        '-A FORWARD -j PODNET-FORWARD', '-A FORWARD -s fd99::/64 -j ACCEPT'], filter6
    assert ['-A PODNET-FORWARD ' + r for r in FORWARD6['rules']] == [line for line in filter6 if line.startswith('-A PODNET-')]
    assert ['-A PODNET-POSTROUTING ' + r for r in MASQUERADE6['rules']] == [
        line for line in save6(ns, 'nat') if line.startswith('-A PODNET-')]
    assert ['-A PODNET-FORWARD ' + r for r in CHAINS[0]['rules']] == [line for line in save(ns) if line.startswith('-A PODNET-')]
    assert len([e for e in again['entries'] if e.get('family') == 6]) == 4

    removed = run_module('firewall', dict(netns=ns, chains=[CHAINS[0]], purge=True))
    assert removed['changed'] and sorted(removed['actions']) == sorted(
        a.replace('add ', 'delete ', 1) for a in applied['actions'] if a.startswith('add ip6 ')), removed['actions']
    assert not [line for line in save6(ns) + save6(ns, 'nat') if 'PODNET' in line]
    assert '-A FORWARD -s fd99::/64 -j ACCEPT' in save6(ns) and '-A FORWARD -j PODNET-FORWARD' in save(ns)


def test_four_runs_keep_foreign_rules_and_policy_then_purge(netns):
    ns = netns()
    root_before = sh('iptables-save')
    sh('ip', 'netns', 'exec', ns, 'iptables', '-P', 'FORWARD', 'DROP')
    sh('ip', 'netns', 'exec', ns, 'iptables', '-A', 'FORWARD', '-s', '10.9.9.0/24', '-j', 'ACCEPT')
    first_check, applied, _second_check, _again = four_runs('firewall', dict(netns=ns, chains=CHAINS, purge=True))
    assert first_check['changed'] and first_check['actions'] == applied['actions']
    assert len(applied['actions']) == 4 and diff_lists(applied)['before'] == []
    lines = save(ns)
    assert ':FORWARD DROP [0:0]' in lines
    forward = [line for line in lines if line.startswith('-A FORWARD')]
    assert forward == ['-A FORWARD -j PODNET-FORWARD', '-A FORWARD -s 10.9.9.0/24 -j ACCEPT']
    assert '-A PODNET-INPUT -s 10.57.4.21/32 -p udp -m udp --dport 8472 -j RETURN' in lines
    assert '-A INPUT -j PODNET-INPUT' in lines

    # a changed rule set rewrites the chain; a chain no longer listed goes with purge
    changed = run_module('firewall', dict(netns=ns, purge=True, chains=[dict(CHAINS[0], rules=['-s 192.168.20.0/24 -j ACCEPT'])]))
    assert changed['changed'] and not changed.get('failed'), changed
    lines = save(ns)
    assert [line for line in lines if 'PODNET' in line] == [
        ':PODNET-FORWARD - [0:0]', '-A FORWARD -j PODNET-FORWARD', '-A PODNET-FORWARD -s 192.168.20.0/24 -j ACCEPT']

    removed = run_module('firewall', dict(netns=ns, chains=[], purge=True))
    assert removed['changed'] and removed['entries'] == []
    lines = save(ns)
    assert not [line for line in lines if 'PODNET' in line]
    assert '-A FORWARD -s 10.9.9.0/24 -j ACCEPT' in lines and ':FORWARD DROP [0:0]' in lines
    assert _uncommented(sh('iptables-save')) == _uncommented(root_before), 'the machine\'s own firewall changed'


def test_check_mode_writes_nothing_and_bad_input_fails_before_writing(netns):
    ns = netns()
    check = run_module('firewall', dict(netns=ns, chains=CHAINS), check=True)
    assert check['changed'] and not [line for line in save(ns) if 'PODNET' in line]
    bad = run_module('firewall', dict(netns=ns, chains=[dict(name='DOCKER-USER', hook='FORWARD')]))
    assert bad['failed'] and "chains[0].name: 'DOCKER-USER' is not a chain of the collection" in bad['msg']


def _uncommented(text):
    return [line for line in text.splitlines() if not line.startswith('#')]


SET_INPUT = dict(name='PODNET-INPUT', hook='INPUT', rules=[
    '-p udp -m udp --dport 8472 -m set --match-set podnet-peers src -j RETURN', '-p udp -m udp --dport 8472 -j DROP'])
# written with the set first: read back with the protocol before it (normalise_rule)
SET_FIRST = dict(name='PODNET-INPUT', hook='INPUT', rules=[
    '-m set --match-set podnet-peers src -p udp -m udp --dport 8472 -j RETURN', '-p udp -m udp --dport 8472 -j DROP'])
SET_INPUT_IPIP = dict(name='PODNET-INPUT', hook='INPUT', rules=['-p 4 -m set --match-set podnet-peers src -j RETURN',
                                                                '-p 4 -j DROP'])


def test_set_match_round_trips_through_both_backends(netns):
    """A rule that matches an ip set (-m set, xt_set) reads back from iptables-save, nf_tables and legacy, as it was
    written: the re-run finds nothing to change. The set is made by the ipset module."""
    for backend in ('iptables-nft', 'iptables-legacy'):
        ns = netns()
        made = run_module('ipset', dict(netns=ns, sets=[dict(name='podnet-peers', members=['10.57.4.20/31'])]))
        assert made['changed'], made
        for chain, saved in ((SET_INPUT, '-p udp -m udp --dport 8472 -m set --match-set podnet-peers src -j RETURN'),
                             (SET_FIRST, '-p udp -m set --match-set podnet-peers src -m udp --dport 8472 -j RETURN'),
                             (SET_INPUT_IPIP, '-p ipencap -m set --match-set podnet-peers src -j RETURN')):
            four_runs('firewall', dict(netns=ns, chains=[chain], purge=True, iptables=backend))
            lines = sh('ip', 'netns', 'exec', ns, backend + '-save', '-t', 'filter').splitlines()
            assert [line for line in lines if line.startswith('-A PODNET-INPUT')][0] == '-A PODNET-INPUT ' + saved, lines
        removed = run_module('firewall', dict(netns=ns, chains=[], purge=True, iptables=backend))
        assert removed['changed'] and not removed.get('failed'), removed
