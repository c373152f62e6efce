#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: firewall
short_description: The collection's own iptables chains (accept pod traffic, admit encapsulation from peers only)
version_added: 0.2.0
description:
  - Manages user-defined chains whose names start with C(PODNET-), in the C(filter) or the C(nat) table
    (O(chains[].table)), their rules, and one jump to each at the top of a built-in chain of its table
    (O(chains[].hook)). Nothing else in the tables is changed; other chains, other rules and the policies of
    the built-in chains stay as they are.
  - The role P(openkube.podnet.podnet#role) uses it for C(PODNET-FORWARD) (accept traffic from and to the
    host's pods, so that a FORWARD policy DROP, as Docker leaves it, does not cut the pods off) and
    C(PODNET-INPUT) (drop IP-in-IP or VXLAN packets that do not come from a peer's node IP), and in the nat
    table C(PODNET-POSTROUTING) (masquerade what the pods send outside every pod range of the cluster).
  - "Why iptables, run as a program: netfilter rules are not netlink objects that pyroute2 manages, and
    the accept must sit in the very chain whose policy drops. C(iptables -P FORWARD DROP) sets the policy
    of the FORWARD chain of the host's iptables backend (nf_tables through iptables-nft, or legacy
    xtables); under nftables an accept in another table does not override a drop there. So the module
    writes with the host's own C(iptables-restore --noflush), one atomic transaction per run, and reads
    back with C(iptables-save). (Network devices, addresses, routes and neighbours are netlink objects:
    the other modules never run C(ip).)"
  - Rules are compared as C(iptables-save) prints them after C(-A CHAIN); write them that way
    (C(-s 10.57.4.21/32 -p udp -m udp --dport 8472 -j RETURN)). Protocol 4 may be written C(-p 4).
    A chain whose rules differ is rewritten whole in the same transaction (one per family, C(iptables-restore)
    then C(ip6tables-restore)).
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  chains:
    description: The chains, each with its rules in order and the built-in chain that jumps to it.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Chain name, C(PODNET-) followed by capitals, digits, C(_) or C(-) (at most 28 characters).
        type: str
        required: true
      table:
        description: The table of the chain.
        type: str
        default: filter
        choices: [filter, nat]
      family:
        description:
          - V(4) for an iptables chain, V(6) for an ip6tables chain (the IPv6 twin of O(iptables), so C(iptables-legacy)
            gives C(ip6tables-legacy)). A chain of the same name may exist in both families.
          - The IPv6 tables are read too where C(ip6tables) is installed, so that O(purge) removes the collection's
            IPv6 chains when none is wanted any more.
        type: int
        default: 4
        choices: [4, 6]
      hook:
        description:
          - The built-in chain of the table whose first rule jumps to this chain. filter has V(INPUT), V(FORWARD)
            and V(OUTPUT); nat has V(PREROUTING), V(OUTPUT) and V(POSTROUTING).
        type: str
        required: true
        choices: [INPUT, FORWARD, OUTPUT, PREROUTING, POSTROUTING]
      rules:
        description: Rule bodies (match and target), as iptables-save prints them after C(-A CHAIN).
        type: list
        elements: str
        default: []
  purge:
    description: Remove C(PODNET-) chains and jumps to them that are not in O(chains).
    type: bool
    default: false
  iptables:
    description:
      - The iptables program to use (its C(-save) and C(-restore) companions are run); for example
        V(iptables-legacy) or V(iptables-nft) to pick a backend. Default the host's C(iptables).
    type: str
    default: iptables
requirements:
  - iptables (C(iptables-save), C(iptables-restore)) on the managed host.
notes:
  - With O(netns), the module enters the namespace (C(setns)) before running iptables there.
  - The rules last until reboot (nothing is written to a persistent rules file); the role re-applies them.
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Accept pod traffic past a FORWARD policy DROP; VXLAN only from the peers
  openkube.podnet.firewall:
    chains:
      - name: PODNET-FORWARD
        hook: FORWARD
        rules: ['-s 192.168.10.0/24 -j ACCEPT', '-d 192.168.10.0/24 -j ACCEPT']
      - name: PODNET-INPUT
        hook: INPUT
        rules:
          - -s 10.57.4.21/32 -p udp -m udp --dport 8472 -j RETURN
          - -p udp -m udp --dport 8472 -j DROP
      - name: PODNET-POSTROUTING
        table: nat
        hook: POSTROUTING
        rules:
          - -s 192.168.10.0/24 -d 192.168.10.0/23 -j RETURN
          - -s 192.168.10.0/24 -d 224.0.0.0/4 -j RETURN
          - -s 192.168.10.0/24 -j MASQUERADE
      - name: PODNET-FORWARD
        family: 6
        hook: FORWARD
        rules:
          - -s fd00:10:244:10::/64 -j ACCEPT
          - -d fd00:10:244:10::/64 -j ACCEPT
    purge: true

- name: Remove the collection's chains
  openkube.podnet.firewall:
    chains: []
    purge: true
'''

RETURN = r'''
entries:
  description: The collection's chains and jumps after the run (or as predicted in check mode).
  returned: success
  type: list
  elements: dict
  sample:
    - {kind: chain, table: filter, name: PODNET-FORWARD, rules: ['-s 192.168.10.0/24 -j ACCEPT', '-d 192.168.10.0/24 -j ACCEPT']}
    - {kind: jump, table: filter, name: FORWARD -> PODNET-FORWARD, chain: FORWARD, target: PODNET-FORWARD}
actions:
  description: What was (or, in check mode, would be) done, one line per chain or jump.
  returned: success
  type: list
  elements: str
  sample: ["add jump filter -A FORWARD -j PODNET-FORWARD"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._firewall import ARGSPEC, Firewall, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, Firewall, wanted_from_params)


if __name__ == '__main__':
    main()
