#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pod_ping
short_description: Ping a list of addresses from inside a network namespace (ICMP echo, raw socket)
version_added: 0.1.0
description:
  - Sends ICMP echo requests (ICMPv6 to IPv6 targets) from inside the named namespace to every target, in parallel, and reports
    per target how many were answered. Needs no ping binary. Changes nothing.
  - With O(dont_fragment) and O(size), it checks the path MTU; a packet larger than the route
    MTU is refused locally with V(Message too long).
options:
  netns:
    description: Namespace to ping from (C(/run/netns/NAME)); omit for the target's own.
    type: str
  targets:
    description: IPv4 and IPv6 addresses to ping.
    type: list
    elements: str
    required: true
  count:
    description: Echo requests per target.
    type: int
    default: 3
  timeout:
    description: Seconds to wait for each reply.
    type: float
    default: 1.0
  size:
    description: ICMP payload bytes (the IPv4 packet is 28 bytes larger, the IPv6 one 48).
    type: int
    default: 56
  dont_fragment:
    description: Set DF (path MTU discovery "do"; for IPv6, which routers never fragment, no local fragmentation).
    type: bool
    default: false
  fail_on_loss:
    description: Fail when some target answered none of the requests.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Pings in check mode too; it never changes anything.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Linux only (network namespaces, raw ICMP socket).
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Every peer pod answers
  openkube.podnet.pod_ping:
    netns: ns1
    targets: [192.168.11.10, 192.168.12.10]
    fail_on_loss: true
'''

RETURN = r'''
results:
  description: One entry per target.
  returned: success
  type: list
  elements: dict
  sample: [{target: 192.168.11.10, sent: 3, received: 3, error: null, rtt_ms: [0.1, 0.08, 0.07]}]
no_answer:
  description:
    - Targets that answered none of the requests.
    - Not named C(unreachable), the key with which Ansible marks a host unreachable.
  returned: success
  type: list
  elements: str
'''

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import enter_netns
from ansible_collections.openkube.podnet.plugins.module_utils._probe import ping


def main():
    module = AnsibleModule(argument_spec=dict(
        netns=dict(type='str'), targets=dict(type='list', elements='str', required=True),
        count=dict(type='int', default=3), timeout=dict(type='float', default=1.0),
        size=dict(type='int', default=56), dont_fragment=dict(type='bool', default=False),
        fail_on_loss=dict(type='bool', default=False),
    ), supports_check_mode=True)
    p = module.params
    try:
        targets = [str(v.ip_address('targets[%d]' % i, t)) for i, t in enumerate(p['targets'])]
        if p['netns']:
            enter_netns(v.nsname('netns', p['netns']))
    except (v.ValidationError, OSError) as exc:
        module.fail_json(msg=str(exc))
    with ThreadPoolExecutor(max_workers=min(32, max(1, len(targets)))) as pool:
        results = list(pool.map(lambda it: ping(it[1], p['count'], p['timeout'], p['size'], p['dont_fragment'],
                                                ident=(hash(it[1]) + it[0]) & 0xffff),
                                enumerate(targets)))
    no_answer = [r['target'] for r in results if r['received'] == 0]
    if no_answer and p['fail_on_loss']:
        module.fail_json(msg='no answer from %s' % ', '.join(no_answer), results=results, no_answer=no_answer)
    module.exit_json(changed=False, results=results, no_answer=no_answer)


if __name__ == '__main__':
    main()
