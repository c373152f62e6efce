#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: lab_namespaces
short_description: Build or remove the embedded lab of simulated hosts in namespaces on one machine
version_added: 0.1.0
description:
  - Builds simulated Linux hosts on the machine it runs on. Each host has its own network, mount and
    UTS namespaces, kept by bind mounts under C(/run/podnet/NAME/HOST/{net,mnt,uts}) (no process keeps running).
  - Inside a host, C(/run/netns) is a private tmpfs (each host can have its own C(ns1)), C(/run/podnet) is
    hidden, C(/sys) belongs to the host's network namespace, and the hostname is the host's name.
  - Each host's C(eth0) is a veth whose peer is a port of the segment's bridge in the switch namespace
    C(/run/podnet/NAME/_switch/net); it gets the node IP with the segment's prefix length.
  - When a segment has a C(gateway), a router namespace C(/run/podnet/NAME/_router/net) gets one
    leg per such segment with the gateway address and forwards between them; the hosts of that
    segment get a default route through it.
  - The machine's root network namespace is never changed; veth pairs are created inside the switch
    namespace with their far end placed directly in the host or router namespace.
  - Building is idempotent. Hosts, bridges and router legs that are not in the topology are removed.
  - O(state=absent) kills every process left in the lab's namespaces, unmounts every namespace file and
    removes C(/run/podnet/NAME).
  - The connection plugin P(openkube.podnet.lab_host#connection) runs tasks inside a lab host; the role
    C(openkube.podnet.lab) and the playbook C(playbooks/lab.yml) build the lab from the inventory.
options:
  name:
    description: Name of the lab; its files are under C(/run/podnet/NAME).
    type: str
    default: lab
  hosts:
    description: The simulated hosts.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Host name (the inventory name), used as hostname and directory name.
          - Letters, digits, C(.), C(_) and C(-); it must not start with C(_) or C(.).
        type: str
        required: true
      node_ip:
        description: The host's IPv4 address on its segment (set on its C(eth0)).
        type: str
        required: true
      node_ip6:
        description:
          - The host's IPv6 address on its segment (set on its C(eth0) beside O(hosts[].node_ip), without duplicate
            address detection), for a lab with an IPv6 underlay. The segment needs a C(cidr6) that holds it.
        type: str
      segment:
        description: Name of the host's segment. Omitted, the segment whose C(cidr) contains O(hosts[].node_ip).
        type: str
  segments:
    description:
      - The underlay segments, as a list of dicts or a dict keyed by segment name.
      - Each has C(name) (1-11 letters, digits, C(_) or C(-); the bridge is C(br-NAME)), C(cidr)
        (IPv4 network), optional C(gateway) (an address of C(cidr) given to the router) and C(mtu)
        (default C(1500)). Segments must not overlap.
      - For an IPv6 underlay beside the IPv4 one, C(cidr6) (the segment's IPv6 network, at most a /126) and, on a
        segment with a C(gateway), C(gateway6) (the router's IPv6 address there; the hosts get an IPv6 default
        route through it and the router forwards IPv6 too).
    type: raw
    default: []
  state:
    description: V(present) builds (or converges) the lab, V(absent) removes all of it.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pyroute2 >= 0.7.2, util-linux (C(unshare), C(nsenter), C(mount), C(findmnt)) and iproute2 on the machine.
  - Root.
extends_documentation_fragment:
  - openkube.podnet.common.lab
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: The two hosts of the reference setup on one segment
  openkube.podnet.lab_namespaces:
    hosts:
      - {name: worker2, node_ip: 10.57.4.20}
      - {name: worker3, node_ip: 10.57.4.21}
    segments:
      - {name: underlay, cidr: 10.57.4.0/24}

- name: Two subnets joined by a router
  openkube.podnet.lab_namespaces:
    name: routed
    hosts:
      - {name: worker2, node_ip: 10.57.4.20}
      - {name: worker4, node_ip: 10.57.5.20}
    segments:
      net4: {cidr: 10.57.4.0/24, gateway: 10.57.4.1}
      net5: {cidr: 10.57.5.0/24, gateway: 10.57.5.1}

- name: Remove the lab
  openkube.podnet.lab_namespaces:
    state: absent
'''

RETURN = r'''
actions:
  description: What was (or in check mode would be) done, one line each.
  returned: always
  type: list
  elements: str
  sample: ["create host worker2 (net, mnt and uts namespaces)", "worker2: add address 10.57.4.20/24 to eth0"]
lab:
  description: The lab as built (hosts are empty after O(state=absent)).
  returned: success
  type: dict
  contains:
    name: {description: Lab name., type: str, returned: success}
    path: {description: Its directory., type: str, returned: success, sample: /run/podnet/lab}
    state: {description: V(present) or V(absent)., type: str, returned: success}
    segments:
      description: Segments (name, cidr, gateway, mtu, cidr6, gateway6).
      type: list
      elements: dict
      returned: success
    hosts:
      description: >-
        Hosts (name, node_ip, segment, address, gateway, node_ip6, address6, gateway6, and the paths of their net, mnt
        and uts namespace files).
      type: list
      elements: dict
      returned: success
    switch: {description: Path of the switch namespace file., type: str, returned: success}
    router: {description: 'Path of the router namespace file, or null.', type: str, returned: success}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._lab_namespaces import ARGSPEC, run


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run(module)


if __name__ == '__main__':
    main()
