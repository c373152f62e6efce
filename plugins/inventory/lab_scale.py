# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: lab_scale
short_description: N simulated lab hosts for scale work, from one number
version_added: 0.1.0
description:
  - Generates O(count) lab hosts C(node001), C(node002), ... in group C(podnet_nodes), a child of group
    C(podnet_lab), like C(inventories/lab) but with any number of hosts on one segment.
  - Host I(i) (from 0) gets C(podnet_node_ip) = O(first_ip) + I(i) (crossing into the next /24 as needed)
    and C(podnet_pod_cidr) = C(192.168.(10+i).0/24) for the first 240 hosts, then C(10.244.(i-240).0/24), so at most
    496 hosts.
  - Group variables (connection, interpreter, segments, lab name) come from C(group_vars/) beside the
    inventory file, as for the other lab inventories.
  - The file name must end in C(podnet_lab_scale.yml) or C(podnet_lab_scale.yaml).
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [openkube.podnet.lab_scale]
  count:
    description: Number of hosts (1 to 496).
    type: int
    default: 2
    env:
      - name: PODNET_LAB_HOSTS
  first_ip:
    description: Node IP of the first host.
    type: str
    default: 10.57.4.20
  segment:
    description: The segment every node IP must lie in (the lab's C(podnet_lab_segments) should match).
    type: str
    default: 10.57.0.0/16
  name_prefix:
    description: Host names are this prefix and a three-digit number from 001.
    type: str
    default: node
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
# inventories/lab-scale/lab.podnet_lab_scale.yml
plugin: openkube.podnet.lab_scale
# then: PODNET_LAB_HOSTS=64 ansible-playbook -i inventories/lab-scale playbooks/lab.yml
'''

import ipaddress

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

#: the first 240 hosts' pod ranges are 192.168.10.0/24 .. 192.168.249.0/24, the next 256 10.244.0.0/24 .. 10.244.255.0/24
FIRST_RANGES = 240
MAX_HOSTS = FIRST_RANGES + 256


def pod_cidr(i):
    """The pod range of host ``i`` (from 0)."""
    return '192.168.%d.0/24' % (10 + i) if i < FIRST_RANGES else '10.244.%d.0/24' % (i - FIRST_RANGES)


def scale_hosts(count, first_ip='10.57.4.20', segment='10.57.0.0/16', name_prefix='node'):
    """[(name, node_ip, pod_cidr)] for ``count`` hosts; ValueError with a clear message when impossible."""
    try:
        count = int(count)
    except (TypeError, ValueError):
        raise ValueError('PODNET_LAB_HOSTS (count) must be a number, not %r' % (count,))
    if not 1 <= count <= MAX_HOSTS:
        raise ValueError('PODNET_LAB_HOSTS (count) is %d: the scale lab has 1 to %d hosts '
                         '(pod ranges 192.168.10.0/24 .. 192.168.249.0/24, then 10.244.0.0/24 .. 10.244.255.0/24)'
                         % (count, MAX_HOSTS))
    net = ipaddress.ip_network(segment)
    first = ipaddress.ip_address(first_ip)
    hosts = []
    for i in range(count):
        ip = first + i
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            raise ValueError('node IP %s of host %d is not a host address of %s' % (ip, i + 1, net))
        hosts.append(('%s%03d' % (name_prefix, i + 1), str(ip), pod_cidr(i)))
    return hosts


class InventoryModule(BaseInventoryPlugin):
    NAME = 'openkube.podnet.lab_scale'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            ('podnet_lab_scale.yml', 'podnet_lab_scale.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            hosts = scale_hosts(self.get_option('count'), self.get_option('first_ip'),
                                self.get_option('segment'), self.get_option('name_prefix'))
        except ValueError as exc:
            raise AnsibleParserError('%s: %s' % (path, exc))
        self.inventory.add_group('podnet_lab')
        self.inventory.add_group('podnet_nodes')
        self.inventory.add_child('podnet_lab', 'podnet_nodes')
        for name, node_ip, pod_cidr in hosts:
            self.inventory.add_host(name, group='podnet_nodes')
            self.inventory.set_variable(name, 'podnet_node_ip', node_ip)
            self.inventory.set_variable(name, 'podnet_pod_cidr', pod_cidr)
