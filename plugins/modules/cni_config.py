#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: cni_config
short_description: The CNI network configuration a container runtime reads to attach the host's pods
version_added: 0.1.0
description:
  - Writes (or removes) one CNI network configuration list, C(/etc/cni/net.d/10-podnet.conflist) as the role
    P(openkube.podnet.podnet#role) writes it with C(podnet_cni=true). kubelet through containerd, CRI-O and
    Podman read it and attach pods with the plugins it names.
  - The file is written atomically with mode 0644. It is the collection's when it holds the configuration of
    network O(network); another file at O(path) (another network's, or not JSON) is never overwritten or
    removed.
  - Compared as data (JSON), not as text.
options:
  path:
    description: The file (absolute path), for example C(/etc/cni/net.d/10-podnet.conflist).
    type: str
    required: true
  network:
    description: The network's name, the C(name) of O(config).
    type: str
    default: podnet
  config:
    description:
      - The configuration list (C(cniVersion), C(name), C(plugins)). Required with O(state=present).
    type: dict
  state:
    description: V(present) writes the file; V(absent) removes it when it is the configuration of O(network).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Nothing is written; C(changed) is predicted by the same comparison a real run makes.
  diff_mode:
    support: full
    description: Returns the configuration before and after.
  platform:
    support: full
    platforms: posix
    description: Linux.
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Pods attached to the bridge cni0 with addresses of 192.168.10.0/24 from .20 on
  openkube.podnet.cni_config:
    path: /etc/cni/net.d/10-podnet.conflist
    config:
      cniVersion: 1.0.0
      name: podnet
      plugins:
        - type: bridge
          bridge: cni0
          isGateway: true
          ipMasq: false
          hairpinMode: true
          mtu: 1450
          ipam:
            type: host-local
            ranges: [[{subnet: 192.168.10.0/24, rangeStart: 192.168.10.20, rangeEnd: 192.168.10.254, gateway: 192.168.10.1}]]
            routes: [{dst: 0.0.0.0/0}]
        - type: portmap
          capabilities: {portMappings: true}
'''

RETURN = r'''
files:
  description: The configuration file after the run (or as predicted in check mode); empty when it is absent.
  returned: success
  type: list
  elements: dict
  sample: [{path: /etc/cni/net.d/10-podnet.conflist, network: podnet, config: {cniVersion: 1.0.0, name: podnet, plugins: []}}]
actions:
  description: What was (or, in check mode, would be) done.
  returned: success
  type: list
  elements: str
  sample: ["add CNI configuration /etc/cni/net.d/10-podnet.conflist (network podnet)"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._cni import ARGSPEC, CniConfig, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import NoKernel, run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, CniConfig, wanted_from_params, purge_option=False, nl=NoKernel())


if __name__ == '__main__':
    main()
