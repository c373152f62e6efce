#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: neighbor
short_description: Manage the permanent neighbour (ARP/NDP) entries of one device in one call
version_added: 0.1.0
description:
  - Converges a list of permanent neighbour entries (IP address to MAC address) on one device with pyroute2,
    as flannel writes C(<peer VTEP address> lladdr <peer VTEP MAC> dev <vxlan> nud permanent).
  - Entries are keyed by IP address. A wanted entry is written with C(replace), so an entry the kernel
    learned for that address is turned into the permanent one.
  - Permanent entries on O(dev) are owned by this module. O(purge) and O(state=absent) delete only those;
    entries the kernel learned (reachable, stale, ...) and entries of other devices are never touched.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  dev:
    description: The device whose neighbour table is managed. It must exist when an entry is written.
    type: str
    required: true
  neighbors:
    description: The entries. All of them are converged in one call.
    type: list
    elements: dict
    default: []
    suboptions:
      ip:
        description: IPv4 or IPv6 address of the neighbour.
        type: str
        required: true
      lladdr:
        description: Its MAC address (a unicast MAC). Required with O(state=present).
        type: str
  purge:
    description:
      - With O(state=present), delete the permanent entries of O(dev) that are not listed in O(neighbors).
    type: bool
    default: false
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Neighbour entries for the peers' VTEPs, stale ones removed
  openkube.podnet.neighbor:
    dev: podnet.1
    neighbors:
      - ip: 192.168.11.0
        lladdr: 0e:8a:15:00:00:22
      - ip: 192.168.12.0
        lladdr: 0e:8a:15:00:00:23
    purge: true

- name: Remove one entry
  openkube.podnet.neighbor:
    dev: podnet.1
    neighbors:
      - ip: 192.168.12.0
    state: absent
'''

RETURN = r'''
neighbors:
  description:
    - The permanent entries of O(dev) after the run (or as predicted in check mode), and the entries the
      kernel learned for listed addresses.
  returned: success
  type: list
  elements: dict
  contains:
    ip:
      description: IP address of the neighbour.
      type: str
    lladdr:
      description: MAC address (lower case), C(null) for an incomplete learned entry.
      type: str
    state:
      description: V(permanent), or the state of an entry the kernel learned (V(reachable), V(stale), ...).
      type: str
  sample:
    - {ip: 192.168.11.0, lladdr: "0e:8a:15:00:00:22", state: permanent}
actions:
  description: What was (or, in check mode, would be) done, one line per entry.
  returned: success
  type: list
  elements: str
  sample: ["add 192.168.11.0 lladdr 0e:8a:15:00:00:22 dev podnet.1"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._neighbor import ARGSPEC, NeighborTable, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, NeighborTable, wanted_from_params)


if __name__ == '__main__':
    main()
