#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: bpf_filter
short_description: The collection's eBPF encapsulation filter on a device's tc ingress hook
version_added: 0.2.0
description:
  - Converges, per device, one eBPF program on the device's tc ingress hook that drops IPv4 frames carrying an
    encapsulation (UDP to a port, or IP-in-IP) from a source that is not one of O(filters[].peers), and passes every
    other frame on to the next filter. The peers are the keys of a hash map the program looks the source up in,
    one lookup per encapsulated packet whatever their number.
  - It is the encapsulation filter of M(openkube.podnet.nftables)'s table before the IP stack and outside netfilter
    (0.98 of the unfiltered 64-byte UDP rate through vxlan in docs/benchmarks, where the table gave 0.94-0.97). The
    roles use it with C(podnet_encap_filter_backend=bpf) of the role C(openkube.podnet.podnet).
  - The kernel objects per device are the qdisc C(clsact) (added when missing), a filter of kind C(bpf) on its
    ingress (direct action, priority 10, handle 1) named C(podnet-udp-PORT) or C(podnet-ipip), the program
    C(podnet_encap) and its map C(podnet_peers). The filter holds the program and the program the map; nothing is
    pinned.
  - Filters are keyed by device and owned by this module when their name starts with C(podnet); O(purge) and
    O(state=absent) act on those only. Removing the last filter of a C(clsact) qdisc removes the qdisc.
  - Reads back the filter's name and flags, the program's tag (the kernel's hash of its instructions) and the map's
    keys. A change of the peers updates the map in place (new peers first); another protocol or port, a map too
    small or a program that is not this module's loads a new program and map and swaps them in with one
    C(tc filter replace), so no packet meets a half-changed filter.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  filters:
    description: The filters, one per device. All of them are converged in one call.
    type: list
    elements: dict
    default: []
    suboptions:
      dev:
        description: The device whose ingress is filtered (an Ethernet device, the underlay).
        type: str
        required: true
      protocol:
        description: V(udp) drops UDP to O(filters[].dport) (VXLAN); V(ipip) drops IP protocol 4.
        type: str
        required: true
        choices: [udp, ipip]
      dport:
        description: The UDP destination port, with O(filters[].protocol=udp).
        type: int
      peers:
        description: The IPv4 addresses whose encapsulated packets pass (the peers' node IPs).
        type: list
        elements: str
        default: []
  purge:
    description: With O(state=present), delete the C(podnet) filters on devices that are not in O(filters).
    type: bool
    default: false
requirements:
  - A kernel with the bpf system call, eBPF programs of type C(sched_cls) (BPF_SYSCALL, NET_CLS_BPF, NET_SCH_INGRESS;
    Debian's, RHEL's and Ubuntu's kernels have them), a little-endian CPU, and root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
notes:
  - A container may not load eBPF programs (systemd-nspawn's and Docker's defaults refuse bpf(2)); the module fails
    there and says so.
  - No compiler, libbpf or bpftool is needed on the host; the module loads the program itself (bpf(2) through ctypes).
  - M(openkube.podnet.node_facts) with O(openkube.podnet.node_facts#module:bpf=true) says beforehand whether the host
    can run it.
  - With O(netns), the tc objects are made in that namespace; the program and map are the kernel's, not a namespace's.
  - The filter lasts until the device goes or the host reboots; the role (and its repair units) apply it again.
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Drop VXLAN (UDP 8472) arriving on eth0 from anyone but the cluster's nodes; other podnet filters removed
  openkube.podnet.bpf_filter:
    filters:
      - dev: eth0
        protocol: udp
        dport: 8472
        peers: [10.57.4.20, 10.57.4.21, 10.57.5.7]
    purge: true

- name: Remove the collection's filters
  openkube.podnet.bpf_filter:
    filters: []
    purge: true
'''

RETURN = r'''
filters:
  description: The C(podnet) filters after the run (or as predicted in check mode).
  returned: success
  type: list
  elements: dict
  contains:
    dev:
      description: The device.
      type: str
    name:
      description: The filter's name.
      type: str
    protocol:
      description: V(udp) or V(ipip) (C(null) for a name this module does not write).
      type: str
    dport:
      description: The UDP port, C(null) for V(ipip).
      type: int
    program:
      description: V(podnet) when the filter runs this module's program for its protocol and port (direct action),
        V(other) when not.
      type: str
    peers:
      description: The addresses in the program's map, sorted.
      type: list
      elements: str
  sample:
    - {dev: eth0, name: podnet-udp-8472, protocol: udp, dport: 8472, program: podnet, peers: [10.57.4.20, 10.57.4.21]}
actions:
  description: What was (or, in check mode, would be) done, one line per filter.
  returned: success
  type: list
  elements: str
  sample: ["update the peers of the eBPF filter on eth0: add 10.57.5.7"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._bpf_filter import ARGSPEC, BpfFilters, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, BpfFilters, wanted_from_params)


if __name__ == '__main__':
    main()
