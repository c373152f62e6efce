#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""The encapsulation filter outside netfilter, made by hand for benchmarks/filter.py (kind ``bpf``): an eBPF
program on the tc ingress hook (clsact, direct action) of the underlay device that drops IPv4 UDP to the VXLAN port
from a source not in a hash map of the peers' node IPs, and lets everything else through.

    python benchmarks/tc_bpf.py DEV PORT IP [IP ...]     (in the host's network namespace, as root)

No compiler: the program is eBPF instructions written out below (31 of them), loaded with the bpf(2) system call
through ctypes; the filter is attached with pyroute2's tc. The program holds the map and the filter holds the
program, so both stay after this process exits and go with the device or ``tc qdisc del dev DEV clsact``.
A measurement tool, not the collection's: it exists to learn whether a filter outside netfilter costs less per
packet than the nftables table (docs/benchmarks/README.md, filter run 12).
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import sys

from pyroute2 import IPRoute

SYS_BPF = 321  # x86_64
BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_PROG_LOAD = 0, 2, 5
BPF_MAP_TYPE_HASH = 1
BPF_PROG_TYPE_SCHED_CLS = 3
TC_ACT_OK, TC_ACT_SHOT = 0, 2
SKB_DATA, SKB_DATA_END = 76, 80  # struct __sk_buff

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), 128)
    fd = _libc.syscall(SYS_BPF, cmd, buf, 128)
    if fd < 0:
        raise OSError(ctypes.get_errno(), 'bpf(%d): %s' % (cmd, os.strerror(ctypes.get_errno())))
    return fd


def insn(code, dst=0, src=0, off=0, imm=0):
    """One instruction; ``off=None``: a jump to the program's "pass" (its last two instructions)."""
    return (code, dst, src, off, imm)


def program_items(map_fd, port, proto=17):
    """r1: the skb. Pass (TC_ACT_OK) unless Ethernet + IPv4 + ``proto`` to ``port`` from a source not in the map."""
    port_le = struct.unpack('<H', struct.pack('>H', port))[0]  # the port as a 16-bit load from the packet reads it
    return [
        insn(0x61, 2, 1, SKB_DATA),             # 0  r2 = skb->data
        insn(0x61, 3, 1, SKB_DATA_END),         # 1  r3 = skb->data_end
        insn(0xbf, 4, 2),                       # 2  r4 = r2
        insn(0x07, 4, imm=34),                  # 3  r4 += 14 + 20
        insn(0x2d, 4, 3, off=None),             # 4  if r4 > r3 goto pass
        insn(0x69, 5, 2, 12),                   # 5  r5 = the ethertype
        insn(0x55, 5, off=None, imm=0x0008),    # 6  if r5 != htons(ETH_P_IP) goto pass
        insn(0x71, 5, 2, 23),                   # 7  r5 = the IP protocol
        insn(0x55, 5, off=None, imm=proto),     # 8  if r5 != proto goto pass
        insn(0x71, 5, 2, 14),                   # 9  r5 = version and header length
        insn(0x57, 5, imm=0x0f),                # 10 r5 &= 0x0f
        insn(0x67, 5, imm=2),                   # 11 r5 <<= 2: the IP header's length
        insn(0xbf, 6, 2),                       # 12 r6 = r2
        insn(0x0f, 6, 5),                       # 13 r6 += r5
        insn(0x07, 6, imm=14),                  # 14 r6 += 14: the UDP header
        insn(0xbf, 4, 6),                       # 15 r4 = r6
        insn(0x07, 4, imm=4),                   # 16 r4 += 4
        insn(0x2d, 4, 3, off=None),             # 17 if r4 > r3 goto pass
        insn(0x69, 5, 6, 2),                    # 18 r5 = the destination port
        insn(0x55, 5, off=None, imm=port_le),   # 19 if r5 != port goto pass
        insn(0x61, 5, 2, 26),                   # 20 r5 = the source address
        insn(0x63, 10, 5, -4),                  # 21 *(u32 *)(r10 - 4) = r5
        insn(0xbf, 2, 10),                      # 22 r2 = r10
        insn(0x07, 2, imm=-4),                  # 23 r2 -= 4: the key
        insn(0x18, 1, 1, 0, map_fd),            # 24 r1 = the map (a 16-byte load: 24 and 25)
        insn(0x00),                             # 25
        insn(0x85, imm=1),                      # 26 call bpf_map_lookup_elem
        insn(0x55, 0, off=None, imm=0),         # 27 if r0 != 0 goto pass: a peer
        insn(0xb7, 0, imm=TC_ACT_SHOT),         # 28 r0 = drop
        insn(0x95),                             # 29 exit
        insn(0xb7, 0, imm=TC_ACT_OK),           # 30 pass: r0 = TC_ACT_OK
        insn(0x95),                             # 31 exit
    ]


def assemble(items):
    pass_at = len(items) - 2
    code = b''
    for i, (op, dst, src, off, imm) in enumerate(items):
        if off is None:
            off = pass_at - i - 1
        code += struct.pack('<BBhi', op, (src << 4) | dst, off, imm)
    return code


def main(argv):
    dev, port, peers = argv[0], int(argv[1]), argv[2:]
    attr = struct.pack('<IIIII', BPF_MAP_TYPE_HASH, 4, 1, max(len(peers), 1), 0)
    map_fd = bpf(BPF_MAP_CREATE, attr)
    one = ctypes.create_string_buffer(b'\x01', 1)
    for ip in peers:
        key = ctypes.create_string_buffer(socket.inet_aton(ip), 4)
        bpf(BPF_MAP_UPDATE_ELEM, struct.pack('<IIQQQ', map_fd, 0, ctypes.addressof(key), ctypes.addressof(one), 0))
    items = program_items(map_fd, port)
    code = assemble(items)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b'GPL')
    log = ctypes.create_string_buffer(65536)
    attr = struct.pack('<IIQQIIQ', BPF_PROG_TYPE_SCHED_CLS, len(code) // 8, ctypes.addressof(insns),
                       ctypes.addressof(license_), 1, len(log), ctypes.addressof(log))
    try:
        prog_fd = bpf(BPF_PROG_LOAD, attr)
    except OSError:
        sys.stderr.write(log.value.decode(errors='replace'))
        raise
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=dev)[0]
        ipr.tc('add', 'clsact', index)
        ipr.tc('add-filter', 'bpf', index, ':1', fd=prog_fd, name='podnet-peers', parent='ffff:fff2', classid=1,
               direct_action=True)
    print('tc bpf filter on %s ingress: %d instructions, %d peers in the map' % (dev, len(code) // 8, len(peers)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
