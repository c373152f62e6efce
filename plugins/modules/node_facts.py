#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: node_facts
short_description: Read a node's underlay (device, MTU, prefix) and which peers are on-link
version_added: 0.1.0
description:
  - Finds the interface that holds O(node_ip), its MTU and prefix, and, for every address in O(peers),
    whether the kernel reaches it directly (a route without gateway through that interface), which is
    what host routes (host-gw) need.
  - Reads only; never changes anything. Much cheaper than gathering network facts.
options:
  node_ip:
    description: The node's own IPv4 address on the underlay.
    type: str
    required: true
  node_ip6:
    description:
      - The node's own IPv6 address on the underlay, on a dual-stack underlay. It must be on the device that holds
        O(node_ip); its network is returned as RV(underlay_network6).
    type: str
  dev:
    description: The underlay device, when known; the module fails if it does not hold O(node_ip).
    type: str
  peers:
    description: Node IPs of the peers to test for on-link reachability (IPv4, and IPv6 on a dual-stack underlay).
    type: list
    elements: str
    default: []
  names:
    description:
      - What the error messages call the options, when they come from variables of another name (the action
        M(openkube.podnet.host_plan) passes C(podnet_node_ip) and C(podnet_underlay_dev)).
      - Keys C(node_ip), C(node_ip6) and C(dev) (strings) and C(peers) (a list, one name per element of O(peers)); an option
        without a name here is called by its own name (C(node_ip), C(dev), C(peers[2])).
    type: dict
    default: {}
  record:
    description:
      - The collection's record of what it applied on this host (C(podnet_state_dir/applied.json)). Its pods are
        returned as RV(recorded_pods) (and its pods' bridge and CNI configuration as RV(recorded_bridge) and
        RV(recorded_cni)), so that the plan can remove what the collection made and no longer wants.
      - A missing or unreadable record gives no pods; it is never an error.
    type: str
  ipset:
    description:
      - Probe whether the kernel can hold the encapsulation filter's ip set (modules C(ip_set), C(ip_set_hash_net),
        and the iptables match C(set) of C(xt_set)), returned as RV(ipset_missing). Reads only (the kernel may load
        those modules on demand, as it does when a set is created).
    type: bool
    default: false
  nftables:
    description:
      - Probe whether the host can hold the encapsulation filter as the collection's nftables tables of these
        families (V(ip), V(ip6)), returned as RV(nftables). The kernel checks one C(nft --check) transaction with
        such a table (a set of addresses, a base chain on the input hook, a rule that looks the source up in the
        set) and discards it; nothing is created.
      - Where the probe succeeds, O(ipset) is not probed (the plan uses nftables, not an ip set).
      - An empty list only looks for the C(nft) program.
    type: list
    elements: str
  bpf:
    description:
      - Probe whether the host can run the encapsulation filter as the collection's eBPF program on the underlay's tc
        ingress hook (M(openkube.podnet.bpf_filter)), returned as RV(bpf). A child process in a network namespace of
        its own, which goes when it ends, loads the program with its map and attaches it to that namespace's
        loopback device; the host's own namespaces are not touched.
    type: bool
    default: false
requirements:
  - pyroute2 >= 0.7.2 on the managed host
attributes:
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
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Read the underlay
  openkube.podnet.node_facts:
    node_ip: 10.57.4.20
    peers: [10.57.4.21]
  register: underlay
'''

RETURN = r'''
underlay_dev:
  description: The device holding the node IP.
  returned: success
  type: str
  sample: eth0
underlay_mtu:
  description: Its MTU.
  returned: success
  type: int
  sample: 1500
underlay_network:
  description: The node IP's network.
  returned: success
  type: str
  sample: 10.57.4.0/24
underlay_network6:
  description: The network of O(node_ip6), when it is given.
  returned: when O(node_ip6) is given
  type: str
  sample: fd57:4::/64
onlink:
  description: For every peer, whether it is reached without a gateway through the underlay device.
  returned: success
  type: dict
  sample: {"10.57.4.21": true}
links:
  description:
    - Every link of the host by name, with its kind (null for a physical device), and for vxlan devices
      their VNI and UDP port, for ipip devices their local and remote address. The plan uses it to refuse
      a device name, VNI or port that something else on the host already uses.
  returned: success
  type: dict
  sample: {"eth0": {"kind": "veth"}, "clash1": {"kind": "vxlan", "vni": 1, "port": 8472}}
rp_filter:
  description:
    - IPv4 reverse-path filtering in the host's network namespace (0 off, 1 strict, 2 loose) - C(all),
      C(default) (what a new device starts with) and C(devices), the own value of the underlay device and of
      every vxlan and ipip device. The kernel applies the larger of C(all) and the device's value. The plan sets
      loose filtering on the tunnel and underlay devices only where that is not 0. A value that cannot be read is
      left out.
  returned: success
  type: dict
  sample: {"all": 0, "default": 0, "devices": {"eth0": 0, "podnet.vxlan": 0}}
recorded_pods:
  description: The pods of the plan in O(record) (name and host side of the veth); empty without a usable record.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "ns1", "host_dev": "veth-ns1"}]
recorded_bridge:
  description: The pods' bridge of the plan in O(record), or C(null).
  returned: success
  type: str
  sample: cni0
ipset_missing:
  description: Why the kernel cannot hold the encapsulation filter's ip set, or an empty string when it can.
  returned: when O(ipset) is true
  type: str
  sample: 'this kernel has no iptables match set (module xt_set)'
nftables:
  description:
    - V(found) is whether the host has the C(nft) program; V(missing) why the host cannot hold the filter's nftables
      tables of the families of O(nftables), or an empty string when it can.
  returned: when O(nftables) is given
  type: dict
  sample: {"found": true, "missing": ""}
bpf:
  description:
    - V(missing) is why the host cannot run the collection's eBPF filter, or an empty string when it can.
  returned: when O(bpf) is true
  type: dict
  sample: {"missing": ""}
recorded_bpf:
  description: The devices that the eBPF filters of the plan in O(record) are on (the plan removes them when it no
    longer wants them).
  returned: success
  type: list
  elements: str
  sample: [eth0]
recorded_cni:
  description: The CNI configuration file of the plan in O(record), or C(null).
  returned: success
  type: str
  sample: /etc/cni/net.d/10-podnet.conflist
cni_plugins:
  description: Where the CNI plugins C(bridge), C(host-local) and C(portmap) are installed (C(/usr/lib/cni), where
    Debian puts them, then C(/opt/cni/bin)), C(null) for one that is not.
  returned: success
  type: dict
  sample: {"bridge": /usr/lib/cni/bridge, "host-local": /usr/lib/cni/host-local, "portmap": null}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._netlink import Netlink, PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._node import ARGSPEC, read, validate
from ansible_collections.openkube.podnet.plugins.module_utils._resource import require_pyroute2
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    require_pyroute2(module)
    try:
        wanted = validate(module.params)
        with Netlink() as nl:
            facts = read(nl, wanted)
    except (PodnetError, ValidationError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **facts)


if __name__ == '__main__':
    main()
