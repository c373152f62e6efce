#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: lab_machines
short_description: Build, reboot or remove the booted lab of Debian machines (systemd-nspawn, reached over SSH)
version_added: 0.2.0
description:
  - Boots Debian 12 machines on the machine it runs on, each with systemd as PID 1, sshd, sudo, C(/usr/bin/python3),
    its own root file system and its own network namespace C(/run/netns/NAME-HOST); the machine's root network
    namespace is never changed.
  - Each machine's C(eth0) is a veth to a bridge in the switch namespace C(NAME-sw); the machine gives it its
    address itself at boot (systemd-networkd), as a real host does. A bastion namespace C(NAME-bastion) on the
    same bridge is where SSH connections start (C(ProxyCommand ip netns exec NAME-bastion nc %h %p)).
  - The image (debootstrap of bookworm, minbase, with a local package repository holding Debian's
    C(python3-pyroute2) and C(nftables) as its only apt source) is built once into C(/var/cache/podnet/machines). Each machine
    gets a copy under C(/var/lib/podnet/machines/NAME/HOST), the user C(podnet) with the lab's key
    (C(/var/lib/podnet/machines/NAME/id_ed25519)) and passwordless sudo.
  - O(reboot) reboots machines for real (C(systemctl reboot) inside); each comes back in a fresh network
    namespace, its disk kept.
  - O(state=absent) kills every process of the machines, removes their namespaces, disks and the key pair.
  - The role C(openkube.podnet.lab) and C(playbooks/lab.yml) call it for an inventory with
    C(podnet_lab_kind=machines) (C(inventories/lab-machines)).
options:
  name:
    description: Name of the lab (1-8 letters, digits or C(-)); its namespaces are C(NAME-*).
    type: str
    default: machines
  hosts:
    description: The machines.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Host name (1-12 letters, digits or C(-)), the machine's hostname.
        type: str
        required: true
      node_ip:
        description: The machine's IPv4 address on the segment, configured by the machine at boot.
        type: str
        required: true
      node_ip6:
        description: The machine's IPv6 address on the segment (in O(cidr6)), configured by the machine at boot too.
        type: str
      pyroute2:
        description: Install Debian's C(python3-pyroute2) into the machine's image copy.
        type: bool
        default: false
      nftables:
        description: Install Debian's C(nftables) (the C(nft) program, which a standard Debian install has) into the
          machine's image copy.
        type: bool
        default: false
  cidr:
    description: The segment all machines are on.
    type: str
    default: 10.57.4.0/24
  cidr6:
    description: The segment's IPv6 prefix, for the machines' O(hosts[].node_ip6) (a dual-stack underlay).
    type: str
  bastion_ip:
    description: The bastion's address on the segment. Omitted, the last usable address of O(cidr).
    type: str
  reboot:
    description: Machines to reboot (after the others are up).
    type: list
    elements: str
    default: []
  state:
    description: C(present) builds and boots what is missing; C(absent) removes everything.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - openkube.podnet.common.lab
notes:
  - Needs root, C(debootstrap) and C(systemd-nspawn) (Debian package C(systemd-container)) on the machine that runs it.
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Boot worker2 (with Debian's pyroute2) and worker3 (without)
  openkube.podnet.lab_machines:
    name: machines
    hosts:
      - {name: worker2, node_ip: 10.57.4.20, pyroute2: true}
      - {name: worker3, node_ip: 10.57.4.21}

- name: Reboot worker3
  openkube.podnet.lab_machines:
    hosts:
      - {name: worker2, node_ip: 10.57.4.20, pyroute2: true}
      - {name: worker3, node_ip: 10.57.4.21}
    reboot: [worker3]
'''

RETURN = r'''
actions:
  description: What was done, in order.
  returned: always
  type: list
  elements: str
machines:
  description: Each machine's name, node_ip, root directory, network namespace and systemd-nspawn pid.
  returned: always
  type: list
  elements: dict
key:
  description: The private key that logs in as C(podnet) on every machine.
  returned: always
  type: str
bastion:
  description: The namespace SSH connections start from.
  returned: always
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._lab_machines import machines_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import require_pyroute2
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', default='machines'),
            hosts=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                node_ip=dict(type='str', required=True),
                node_ip6=dict(type='str'),
                pyroute2=dict(type='bool', default=False),
                nftables=dict(type='bool', default=False),
            )),
            cidr=dict(type='str', default='10.57.4.0/24'),
            cidr6=dict(type='str'),
            bastion_ip=dict(type='str'),
            reboot=dict(type='list', elements='str', default=[]),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    require_pyroute2(module)
    if os.geteuid() != 0:
        module.fail_json(msg='the booted lab needs root (namespaces, systemd-nspawn); run it as root or with become')
    try:
        machines, reboot = machines_from_params(module.params)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    machines.check = module.check_mode
    try:
        if module.params['state'] == 'absent':
            result = machines.teardown()
        else:
            result = machines.apply(reboot)
    except (PodnetError, OSError) as exc:
        module.fail_json(msg=str(exc), actions=machines.actions)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
