#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: fdb
short_description: Manage the permanent forwarding-database entries of a vxlan device in one call
version_added: 0.1.0
description:
  - Converges a list of permanent FDB entries C(<mac> dst <node ip> dev <vxlan> self permanent) on one
    vxlan device with pyroute2, as flannel writes one per peer node.
  - Entries are keyed by MAC address. For a unicast MAC the kernel's vxlan driver keeps a single destination,
    so a listed MAC whose destination differs is changed in place (C(replace)); an entry the kernel learned
    for a listed MAC is turned into the permanent one.
  - The device's own permanent entries with a unicast MAC and a destination are owned by this module.
    O(purge) and O(state=absent) delete only those. Entries the kernel made are never listed or touched;
    the all-zero or multicast MAC default destinations of a device with a C(remote) or C(group), learned
    entries, and the entries a bridge keeps for the device as its port (C(master)). Other devices are never touched.
  - Several destinations for one MAC (flood lists on the all-zero MAC) are not managed by this module.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  dev:
    description: The vxlan device whose FDB is managed. It must exist when an entry is written.
    type: str
    required: true
  entries:
    description: The entries. All of them are converged in one call.
    type: list
    elements: dict
    default: []
    suboptions:
      mac:
        description: MAC address of the peer's VTEP (a unicast MAC). Each MAC may be listed once.
        type: str
        required: true
      dst:
        description: IP address of the peer node the MAC is reached through. Required with O(state=present).
        type: str
  purge:
    description:
      - With O(state=present), delete the owned entries of O(dev) (see above) whose MAC is not listed in O(entries).
    type: bool
    default: false
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: FDB entries for the peers' VTEPs, stale ones removed
  openkube.podnet.fdb:
    dev: podnet.1
    entries:
      - mac: 0e:8a:15:00:00:22
        dst: 10.57.4.22
      - mac: 0e:8a:15:00:00:23
        dst: 10.57.4.23
    purge: true

- name: Remove one entry
  openkube.podnet.fdb:
    dev: podnet.1
    entries:
      - mac: 0e:8a:15:00:00:23
    state: absent
'''

RETURN = r'''
entries:
  description:
    - The owned entries of O(dev) after the run (or as predicted in check mode), and the entries the kernel
      learned for listed MAC addresses.
  returned: success
  type: list
  elements: dict
  contains:
    mac:
      description: MAC address (lower case).
      type: str
    dst:
      description: Destination node address.
      type: str
    permanent:
      description: V(true) for a permanent entry, V(false) for one the kernel learned.
      type: bool
  sample:
    - {mac: "0e:8a:15:00:00:22", dst: 10.57.4.22, permanent: true}
actions:
  description: What was (or, in check mode, would be) done, one line per entry.
  returned: success
  type: list
  elements: str
  sample: ["add 0e:8a:15:00:00:22 dst 10.57.4.22 dev podnet.1 self permanent"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._fdb import ARGSPEC, FdbTable, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, FdbTable, wanted_from_params)


if __name__ == '__main__':
    main()
