#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: bridge
short_description: Manage the Linux bridge of a host's pods (the layout of flannel's and the CNI bridge plugin's cni0)
version_added: 0.1.0
description:
  - Creates, changes or deletes one bridge device with pyroute2 (never by running C(ip)).
  - The bridge of O(name) holds the pod range's gateway address (M(openkube.podnet.address)), and the host ends
    of the pods' veth pairs are its ports (M(openkube.podnet.veth), O(openkube.podnet.veth#module:master)), as are
    those a container runtime attaches with the CNI C(bridge) plugin configured on the same bridge.
  - O(mtu) and O(up) change in place. A device named O(name) that is not a bridge is never changed or deleted.
    With O(state=present) the module fails and names its kind; with O(state=absent) it is left alone.
  - Deleting a bridge releases its ports (they stay, unattached).
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  name:
    description: Name of the bridge (at most 15 bytes), for example V(cni0).
    type: str
    required: true
  mtu:
    description: MTU. When omitted, a new bridge gets the kernel's default and an existing one keeps its own.
    type: int
  mac:
    description:
      - MAC address, set in place. A bridge whose MAC was set keeps it; without one the kernel gives the bridge the
        lowest MAC of its ports, which changes as pods come and go (and with it the gateway's MAC in every pod's
        ARP cache). The role sets a stable one, derived from the node IP.
    type: str
  up:
    description: Whether the bridge is administratively up.
    type: bool
    default: true
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: The pods' bridge, as flannel lays it out
  openkube.podnet.bridge:
    name: cni0
    mtu: 1450
    mac: 0e:1b:2c:3d:4e:5f

- name: Its gateway address, the first of the pod range
  openkube.podnet.address:
    dev: cni0
    addresses: [192.168.10.1/24]
    purge: true

- name: Remove it
  openkube.podnet.bridge:
    name: cni0
    state: absent
'''

RETURN = r'''
bridge:
  description: The bridge after the run (or as predicted in check mode); empty when it is absent.
  returned: success
  type: list
  elements: dict
  sample: [{name: cni0, kind: bridge, mtu: 1450, mac: "0e:1b:2c:3d:4e:5f", up: true}]
actions:
  description: What was (or, in check mode, would be) done.
  returned: success
  type: list
  elements: str
  sample: ["add bridge cni0 mac 0e:1b:2c:3d:4e:5f mtu 1450 up"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._bridge import ARGSPEC, Bridge, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, Bridge, wanted_from_params, purge_option=False)


if __name__ == '__main__':
    main()
