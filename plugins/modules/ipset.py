#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ipset
short_description: The collection's own kernel ip sets of prefixes (hash:net), in one call
version_added: 0.2.0
description:
  - Converges a list of kernel ip sets of type C(hash:net) (IPv4 or IPv6 prefixes) with pyroute2's netlink ipset
    support; the C(ipset) program is not used and need not be installed.
  - The role P(openkube.podnet.podnet#role) uses it for C(podnet-peers) (and C(podnet-peers6) for vxlan over the IPv6
    underlay), the peers' node IPs that the chain C(PODNET-INPUT) admits encapsulated packets from with one rule,
    C(-m set --match-set podnet-peers src), whatever the number of peers (see M(openkube.podnet.firewall)).
  - Sets are keyed by name. Sets whose name starts with C(podnet-) are owned by this module; O(purge) and
    O(state=absent) act on those only.
  - Members change in place, the new ones added before the old ones are deleted, so a firewall rule that uses the
    set never sees it missing. A set whose family or type differs is destroyed and created again, which the kernel
    refuses while a rule uses it (the module then fails and names the set). Destroying a set in use fails the same
    way; remove the rule first.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  sets:
    description: The sets. All of them are converged in one call.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The set's name, C(podnet-) followed by letters, digits, C(-), C(_) or C(.) (at most 31 characters).
        type: str
        required: true
      family:
        description: V(4) for a set of IPv4 prefixes (C(inet)), V(6) for IPv6 ones (C(inet6)).
        type: int
        default: 4
        choices: [4, 6]
      members:
        description:
          - The prefixes in CIDR notation without host bits (C(10.57.4.0/24), C(10.57.5.7/32)), of the set's family,
            of length 1 or more. Ignored with O(state=absent).
        type: list
        elements: str
        default: []
  purge:
    description: With O(state=present), destroy the C(podnet-) sets that are not in O(sets).
    type: bool
    default: false
notes:
  - The kernel needs ip set support (modules C(ip_set) and C(ip_set_hash_net)); a firewall rule that matches a set
    needs C(xt_set). Without them the module fails and says so; with O(purge) and no set wanted it finds nothing to
    remove.
  - The sets last until reboot; the role applies them again.
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: The peers' node IPs, as the fewest covering prefixes; other podnet- sets removed
  openkube.podnet.ipset:
    sets:
      - name: podnet-peers
        members: [10.57.4.20/31, 10.57.5.7/32]
      - name: podnet-peers6
        family: 6
        members: ['fd57:4::20/127']
    purge: true

- name: Remove the collection's sets (once no rule uses them)
  openkube.podnet.ipset:
    sets: []
    purge: true
'''

RETURN = r'''
sets:
  description: The sets after the run (or as predicted in check mode), every set of the namespace.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The set's name.
      type: str
    family:
      description: V(4) or V(6).
      type: int
    type:
      description: The set's type, V(hash:net) for the collection's.
      type: str
    members:
      description: Its prefixes, sorted.
      type: list
      elements: str
  sample:
    - {name: podnet-peers, family: 4, type: "hash:net", members: [10.57.4.20/31, 10.57.5.7/32]}
actions:
  description: What was (or, in check mode, would be) done, one line per set.
  returned: success
  type: list
  elements: str
  sample: ["update set podnet-peers: add 10.57.5.7/32; delete 10.57.5.8/32"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._ipset import ARGSPEC, IpSets, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, IpSets, wanted_from_params)


if __name__ == '__main__':
    main()
