#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: nftables
short_description: The collection's own nftables tables (sets of addresses, base chains that drop an encapsulation)
version_added: 0.2.0
description:
  - Converges a list of nftables tables whose name starts with C(podnet), each whole - its sets of addresses and
    its base chains, whose rules drop an encapsulation (UDP to a port, or IP-in-IP) from any source outside a set.
    It is the encapsulation filter of M(openkube.podnet.firewall)'s C(PODNET-INPUT) chain as native nftables, a
    hash set lookup in a base chain of its own, without an xtables match or a jump (half the cost per packet,
    measured in docs/benchmarks/README.md). The roles use it for the encapsulation filter where the host can hold
    the table (C(podnet_encap_filter_backend) of the role C(openkube.podnet.podnet)).
  - Tables are keyed by family and name and owned by this module when the name starts with C(podnet); O(purge)
    and O(state=absent) act on those only.
  - Reads with C(nft -j list table) and compares the sets' elements, the chains' hook, priority and policy and
    their rules; a rule this module does not write (one added by hand) makes the table differ. A table that differs
    is replaced whole in one C(nft -f) transaction, so no packet meets a half-written filter.
  - A drop in any base chain is final, so the table filters whatever other tables (iptables-nft's, a host
    firewall's) accept; its chains accept everything else.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  tables:
    description: The tables. All of them are converged in one call.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The table's name, C(podnet) followed by up to 26 letters, digits, C(_) or C(-).
        type: str
        required: true
      family:
        description: V(ip) for a table of the IPv4 hooks, V(ip6) for the IPv6 ones.
        type: str
        default: ip
        choices: [ip, ip6]
      sets:
        description: Sets of addresses of the table's family (C(ipv4_addr), C(ipv6_addr)), a hash lookup each.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The set's name (a letter, then up to 30 letters, digits, C(_) or C(-)).
            type: str
            required: true
          elements:
            description: Its addresses (no prefixes).
            type: list
            elements: str
            default: []
      chains:
        description: Base chains of type C(filter).
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The chain's name (a letter, then up to 30 letters, digits, C(_) or C(-)).
            type: str
            required: true
          hook:
            description: The netfilter hook the chain is attached to.
            type: str
            required: true
            choices: [prerouting, input, forward, output, postrouting]
          priority:
            description: The chain's priority at its hook (V(0) is C(filter)).
            type: int
            default: 0
          policy:
            description: What happens to a packet no rule decided.
            type: str
            default: accept
            choices: [accept, drop]
          rules:
            description: The rules in order, each written C(<match> <family> saddr != @<set> <verdict>).
            type: list
            elements: dict
            default: []
            suboptions:
              protocol:
                description: V(udp) matches UDP to O(tables[].chains[].rules[].dport); V(ipip) IP protocol 4 (table family V(ip)).
                type: str
                required: true
                choices: [udp, ipip]
              dport:
                description: The UDP destination port, with O(tables[].chains[].rules[].protocol=udp).
                type: int
              saddr_not_in:
                description: A set of the table; the rule matches packets whose source address is not in it.
                type: str
                required: true
              verdict:
                description: What the rule does with a matching packet.
                type: str
                default: drop
                choices: [drop, accept]
  purge:
    description: With O(state=present), delete the C(podnet) tables that are not in O(tables).
    type: bool
    default: false
  nft:
    description: The C(nft) program (a name looked up in C(PATH) and the usual C(sbin) folders, or a path).
    type: str
    default: nft
requirements:
  - nft (the package C(nftables)) on the managed host, and a kernel with nf_tables.
notes:
  - With O(netns), the module enters the namespace (C(setns)) before running nft there.
  - Needs the C(nft) program (Debian's and RHEL's package C(nftables)) and a kernel with nf_tables. Without them the
    module fails and says so; with O(purge) and no table wanted it finds nothing to remove.
  - The tables last until reboot; the role applies them again.
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Drop VXLAN (UDP 8472) from anyone but the cluster's nodes; other podnet tables removed
  openkube.podnet.nftables:
    tables:
      - name: podnet
        sets:
          - name: peers
            elements: [10.57.4.20, 10.57.4.21, 10.57.5.7]
        chains:
          - name: input
            hook: input
            rules:
              - {protocol: udp, dport: 8472, saddr_not_in: peers}
    purge: true

- name: Remove the collection's tables
  openkube.podnet.nftables:
    tables: []
    purge: true
'''

RETURN = r'''
tables:
  description: The C(podnet) tables after the run (or as predicted in check mode).
  returned: success
  type: list
  elements: dict
  contains:
    family:
      description: V(ip) or V(ip6).
      type: str
    name:
      description: The table's name.
      type: str
    sets:
      description: Each set's name and its addresses, sorted.
      type: dict
    chains:
      description: Each chain's name and its hook, priority, policy and rules (as text; C(unrecognised) and the
        rule's JSON for a rule this module does not write).
      type: dict
  sample:
    - family: ip
      name: podnet
      sets: {peers: [10.57.4.20, 10.57.4.21]}
      chains: {input: {hook: input, priority: 0, policy: accept, rules: ["udp dport 8472 ip saddr != @peers drop"]}}
actions:
  description: What was (or, in check mode, would be) done, one line per table.
  returned: success
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._nftables import ARGSPEC, NfTables, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, NfTables, wanted_from_params)


if __name__ == '__main__':
    main()
