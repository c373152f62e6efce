#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: veth
short_description: Manage a veth pair, optionally with its peer in another network namespace
version_added: 0.1.0
description:
  - Makes a veth pair exist with the given names, MTU, MAC addresses and up state, using pyroute2.
  - O(name) is the end that stays in O(netns) (or the target's own namespace); O(peer) is the
    other end, which can be moved into O(peer_netns), the usual shape of a pod's C(eth0).
  - The peer is found through the kernel's pairing of the two ends, not by name, also once it has
    been moved into O(peer_netns), so running the module again changes nothing.
  - MTU, MAC addresses and up/down are changed in place, and a peer in the wrong named namespace is
    moved. The pair is deleted and created again when O(name) exists but is not a veth, when its
    peer has another name, or when the peer lives in a namespace without a name in C(/run/netns).
  - With O(state=absent) the pair is deleted when O(name) is a veth (its peer goes with it); a link
    of another kind named O(name) is left alone.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  name:
    description: Name of the end that stays in O(netns). At most 15 bytes.
    type: str
    required: true
  peer:
    description:
      - Name of the other end. At most 15 bytes. Required with O(state=present).
      - It must differ from O(name) when both ends are in the same namespace.
    type: str
  peer_netns:
    description:
      - Namespace (in C(/run/netns)) the peer is put in. Omit to keep the peer beside O(name).
      - It must exist. When it is missing, check mode predicts the change and a real run fails.
    type: str
  mtu:
    description: MTU of both ends. Omit to leave it as it is (the kernel's default for a new pair).
    type: int
  mac:
    description: MAC address of O(name). Omit to leave it as it is (random for a new pair).
    type: str
  peer_mac:
    description: MAC address of O(peer). Omit to leave it as it is (random for a new pair).
    type: str
  up:
    description: Whether both ends are up (V(true)) or down (V(false)).
    type: bool
    default: true
  master:
    description:
      - The bridge whose port O(name) is (M(openkube.podnet.bridge)), in the namespace of O(name); it must exist.
        Set in place.
      - When omitted, O(name)'s master is not compared (whatever it is, it stays).
    type: str
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: The pair of pod 1, its eth0 in namespace ns1
  openkube.podnet.veth:
    name: veth-ns1
    peer: eth0
    peer_netns: ns1
    mtu: 1450
    peer_mac: 0e:8a:15:00:00:01

- name: Remove it (the peer goes with it)
  openkube.podnet.veth:
    name: veth-ns1
    state: absent
'''

RETURN = r'''
veth:
  description: The pair after the run (or as predicted in check mode); an empty list when it is absent.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Name of the end in O(netns).
      type: str
      returned: always
    kind:
      description: Kind of link O(name) is (V(veth) once converged).
      type: str
      returned: always
    peer:
      description: Name of the other end.
      type: str
      returned: always
    peer_netns:
      description: Namespace of the peer; V(null) when it is beside O(name).
      type: str
      returned: always
    mtu:
      description: MTU of O(name); V(null) in a prediction when it was not asked for.
      type: int
      returned: always
    peer_mtu:
      description: MTU of the peer.
      type: int
      returned: always
    mac:
      description: MAC address of O(name), lower case.
      type: str
      returned: always
    peer_mac:
      description: MAC address of the peer, lower case.
      type: str
      returned: always
    up:
      description: Whether O(name) is up.
      type: bool
      returned: always
    master:
      description: The bridge O(name) is a port of, or C(null).
      type: str
      returned: always
    peer_up:
      description: Whether the peer is up.
      type: bool
      returned: always
  sample:
    - {name: veth-ns1, kind: veth, peer: eth0, peer_netns: ns1, mtu: 1450, peer_mtu: 1450,
       mac: 9a:3c:11:0e:52:7d, peer_mac: 0e:8a:15:00:00:01, up: true, peer_up: true}
actions:
  description: What was (or, in check mode, would be) done.
  returned: success
  type: list
  elements: str
  sample: ["update veth-ns1 peer eth0 in ns1 (mtu: 1500 -> 1450, peer_mtu: 1500 -> 1450)"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module
from ansible_collections.openkube.podnet.plugins.module_utils._veth import ARGSPEC, VethPair, wanted_from_params


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, VethPair, wanted_from_params, purge_option=False)


if __name__ == '__main__':
    main()
