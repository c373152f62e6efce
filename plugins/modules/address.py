#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: address
short_description: Manage the IP addresses of one network device in one call
version_added: 0.1.0
description:
  - Converges the IPv4 and IPv6 addresses of device O(dev) with pyroute2.
  - Addresses are keyed by address and prefix length, as the kernel keys IPv4 addresses.
    IPv6 knows an address only once, so an IPv6 address listed with another prefix length
    than the one on the device replaces it.
  - With O(purge), addresses of O(dev) that are not listed are removed, except IPv6
    link-local addresses (C(fe80::/10)), which the kernel makes and IPv6 needs.
  - When removing a primary IPv4 address takes secondary addresses of the same subnet along
    (the kernel does that unless C(promote_secondaries) is set), listed ones are added again.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  dev:
    description:
      - Name of the device. It must exist when an address has to be added
        (in check mode a missing device is predicted to get every listed address).
    type: str
    required: true
  addresses:
    description:
      - Addresses with prefix length, for example V(192.168.10.1/24) or V(fd00:10::1/64).
      - A bare address gets the host prefix (V(/32) or V(/128)).
    type: list
    elements: str
    default: []
  purge:
    description:
      - With O(state=present), remove the addresses of O(dev) that are not in O(addresses)
        (IPv6 link-local addresses excepted).
    type: bool
    default: false
  nodad:
    description:
      - Add IPv6 addresses without duplicate address detection (C(nodad)), so that they are usable at once
        instead of a second or two later. For addresses that are unique by construction, as the collection's
        pod, gateway and VTEP addresses are (each host's own range). Existing addresses are not re-added for it.
    type: bool
    default: false
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: The gateway address of the pod range on the bridge, and nothing else
  openkube.podnet.address:
    dev: podnet0
    addresses:
      - 192.168.10.1/24
    purge: true

- name: The pod's own address on its eth0
  openkube.podnet.address:
    netns: ns1
    dev: eth0
    addresses:
      - 192.168.10.2/24
'''

RETURN = r'''
addresses:
  description: The addresses of O(dev) after the run (or as predicted in check mode).
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: The address, normalised by Python's C(ipaddress).
      type: str
      returned: always
    prefixlen:
      description: Prefix length.
      type: int
      returned: always
    family:
      description: IP version, V(4) or V(6).
      type: int
      returned: always
  sample:
    - {address: 192.168.10.1, prefixlen: 24, family: 4}
    - {address: fe80::8c4f:2dff:fe41:9e31, prefixlen: 64, family: 6}
actions:
  description: What was (or, in check mode, would be) done, one line per address.
  returned: success
  type: list
  elements: str
  sample: ["add 192.168.10.1/24", "delete 10.0.0.9/8"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._address import ARGSPEC, Addresses, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, Addresses, wanted_from_params)


if __name__ == '__main__':
    main()
