# -*- coding: utf-8 -*-
"""Send forged encapsulated ICMP echo requests to a node (run inside a lab host, standard library only).

    python forge.py vxlan NODE_IP PORT VNI DST_MAC SRC_MAC INNER_SRC INNER_DST [COUNT]
    python forge.py vxlan6 NODE_IP6 PORT VNI DST_MAC SRC_MAC INNER_SRC6 INNER_DST6 [COUNT]   (IPv6 in VXLAN in IPv6)
    python forge.py ipip  NODE_IP INNER_SRC INNER_DST [COUNT]
    python forge.py vxlan ... --outer-source ADDR   (the outer source spoofed: IP_TRANSPARENT)

The inner packet is an ICMP (vxlan6: ICMPv6) echo request with identifier 0x4242. VXLAN goes out through an ordinary
UDP socket, IP-in-IP through a raw socket of protocol 4 (the kernel adds the outer header).
"""

from __future__ import annotations

import socket
import struct
import sys

IDENT = 0x4242


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def icmp_echo(src, dst, seq):
    icmp = struct.pack('!BBHHH', 8, 0, 0, IDENT, seq) + b'forged by a host outside the cluster'
    icmp = icmp[:2] + struct.pack('!H', checksum(icmp)) + icmp[4:]
    header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), 0x4242 + seq, 0, 64, 1, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack('!H', checksum(header)) + header[12:]
    return header + icmp


def icmp6_echo(src, dst, seq):
    icmp = struct.pack('!BBHHH', 128, 0, 0, IDENT, seq) + b'forged by a host outside the cluster'
    src_b, dst_b = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    pseudo = src_b + dst_b + struct.pack('!I3xB', len(icmp), 58)
    icmp = icmp[:2] + struct.pack('!H', checksum(pseudo + icmp)) + icmp[4:]
    return struct.pack('!IHBB', 6 << 28, len(icmp), 58, 64) + src_b + dst_b + icmp


IP_TRANSPARENT = 19  # linux/in.h: bind to an address this host does not have


def main(argv):
    argv = list(argv)
    outer_source = None
    if '--outer-source' in argv:
        i = argv.index('--outer-source')
        outer_source = argv[i + 1]
        del argv[i:i + 2]
    kind = argv[1]
    if kind in ('vxlan', 'vxlan6'):
        node, port, vni, dst_mac, src_mac, src, dst = argv[2:9]
        count = int(argv[9]) if len(argv) > 9 else 3
        six = kind == 'vxlan6'
        sock = socket.socket(socket.AF_INET6 if six else socket.AF_INET, socket.SOCK_DGRAM)
        if outer_source:
            if not six:
                sock.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
            sock.bind((outer_source, 0))  # vxlan6: an address the sending host has
        for seq in range(1, count + 1):
            ethertype = b'\x86\xdd' if six else b'\x08\x00'
            frame = bytes.fromhex(dst_mac.replace(':', '')) + bytes.fromhex(src_mac.replace(':', '')) + ethertype
            inner = icmp6_echo(src, dst, seq) if six else icmp_echo(src, dst, seq)
            packet = struct.pack('!II', 0x08000000, int(vni) << 8) + frame + inner
            sock.sendto(packet, (node, int(port)))
    else:
        node, src, dst = argv[2:5]
        count = int(argv[5]) if len(argv) > 5 else 3
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
        for seq in range(1, count + 1):
            sock.sendto(icmp_echo(src, dst, seq), (node, 0))
    sock.close()
    print('sent %d forged %s packets to %s%s' % (count, kind, node, ' from %s' % outer_source if outer_source else ''))


if __name__ == '__main__':
    main(sys.argv)
