#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: sysctl
short_description: Set kernel parameters (/proc/sys), also inside a network namespace
version_added: 0.1.0
description:
  - Sets the kernel parameters in O(settings) by writing C(/proc/sys), and only those.
  - With O(netns), the module process enters that namespace itself (C(setns) through pyroute2)
    to read and write its C(net.*) parameters; nothing runs C(ip netns exec) or C(sysctl).
  - Every named parameter is read before the first write, so a name that does not exist fails
    the run before anything is changed. A value the kernel refuses fails the run at that
    parameter; parameters before it (in name order) have been set.
  - Values are compared as the kernel prints them. Numbers compare as numbers (V(01) is V(1)),
    and fields separated by any whitespace compare field by field (V(32768 60999)).
  - Nothing is persisted (no C(/etc/sysctl.d) file); the values last until reboot, or until the
    namespace is deleted.
  - In check mode, a parameter of a device that does not exist yet (created by an earlier task) is
    predicted from the namespace's C(default) value, which a new device starts with.
  - In the host's own namespace (without O(netns)) the module records in O(ledger) the value each
    parameter had before its first change, and O(purge) sets the recorded parameters that are no
    longer in O(settings) back to that value. The entry role uses it so that a mode switch or
    O(openkube.podnet.podnet#role:main:podnet_state=absent) leaves no setting behind.
extends_documentation_fragment:
  - openkube.podnet.common
  - openkube.podnet.common.state
options:
  settings:
    description:
      - Parameter name to value, for example C(net.ipv4.ip_forward=1).
      - Names are dotted (V(net.ipv4.conf.all.rp_filter)) or, when an interface name contains a
        dot, written with C(/) between the parts (V(net/ipv4/conf/eth0.10/rp_filter)).
      - Values are strings or integers. Quote V(yes), V(no), V(true) and V(false) in YAML.
      - With O(netns), only C(net.*) parameters are allowed, the others belong to the whole host.
    type: dict
    required: true
  state:
    description:
      - Only V(present) (the parameters have the given values). A kernel parameter cannot be
        absent; to undo settings, use O(purge).
    type: str
    choices: [present]
    default: present
  purge:
    description:
      - Set every parameter recorded in O(ledger) that is not in O(settings) back to the value it had
        before this module first changed it, and forget it. A parameter whose device has gone is
        forgotten. O(settings) may then be empty.
      - Not with O(netns), only the host's own namespace has a ledger.
    type: bool
    default: false
  ledger:
    description:
      - The file where the values from before the first change are kept (JSON). Under C(/run) it
        lasts exactly as long as the values it describes, until reboot.
      - Not used with O(netns).
    type: path
    default: /run/podnet/sysctl.json
  removed_devices:
    description:
      - Devices that an earlier step of the same run removes (a tunnel device of another mode). Their
        recorded parameters are forgotten instead of restored, also in check mode, where the device is
        still there, so that check mode predicts exactly what the real run does.
    type: list
    elements: str
    default: []
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Forward packets and use loose reverse path filtering
  openkube.podnet.sysctl:
    settings:
      net.ipv4.ip_forward: '1'
      net.ipv4.conf.all.rp_filter: '2'

- name: Inside pod namespace ns1
  openkube.podnet.sysctl:
    netns: ns1
    settings:
      net.ipv6.conf.all.disable_ipv6: '1'

- name: Forwarding on; anything changed earlier and not named here goes back to its old value
  openkube.podnet.sysctl:
    settings:
      net.ipv4.ip_forward: '1'
    purge: true
'''

RETURN = r'''
settings:
  description: The named parameters after the run (or as predicted in check mode).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The parameter name as given.
      type: str
      returned: always
    value:
      description: Its value, whitespace normalised to single spaces.
      type: str
      returned: always
  sample:
    - {name: net.ipv4.ip_forward, value: '1'}
actions:
  description: What was (or, in check mode, would be) done, one line per parameter.
  returned: success
  type: list
  elements: str
  sample:
    - "update net.ipv4.ip_forward = 1 (value: 0 -> 1)"
    - "restore net/ipv4/conf/eth0/rp_filter = 0 (value before the collection changed it; now 2)"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module
from ansible_collections.openkube.podnet.plugins.module_utils._sysctl import ARGSPEC, Sysctl, wanted_from_params


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, Sysctl, wanted_from_params)


if __name__ == '__main__':
    main()
