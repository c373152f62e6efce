#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: route
short_description: Manage a table of IP routes in one call, tagged as owned by this collection
version_added: 0.1.0
description:
  - Converges a list of routes (destination, gateway, device, onlink, metric, table, scope) with pyroute2.
  - Every route this module creates carries route protocol number C(57), shown by
    C(ip route) as C(proto 57). That number marks the route as owned by openkube.podnet.
  - O(purge) and O(state=absent) only ever delete owned routes. A route of another protocol
    is never changed or deleted; when it takes the place of a wanted route (same table,
    destination and metric) but differs, the module fails and names it.
  - Routes are keyed by table, destination and metric, as the kernel keys them.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  routes:
    description: The routes. All of them are converged in one call.
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: Destination network in CIDR notation, a single address, or V(default).
        type: str
        required: true
      via:
        description: Gateway address.
        type: str
      dev:
        description: Outgoing device name. It must exist when the route is added.
        type: str
      onlink:
        description: Pretend the gateway is on-link (needed for tunnel and vxlan routes). Needs O(routes[].via) and O(routes[].dev).
        type: bool
        default: false
      metric:
        description: Route metric (priority).
        type: int
        default: 0
      table:
        description: Routing table id or V(main).
        type: raw
        default: main
      scope:
        description: Route scope; V(link) for routes without gateway and V(universe) otherwise when omitted.
        type: str
        choices: [universe, site, link, host]
  purge:
    description:
      - With O(state=present), delete owned routes (protocol 57) of the tables in O(routes)
        (the main table when O(routes) is empty) that are not listed.
    type: bool
    default: false
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Route the peers' pod ranges through the ipip device (one call for every peer)
  openkube.podnet.route:
    routes:
      - dst: 192.168.11.0/24
        via: 10.57.4.21
        dev: podnet.ipip
        onlink: true
      - dst: 192.168.12.0/24
        via: 10.57.4.22
        dev: podnet.ipip
        onlink: true
    purge: true

- name: Default route of a pod, inside its namespace
  openkube.podnet.route:
    netns: ns1
    routes:
      - dst: default
        via: 192.168.10.1
        dev: eth0
        onlink: true
'''

RETURN = r'''
routes:
  description: The routes in scope (the tables named in O(routes)) after the run, or as predicted in check mode.
  returned: success
  type: list
  elements: dict
  sample:
    - {dst: 192.168.11.0/24, via: 10.57.4.21, dev: eth0, onlink: false, metric: 0, table: 254, scope: universe, proto: 57}
actions:
  description: What was (or, in check mode, would be) done, one line per route.
  returned: success
  type: list
  elements: str
  sample: ["add 192.168.11.0/24 via 10.57.4.21 dev eth0"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module
from ansible_collections.openkube.podnet.plugins.module_utils._route import ARGSPEC, RouteTable, wanted_from_params


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, RouteTable, wanted_from_params)


if __name__ == '__main__':
    main()
