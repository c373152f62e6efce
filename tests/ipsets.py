# -*- coding: utf-8 -*-
"""Print the ip sets of the network namespace this runs in, one line each: ``set NAME FAMILY MEMBER...`` (members
sorted), read with pyroute2's own IPSet, not through the collection's code. Run inside a lab host (the tests on this
kernel, tests/dumps.py) or a guest of the second kernel; stdlib and pyroute2 (0.7 or 0.9) only."""

from __future__ import annotations

import socket

from pyroute2.ipset import IPSet


def main():
    ips = IPSet()
    found = {}
    try:
        for msg in ips.list():
            name = msg.get_attr('IPSET_ATTR_SETNAME')
            family = 'inet6' if msg.get_attr('IPSET_ATTR_FAMILY') == socket.AF_INET6 else 'inet'
            members = found.setdefault((name, family), [])
            adt = msg.get_attr('IPSET_ATTR_ADT')
            for data in (adt.get_attrs('IPSET_ATTR_DATA') if adt is not None else []):
                ip = data.get_attr('IPSET_ATTR_IP_FROM')
                members.append('%s/%s' % (ip.get_attr('IPSET_ATTR_IPADDR_IPV4') or ip.get_attr('IPSET_ATTR_IPADDR_IPV6'),
                                          data.get_attr('IPSET_ATTR_CIDR')))
    finally:
        ips.close()
    for (name, family), members in sorted(found.items()):
        print(' '.join(['set', name, family] + sorted(members)))


if __name__ == '__main__':
    main()
