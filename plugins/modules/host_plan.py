# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin plugins/action/host_plan.py (on the controller), which runs the
# module openkube.podnet.node_facts on the host once; this file holds its documentation only.

from __future__ import annotations

DOCUMENTATION = r'''
module: host_plan
short_description: Read a host's underlay and compute its pod-network plan, in one task
version_added: 0.1.0
description:
  - Runs M(openkube.podnet.node_facts) on the host, once (the device holding the node IP, its MTU and prefix,
    which peers are on-link), and then, on the controller, computes the host's plan (the pure function
    C(host_plan) of plugins/module_utils/_plan.py).
  - The plan is the key RV(plan) of the result. Register the result (the role C(openkube.podnet.podnet) registers
    it as C(podnet_preflight)) and hand its RV(plan) to M(openkube.podnet.converge).
  - Reads only; never changes anything. Validates every input and fails with a message that names the host,
    the variable (as set in the inventory, for example C(podnet_node_ip) or C(podnet_underlay_dev)) and
    the value. Run it for every host before the first change (the role does, in its preflight).
  - One task per host instead of two (node_facts, then C(set_fact) with the filter); on the controller
    every task costs time per host, whether it runs a module or not.
options:
  cluster:
    description:
      - The hosts of the cluster group, every one a peer of this host. Either their inventory names (for
        example C(groups['podnet_nodes'])), whose C(podnet_node_ip), C(podnet_pod_cidr) and
        C(podnet_vxlan_mac) are then read from C(hostvars), or the nodes returned by the filter
        C(openkube.podnet.cluster_check) (computed once for the whole cluster, which spares every host
        reading every other host's variables).
      - Host names are validated together here, for every host (duplicate node IPs, overlapping pod ranges and
        node IPs inside a pod range); nodes from C(openkube.podnet.cluster_check)
        were validated by that filter, once, and are only normalised.
      - Or the dict C(cluster_check) returns with C(prefixes=true) (C(nodes) and C(prefixes)); the prefixes every
        host's firewall rules use are then taken from it, not computed again for each host.
    type: raw
    required: true
  settings:
    description:
      - The host's settings (mode, state, vxlan_dev, vxlan_vni, vxlan_port, ipip_dev, pods, mtu,
        crosssubnet_encap, encap_filter, encap_filter_backend, forward_accept, iptables); missing or null ones take the defaults
        of the role C(openkube.podnet.podnet).
    type: dict
    required: true
  dev:
    description: The underlay device, when known (C(podnet_underlay_dev)); the task fails if it does not hold the node IP.
    type: str
requirements:
  - pyroute2 >= 0.7.2 on the managed host (for M(openkube.podnet.node_facts))
attributes:
  action:
    support: full
    description: The plan is computed by an action plugin on the controller.
  check_mode:
    support: full
    description: Reads in check mode too; it never changes anything.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Linux only (netlink).
seealso:
  - module: openkube.podnet.node_facts
  - module: openkube.podnet.converge
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Check the cluster's variables once
  ansible.builtin.set_fact:
    cluster: "{{ groups['podnet_nodes'] | openkube.podnet.cluster_check(hostvars) }}"
  run_once: true

- name: Read the underlay and compute this host's plan
  openkube.podnet.host_plan:
    cluster: "{{ cluster }}"
    settings:
      mode: vxlan
  register: preflight

- name: Apply it
  openkube.podnet.converge:
    plan: "{{ preflight.plan }}"
'''

RETURN = r'''
plan:
  description: The host's plan (see plugins/module_utils/_plan.py); the input of M(openkube.podnet.converge).
  returned: success
  type: dict
  contains:
    host:
      description: The host planned.
      type: str
      sample: worker2
    mode:
      description: The mode.
      type: str
      sample: vxlan
    underlay_dev:
      description: The underlay device read on the host.
      type: str
      sample: eth0
    peers:
      description: Every other host of the cluster, with how it is reached (C(encap)).
      type: list
      elements: dict
      sample: [{name: worker3, node_ip: 10.57.4.21, pod_cidr: 192.168.11.0/24, encap: vxlan, pod_ip: 192.168.11.10}]
    routes:
      description: The host's whole table of owned routes.
      type: list
      elements: dict
      sample: [{dst: 192.168.11.0/24, via: 192.168.11.0, dev: podnet.vxlan, onlink: true}]
'''
