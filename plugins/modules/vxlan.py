#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: vxlan
short_description: Manage a VXLAN device (VTEP) with a stable MAC address
version_added: 0.1.0
description:
  - Creates, changes or deletes one vxlan device with pyroute2 (never by running C(ip)).
  - The defaults are flannel's design, UDP port 8472 and learning off; peers are then reached through
    permanent neighbour and FDB entries (M(openkube.podnet.neighbor), M(openkube.podnet.fdb)) and onlink
    routes (M(openkube.podnet.route)).
  - The VNI, UDP port, local address, underlay device and learning setting are not changed in place. When one
    of them differs, the device is deleted and created again, as flannel does. The MAC address is kept across
    that re-creation (O(mac), or the old device's MAC when O(mac) is omitted), so that peers' neighbour and FDB
    entries stay valid; so is the MTU unless O(mtu) is given. Addresses, routes, neighbour and FDB entries of
    the old device go with it, so run those modules after this one.
  - O(mac), O(mtu) and O(up) are changed in place.
  - An existing device named O(name) that is not a vxlan device is never changed or deleted. With
    O(state=present) the module fails and names its kind; with O(state=absent) it is left alone.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  name:
    description: Name of the vxlan device (at most 15 bytes).
    type: str
    required: true
  vni:
    description: VXLAN network identifier, 1 to 16777215. Required with O(state=present) (flannel uses 1).
    type: int
  local:
    description:
      - Source address of the encapsulated packets (usually the node IP).
      - When omitted, the local address of an existing device is kept whatever it is; a new device has none.
    type: str
  dev:
    description:
      - Underlay device; it must exist when the device is created. The kernel then gives the vxlan device
        the underlay MTU minus 50 unless O(mtu) is set.
      - When omitted, the underlay of an existing device is kept whatever it is; a new device has none.
    type: str
  port:
    description: Destination UDP port. 8472 is the Linux default and flannel's; the IANA port is 4789.
    type: int
    default: 8472
  learning:
    description: Whether the device learns source MAC addresses from received packets. Off for flannel's design.
    type: bool
    default: false
  mac:
    description:
      - MAC address of the device (a unicast MAC). Set on creation, changed in place, and kept when the device
        has to be recreated.
      - When omitted, the kernel picks a random MAC for a new device, and an existing device keeps its MAC,
        also across re-creation.
    type: str
  mtu:
    description: MTU of the device, changed in place. When omitted the kernel's value is kept.
    type: int
  up:
    description: Whether the device is administratively up.
    type: bool
    default: true
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: flannel-style VTEP
  openkube.podnet.vxlan:
    name: podnet.1
    vni: 1
    local: 10.57.4.21
    dev: eth0
    mac: 0e:8a:15:00:00:21
    mtu: 1450

- name: Remove it
  openkube.podnet.vxlan:
    name: podnet.1
    state: absent
'''

RETURN = r'''
vxlan:
  description:
    - The device after the run (or as predicted in check mode), as a list of zero or one element.
    - When O(name) is taken by a device of another kind, only its O(name), C(kind), C(mtu) and C(up) are known.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Device name.
      type: str
    kind:
      description: Device kind, V(vxlan).
      type: str
    vni:
      description: VXLAN network identifier.
      type: int
    port:
      description: Destination UDP port.
      type: int
    local:
      description: Local address, C(null) for none.
      type: str
    dev:
      description: Underlay device, C(null) for none.
      type: str
    learning:
      description: Whether the device learns MAC addresses.
      type: bool
    mac:
      description: MAC address; C(null) when predicted for a new device without O(mac).
      type: str
    mtu:
      description: MTU; C(null) when predicted for a new device without O(mtu).
      type: int
    up:
      description: Whether the device is administratively up.
      type: bool
  sample:
    - {name: podnet.1, kind: vxlan, vni: 1, port: 8472, local: 10.57.4.21, dev: eth0, learning: false,
       mac: "0e:8a:15:00:00:21", mtu: 1450, up: true}
actions:
  description: What was (or, in check mode, would be) done; V(recreate ...) names the fields that forced it.
  returned: success
  type: list
  elements: str
  sample: ["recreate vxlan device podnet.1 vni 2 port 8472 mac 0e:8a:15:00:00:21 mtu 1450 nolearning up (vni: 1 -> 2)"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module
from ansible_collections.openkube.podnet.plugins.module_utils._vxlan import ARGSPEC, Vxlan, wanted_from_params


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, Vxlan, wanted_from_params, purge_option=False)


if __name__ == '__main__':
    main()
