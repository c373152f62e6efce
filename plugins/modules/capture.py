#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: capture
short_description: Capture ICMP traffic arriving on an underlay device and classify its encapsulation
version_added: 0.1.0
description:
  - Listens on O(dev) with a raw packet socket and records every incoming ICMP or ICMPv6 packet, bare or inside
    IP-in-IP (IP protocol 4) or VXLAN (UDP to O(vxlan_port), with its VNI), with outer and inner addresses and the
    inner packet's family; the outer header is IPv4 or IPv6.
  - Runs until O(seconds) pass or O(stop_file) exists; meant to run asynchronously (C(async), C(poll=0))
    while other hosts send pings, as the role C(openkube.podnet.verify) does. Changes nothing.
options:
  dev:
    description: Device to listen on.
    type: str
    required: true
  seconds:
    description: Longest time to listen.
    type: int
    default: 60
  stop_file:
    description: Stop as soon as this file exists.
    type: path
  vxlan_port:
    description: UDP port whose payload is decoded as VXLAN.
    type: int
    default: 8472
attributes:
  check_mode:
    support: full
    description: Captures in check mode too; it never changes anything.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Linux only (raw packet socket).
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Listen on the underlay while the peers ping
  openkube.podnet.capture:
    dev: eth0
    seconds: 120
    stop_file: /tmp/podnet-verify.stop
  async: 150
  poll: 0
  register: capture_job
'''

RETURN = r'''
packets:
  description: Distinct observations with their packet counts.
  returned: success
  type: list
  elements: dict
  sample: [{outer_src: 10.57.4.20, outer_dst: 10.57.4.21, encap: vxlan, port: 8472, vni: 1,
            inner_src: 192.168.10.10, inner_dst: 192.168.11.10, family: 4, proto: 17, packets: 3}]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._probe import capture


def main():
    module = AnsibleModule(argument_spec=dict(
        dev=dict(type='str', required=True), seconds=dict(type='int', default=60),
        stop_file=dict(type='path'), vxlan_port=dict(type='int', default=8472),
    ), supports_check_mode=True)
    p = module.params
    try:
        dev = v.ifname('dev', p['dev'])
        port = v.port('vxlan_port', p['vxlan_port'])
        packets = capture(dev, p['seconds'], p['stop_file'], port)
    except (v.ValidationError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, packets=packets)


if __name__ == '__main__':
    main()
