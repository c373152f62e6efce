#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ipip
short_description: Manage an IPv4-in-IPv4 (ipip) tunnel device, one-to-many by default
version_added: 0.1.0
description:
  - Creates, changes or deletes one ipip tunnel device with pyroute2 (never by running C(ip)).
  - Without O(remote) the device is one-to-many, as flannel's C(flannel.ipip) and Calico's C(tunl0);
    packets are sent to the gateway of each route (C(<peer pod cidr> via <peer node ip> dev <tunnel> onlink),
    see M(openkube.podnet.route)).
  - The local address, remote address, underlay device and TTL are not changed in place. When one of them
    differs, the device is deleted and created again (with its current MTU unless O(mtu) is given).
    Addresses and routes on the old device go with it, so run M(openkube.podnet.route) after this module.
  - O(mtu) and O(up) are changed in place.
  - An existing device named O(name) that is not an ipip device is never changed or deleted. With
    O(state=present) the module fails and names its kind; with O(state=absent) it is left alone.
  - IPv4 only (ipip has no IPv6). The kernel needs the C(ipip) module.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  name:
    description:
      - Name of the tunnel device (at most 15 bytes). V(tunl0), the kernel's fallback device, is refused.
    type: str
    required: true
  local:
    description:
      - IPv4 address of this host that the tunnel's packets are sent from (usually the node IP).
      - When omitted, the local address of an existing device is kept whatever it is; a new device has none.
    type: str
  remote:
    description:
      - IPv4 address of the one peer of a point-to-point tunnel.
      - Omit it for a one-to-many tunnel (the kernel shows C(remote any)); a device with a remote is then
        recreated without one.
    type: str
  ttl:
    description: TTL of the outer packets; V(0) means inherit it from the inner packet.
    type: int
    default: 0
  mtu:
    description:
      - MTU of the device, changed in place. Usually the underlay MTU minus 20.
      - When omitted the kernel's value is kept (on creation it derives one from the underlay, 1480 on Ethernet).
    type: int
  dev:
    description:
      - Underlay device the tunnel is bound to (the kernel's C(link)); it must exist when the device is created.
      - When omitted, the binding of an existing device is kept whatever it is; a new device is not bound.
    type: str
  up:
    description: Whether the device is administratively up.
    type: bool
    default: true
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: One-to-many ipip device for the pod network (flannel's ipip backend)
  openkube.podnet.ipip:
    name: podnet.ipip
    local: 10.57.4.21
    dev: eth0
    mtu: 1480

- name: Point-to-point tunnel inside a namespace
  openkube.podnet.ipip:
    netns: lab-host1
    name: p2p0
    local: 10.57.4.21
    remote: 10.57.4.22
    ttl: 64

- name: Remove the tunnel (a device of another kind with that name is left alone)
  openkube.podnet.ipip:
    name: podnet.ipip
    state: absent
'''

RETURN = r'''
ipip:
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
      description: Device kind, V(ipip).
      type: str
    local:
      description: Local address, V(0.0.0.0) for none. C(null) when predicted for a device whose local address was not given.
      type: str
    remote:
      description: Remote address, V(0.0.0.0) for a one-to-many tunnel.
      type: str
    ttl:
      description: Outer TTL, V(0) for inherit.
      type: int
    dev:
      description: Underlay device, C(null) when not bound.
      type: str
    mtu:
      description: MTU; C(null) when predicted for a new device without O(mtu).
      type: int
    up:
      description: Whether the device is administratively up.
      type: bool
  sample:
    - {name: podnet.ipip, kind: ipip, local: 10.57.4.21, remote: 0.0.0.0, ttl: 0, dev: eth0, mtu: 1480, up: true}
actions:
  description: What was (or, in check mode, would be) done; V(recreate ...) names the fields that forced it.
  returned: success
  type: list
  elements: str
  sample: ["recreate ipip device podnet.ipip local 10.57.4.21 remote any ttl 0 up (local: 10.57.4.20 -> 10.57.4.21)"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module
from ansible_collections.openkube.podnet.plugins.module_utils._ipip import ARGSPEC, Ipip, wanted_from_params


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, Ipip, wanted_from_params, purge_option=False)


if __name__ == '__main__':
    main()
