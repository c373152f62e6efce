# -*- coding: utf-8 -*-
"""The capture's classification of underlay frames, in both families and every encapsulation, from frames built
here byte by byte (the capture itself, on a real underlay, runs in every verify of the integration suites)."""

from __future__ import annotations

import socket
import struct

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils._probe import classify

MAC = b'\x02\x00\x00\x00\x00\x01' * 2


def ipv4(src, dst, proto, payload):
    return struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + payload


def ipv6(src, dst, nxt, payload):
    return struct.pack('!IHBB16s16s', 6 << 28, len(payload), nxt, 64, socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def eth(ethertype, packet):
    return MAC + struct.pack('!H', ethertype) + packet


ECHO = struct.pack('!BBHHH', 8, 0, 0, 1, 1) + b'x' * 16
ECHO6 = struct.pack('!BBHHH', 128, 0, 0, 1, 1) + b'x' * 16


def vxlan(outer, inner_ethertype, inner, port=8472, vni=1):
    udp = struct.pack('!HHHH', 40000, port, 0, 0) + struct.pack('!II', 0x08000000, vni << 8) + eth(inner_ethertype, inner)
    return outer(udp)


@pytest.mark.parametrize('frame, expected', [
    (eth(0x0800, ipv4('192.168.10.10', '192.168.11.10', 1, ECHO)),
     dict(encap='none', family=4, outer_src='192.168.10.10', inner_dst='192.168.11.10')),
    (eth(0x0800, ipv4('10.57.4.20', '10.57.4.21', 4, ipv4('192.168.10.10', '192.168.11.10', 1, ECHO))),
     dict(encap='ipip', family=4, outer_src='10.57.4.20', inner_src='192.168.10.10')),
    (eth(0x0800, vxlan(lambda p: ipv4('10.57.4.20', '10.57.4.21', 17, p), 0x0800,
                       ipv4('192.168.10.10', '192.168.11.10', 1, ECHO))),
     dict(encap='vxlan', family=4, vni=1, port=8472, inner_dst='192.168.11.10')),
    # IPv6 pods inside VXLAN over the IPv4 underlay
    (eth(0x0800, vxlan(lambda p: ipv4('10.57.4.20', '10.57.4.21', 17, p), 0x86DD,
                       ipv6('fd00:10:244:10::a', 'fd00:10:244:11::a', 58, ECHO6))),
     dict(encap='vxlan', family=6, outer_src='10.57.4.20', inner_src='fd00:10:244:10::a', inner_dst='fd00:10:244:11::a')),
    # host-gw over the IPv6 underlay: the pod's packet itself
    (eth(0x86DD, ipv6('fd00:10:244:10::a', 'fd00:10:244:11::a', 58, ECHO6)),
     dict(encap='none', family=6, outer_src='fd00:10:244:10::a', inner_dst='fd00:10:244:11::a')),
    # VXLAN over an IPv6 underlay
    (eth(0x86DD, vxlan(lambda p: ipv6('fd57:4::20', 'fd57:4::21', 17, p), 0x86DD,
                       ipv6('fd00:10:244:10::a', 'fd00:10:244:11::a', 58, ECHO6))),
     dict(encap='vxlan', family=6, outer_src='fd57:4::20', inner_src='fd00:10:244:10::a')),
])
def test_classify(frame, expected):
    got = classify(frame, 8472)
    assert got is not None and dict((k, got[k]) for k in expected) == expected, got


@pytest.mark.parametrize('frame', [
    eth(0x0806, b'\x00' * 28),  # ARP
    eth(0x0800, ipv4('10.57.4.20', '10.57.4.21', 6, b'\x00' * 20)),  # TCP
    eth(0x0800, vxlan(lambda p: ipv4('10.57.4.20', '10.57.4.21', 17, p), 0x0800,
                      ipv4('192.168.10.10', '192.168.11.10', 1, ECHO), port=4789)),  # another port
    eth(0x86DD, ipv6('fd57:4::20', 'fd57:4::21', 6, b'\x00' * 20)),  # TCP over IPv6
])
def test_what_is_not_a_pod_ping_is_ignored(frame):
    assert classify(frame, 8472) is None
