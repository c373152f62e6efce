# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probes for verification: ICMP echo from inside a namespace, and a capture of
what arrives on the underlay, classified by encapsulation. Standard library
only (raw sockets), so verification needs no ping or tcpdump on the host."""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from typing import Any, Dict, List, Optional, Tuple

IP_MTU_DISCOVER = 10
IP_PMTUDISC_DO = 2
IPV6_MTU_DISCOVER = 23
IPV6_PMTUDISC_DO = 2
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_ALL = 0x0003
ICMP6 = 58  # IPv6 next header of ICMPv6


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def ping(target: str, count: int = 3, timeout: float = 1.0, size: int = 56, dont_fragment: bool = False,
         ident: Optional[int] = None) -> Dict[str, Any]:
    """Send ``count`` echo requests of ``size`` payload bytes to an IPv4 or IPv6 ``target`` (ICMP or ICMPv6 echo);
    return a result dict: sent, received, error (e.g. 'Message too long'), rtt_ms (list)."""
    ident = (ident if ident is not None else os.getpid()) & 0xffff
    result: Dict[str, Any] = dict(target=target, sent=0, received=0, error=None, rtt_ms=[], size=size, dont_fragment=dont_fragment)
    six = ':' in target
    # ICMPv6: the kernel fills the checksum of a raw ICMPv6 socket, and hands back the ICMPv6 message without
    # the IPv6 header; ICMP (IPv4): ours to compute, and the reply comes with its IPv4 header
    request, reply = (128, 129) if six else (8, 0)
    sock = socket.socket(socket.AF_INET6 if six else socket.AF_INET, socket.SOCK_RAW,
                         socket.IPPROTO_ICMPV6 if six else socket.IPPROTO_ICMP)
    try:
        if dont_fragment:
            if six:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
            else:
                sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
        for seq in range(1, count + 1):
            payload = struct.pack('!d', time.time()) + b'\x42' * max(0, size - 8)
            header = struct.pack('!BBHHH', request, 0, 0, ident, seq)
            packet = struct.pack('!BBHHH', request, 0, 0 if six else _checksum(header + payload), ident, seq) + payload
            start = time.time()
            try:
                sock.sendto(packet, (target, 0))
            except OSError as exc:
                result['error'] = os.strerror(exc.errno) if exc.errno else str(exc)
                if exc.errno == errno.EMSGSIZE:
                    break
                continue
            result['sent'] += 1
            deadline = start + timeout
            while True:
                left = deadline - time.time()
                if left <= 0 or not select.select([sock], [], [], left)[0]:
                    break
                data, addr = sock.recvfrom(65535)
                ihl = 0 if six else (data[0] & 0x0f) * 4
                if len(data) < ihl + 8:
                    continue
                icmp_type, _code, _sum, rid, rseq = struct.unpack('!BBHHH', data[ihl:ihl + 8])
                if icmp_type == reply and rid == ident and rseq == seq and _same_address(addr[0], target):
                    result['received'] += 1
                    result['rtt_ms'].append(round((time.time() - start) * 1000, 3))
                    break
    finally:
        sock.close()
    return result


def _same_address(got: str, target: str) -> bool:
    """Whether the reply's source ``got`` is ``target`` (IPv6 addresses compared in binary: one may be written shorter)."""
    got = got.split('%', 1)[0]
    if ':' not in target:
        return got == target
    return socket.inet_pton(socket.AF_INET6, got) == socket.inet_pton(socket.AF_INET6, target)


def _ip_header(packet: bytes, ethertype: int) -> Optional[Tuple[int, int, str, str]]:
    """(header length, protocol, source, destination) of an IPv4 or IPv6 packet (IPv6: the fixed header's next
    header, no extension headers), or None."""
    if ethertype == ETH_P_IP and len(packet) >= 20:
        return (packet[0] & 0x0f) * 4, packet[9], socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20])
    if ethertype == ETH_P_IPV6 and len(packet) >= 40:
        return (40, packet[6], socket.inet_ntop(socket.AF_INET6, packet[8:24]),
                socket.inet_ntop(socket.AF_INET6, packet[24:40]))
    return None


def classify(frame: bytes, vxlan_port: int) -> Optional[Dict[str, Any]]:
    """Classify one Ethernet frame seen on the underlay: returns a dict or None.

    encap is 'ipip' (IP protocol 4), 'vxlan' (UDP to vxlan_port; vni read from the VXLAN header) or 'none' (plain
    IP); inner_src/inner_dst are the addresses of the innermost IPv4 or IPv6 header carrying ICMP or ICMPv6, and
    family is that header's (4 or 6). The outer header is IPv4 or IPv6 (an IPv6 underlay)."""
    if len(frame) < 34:
        return None
    outer = _ip_header(frame[14:], struct.unpack('!H', frame[12:14])[0])
    if outer is None:
        return None
    ip = frame[14:]
    ihl, proto, outer_src, outer_dst = outer
    info = dict(outer_src=outer_src, outer_dst=outer_dst, proto=proto, vni=None, port=None)
    inner = None
    if proto == 4:
        info['encap'] = 'ipip'
        inner = _ip_header(ip[ihl:], ETH_P_IP)
    elif proto == 17 and len(ip) >= ihl + 8 + 8 + 14 + 20:
        dport = struct.unpack('!H', ip[ihl + 2:ihl + 4])[0]
        if dport != vxlan_port:
            return None
        vx = ip[ihl + 8:ihl + 16]
        info.update(encap='vxlan', port=dport, vni=struct.unpack('!I', vx[4:8])[0] >> 8)
        eth = ip[ihl + 16:]
        inner = _ip_header(eth[14:], struct.unpack('!H', eth[12:14])[0])
    elif proto in (1, ICMP6):
        info['encap'] = 'none'
        inner = outer
    else:
        return None
    if inner is None or inner[1] not in (1, ICMP6):
        return None
    info.update(inner_src=inner[2], inner_dst=inner[3], family=6 if inner[1] == ICMP6 else 4)
    return info


def capture(dev: str, seconds: float, stop_file: Optional[str] = None, vxlan_port: int = 8472,
            limit: int = 10000) -> List[Dict[str, Any]]:
    """Capture frames arriving on ``dev`` (incoming only) until ``seconds`` pass or
    ``stop_file`` exists; return the classified observations, de-duplicated with counts."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    seen: Dict[Tuple[Tuple[str, Any], ...], int] = {}
    try:
        sock.bind((dev, 0))
        end = time.time() + seconds
        while time.time() < end and sum(seen.values()) < limit:
            if stop_file and os.path.exists(stop_file):
                break
            ready = select.select([sock], [], [], 0.2)[0]
            if not ready:
                continue
            frame, addr = sock.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            info = classify(frame, vxlan_port)
            if info:
                key = tuple(sorted(info.items()))
                seen[key] = seen.get(key, 0) + 1
    finally:
        sock.close()
    return [dict(key, packets=n) for key, n in seen.items()]
