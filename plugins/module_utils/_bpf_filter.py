# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The encapsulation filter as the collection's eBPF program on a device's tc ingress hook: for every IPv4 frame
that carries the encapsulation (UDP to a port, or IP-in-IP), the program looks the source address up in a hash
map of the peers' node IPs and drops the frame when it is not there; every other frame goes on to the next
filter. One lookup per encapsulated packet whatever the number of peers, JIT-compiled and before the IP stack
(docs/benchmarks/README.md: 0.98 of the unfiltered 64-byte UDP rate, where the nftables table gave 0.94-0.97).

The kernel objects, per device: the qdisc ``clsact`` (made when missing), one filter of kind ``bpf`` on its ingress
(direct action, priority ``PRIORITY``, handle ``HANDLE``, named ``podnet-udp-PORT`` or ``podnet-ipip``), the
program it holds (``podnet_encap``) and the program's hash map (``podnet_peers``, 4-byte keys: the node IPs).
The filter holds the program and the program holds the map, so nothing needs pinning: they last as long as the
filter, and go with it or with the device.

No compiler and no libbpf: the program is the instructions below, loaded with the bpf(2) system call through
ctypes; the filter is written with pyroute2's tc. The read-back is the kernel's own: the filter's name, flags and
program id (netlink), the program's tag (the kernel's hash of its instructions, SHA-1 before Linux 6.18 and
SHA-256 since, either accepted) and the map's keys (bpf(2) by id). A filter whose program is not the one its name
says (a tag that differs, no direct action) reads back as ``program: other`` and is replaced.

Changes: peers come and go in the map in place (new ones first), so the filter never lets a peer's packet be
dropped or a stranger's through during a change; a different protocol or port, a map too small or another program
loads a new program and map and swaps them in with one ``tc filter replace``. Removing the filter removes the
``clsact`` qdisc too when no other filter is left on it.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import ipaddress
import os
import platform
import socket
import struct
import sys
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import CLONE_NEWNET, PodnetError, open_iproute
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Change, Resource

PROTOCOLS = ('udp', 'ipip')
PREFIX = 'podnet'
#: the filter's place on the ingress of clsact: early (a drop must come before another filter's final verdict), and
#: its own (a filter of another kind at the same priority would be refused)
PRIORITY = 10
HANDLE = 1
INGRESS = 0xFFFFFFF2  # TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)
EGRESS = 0xFFFFFFF3
ETH_P_ALL = 0x0003
ARPHRD_ETHER = 1
TCA_BPF_FLAG_ACT_DIRECT = 1
#: the netlink attributes pyroute2's cls_bpf does not decode: the program's tag and id
TCA_BPF_TAG, TCA_BPF_ID = 10, 11
#: the map's size: at least MIN_CAPACITY, and twice the peers rounded up to a power of two (room to grow in place)
MIN_CAPACITY = 256
PROGRAM_NAME = b'podnet_encap'
MAP_NAME = b'podnet_peers'

#: bpf(2)'s number per CPU architecture (platform.machine())
SYSCALLS = {'x86_64': 321, 'amd64': 321, 'i386': 357, 'i686': 357, 'aarch64': 280, 'arm64': 280, 'armv7l': 386,
            'armv6l': 386, 'riscv64': 280, 'loongarch64': 280, 'ppc64le': 361}
BPF_MAP_CREATE, BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY = 0, 1, 2, 3, 4
BPF_PROG_LOAD, BPF_PROG_GET_FD_BY_ID, BPF_MAP_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD = 5, 13, 14, 15
BPF_MAP_TYPE_HASH = 1
BPF_PROG_TYPE_SCHED_CLS = 3
BPF_PSEUDO_MAP_FD = 1
TC_ACT_UNSPEC, TC_ACT_SHOT = -1, 2
SKB_DATA, SKB_DATA_END = 76, 80  # offsets in struct __sk_buff
ATTR_SIZE = 128

ARGSPEC = dict(
    COMMON_ARGSPEC,
    filters=dict(type='list', elements='dict', default=[], options=dict(
        dev=dict(type='str', required=True),
        protocol=dict(type='str', required=True, choices=list(PROTOCOLS)),
        dport=dict(type='int'),
        peers=dict(type='list', elements='str', default=[]),
    )),
    purge=dict(type='bool', default=False),
)


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    entries, seen = [], set()
    for i, item in enumerate(params.get('filters') or []):
        key = 'filters[%d]' % i
        dev = v.ifname(key + '.dev', item.get('dev'))
        if dev in seen:
            raise v.ValidationError('%s.dev: %s is given twice (one filter per device)' % (key, dev))
        seen.add(dev)
        protocol = item.get('protocol')
        if protocol not in PROTOCOLS:
            raise v.ValidationError('%s.protocol: %r is not one of %s' % (key, protocol, ', '.join(PROTOCOLS)))
        dport = v.port(key + '.dport', item.get('dport')) if protocol == 'udp' else None
        if protocol == 'ipip' and item.get('dport') is not None:
            raise v.ValidationError('%s.dport: IP-in-IP has no port (%r given)' % (key, item.get('dport')))
        peers = [v.ip_address('%s.peers[%d]' % (key, j), p, 4) for j, p in enumerate(item.get('peers') or [])]
        entries.append(dict(dev=dev, name=filter_name(protocol, dport), protocol=protocol, dport=dport, program='podnet',
                            peers=[str(p) for p in sorted(set(peers))]))
    return entries


def filter_name(protocol: str, dport: Optional[int]) -> str:
    return '%s-udp-%d' % (PREFIX, dport) if protocol == 'udp' else '%s-ipip' % PREFIX


def _from_name(name: str) -> Tuple[Optional[str], Optional[int]]:
    """(protocol, dport) from a filter's name, (None, None) for a name this module does not write."""
    if name == '%s-ipip' % PREFIX:
        return 'ipip', None
    head, _sep, port = name.rpartition('-')
    if head == '%s-udp' % PREFIX and port.isdigit() and 0 < int(port) < 65536:
        return 'udp', int(port)
    return None, None


# ---- the program ----------------------------------------------------------------------------------------------

def _insn(code: int, dst: int = 0, src: int = 0, off: Optional[int] = 0, imm: int = 0) -> Tuple[int, int, int, Optional[int], int]:
    """One instruction; ``off=None``: a jump to the program's "pass" (its last two instructions)."""
    return (code, dst, src, off, imm)


def _native16(value: int) -> int:
    """A 16-bit field in network order as a 16-bit load from the packet reads it on this CPU."""
    return struct.unpack('=H', struct.pack('>H', value))[0]


def instructions(protocol: str, dport: Optional[int], map_fd: int = 0) -> bytes:
    """The program: r1 holds the skb. Drop (TC_ACT_SHOT) an Ethernet frame of IPv4 that carries ``protocol`` (to
    ``dport``) from a source that is not a key of the map; everything else goes on (TC_ACT_UNSPEC: the next filter
    decides, as if this one were not there)."""
    proto = 17 if protocol == 'udp' else 4
    items = [
        _insn(0x61, 2, 1, SKB_DATA),                    # r2 = skb->data
        _insn(0x61, 3, 1, SKB_DATA_END),                # r3 = skb->data_end
        _insn(0xbf, 4, 2),                              # r4 = r2
        _insn(0x07, 4, imm=34),                         # r4 += 14 + 20: Ethernet and the shortest IPv4 header
        _insn(0x2d, 4, 3, off=None),                    # if r4 > r3 goto pass
        _insn(0x69, 5, 2, 12),                          # r5 = the ethertype
        _insn(0x55, 5, off=None, imm=_native16(0x0800)),  # if r5 != ETH_P_IP goto pass
        _insn(0x71, 5, 2, 23),                          # r5 = the IP protocol
        _insn(0x55, 5, off=None, imm=proto),            # if r5 != proto goto pass
    ]
    if protocol == 'udp':
        items += [
            _insn(0x71, 5, 2, 14),                      # r5 = version and header length
            _insn(0x57, 5, imm=0x0f),                   # r5 &= 0x0f
            _insn(0x67, 5, imm=2),                      # r5 <<= 2: the IP header's length
            _insn(0xbf, 6, 2),                          # r6 = r2
            _insn(0x0f, 6, 5),                          # r6 += r5
            _insn(0x07, 6, imm=14),                     # r6 += 14: the UDP header
            _insn(0xbf, 4, 6),                          # r4 = r6
            _insn(0x07, 4, imm=4),                      # r4 += 4
            _insn(0x2d, 4, 3, off=None),                # if r4 > r3 goto pass
            _insn(0x69, 5, 6, 2),                       # r5 = the destination port
            _insn(0x55, 5, off=None, imm=_native16(dport or 0)),  # if r5 != dport goto pass
        ]
    items += [
        _insn(0x61, 5, 2, 26),                          # r5 = the source address
        _insn(0x63, 10, 5, -4),                         # *(u32 *)(r10 - 4) = r5: the key, on the stack
        _insn(0xbf, 2, 10),                             # r2 = r10
        _insn(0x07, 2, imm=-4),                         # r2 -= 4
        _insn(0x18, 1, BPF_PSEUDO_MAP_FD, 0, map_fd),   # r1 = the map (a 16-byte load: this and the next)
        _insn(0x00),
        _insn(0x85, imm=1),                             # call bpf_map_lookup_elem
        _insn(0x55, 0, off=None, imm=0),                # if r0 != 0 goto pass: a peer
        _insn(0xb7, 0, imm=TC_ACT_SHOT),                # r0 = drop
        _insn(0x95),                                    # exit
        _insn(0xb7, 0, imm=TC_ACT_UNSPEC),              # pass: r0 = the next filter's verdict
        _insn(0x95),                                    # exit
    ]
    pass_at = len(items) - 2
    code = b''
    for i, (op, dst, src, off, imm) in enumerate(items):
        code += struct.pack('<BBhi', op, (src << 4) | dst, pass_at - i - 1 if off is None else off, imm)
    return code


def tags(protocol: str, dport: Optional[int]) -> Tuple[str, str]:
    """The kernel's tags of the program: the first 8 bytes of the hash of its instructions with the map's file
    descriptor taken out, SHA-1 (Linux before 6.18) or SHA-256 (6.18 and later)."""
    code = instructions(protocol, dport)
    return hashlib.sha1(code).hexdigest()[:16], hashlib.sha256(code).hexdigest()[:16]


# ---- bpf(2) ---------------------------------------------------------------------------------------------------

_SYSCALL: Any = None  # (libc's syscall, bpf's number), on first use


def unsupported() -> str:
    """Why this host cannot run the program's loader ('' when it can)."""
    if sys.byteorder != 'little':
        return 'the eBPF filter is written for little-endian CPUs (this one is %s-endian)' % sys.byteorder
    if platform.machine() not in SYSCALLS:
        return 'the number of the bpf system call on %s is not known to the collection' % platform.machine()
    return ''


def bpf(cmd: int, attr: bytes, what: str) -> int:
    """One bpf(2) call; returns its result (a file descriptor, or 0) or raises PodnetError naming ``what``."""
    global _SYSCALL  # pylint: disable=global-statement
    if _SYSCALL is None:  # once per process: the CPU, then libc (a map of 256 peers is 256 calls)
        problem = unsupported()
        if problem:
            raise PodnetError('%s: %s' % (what, problem))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        _SYSCALL = (libc.syscall, SYSCALLS[platform.machine()])
    syscall, number = _SYSCALL
    buf = ctypes.create_string_buffer(attr, ATTR_SIZE)
    result = syscall(number, ctypes.c_int(cmd), buf, ctypes.c_uint(ATTR_SIZE))
    if result < 0:
        code = ctypes.get_errno()
        raise PodnetError('%s failed: %s (errno %d)' % (what, os.strerror(code), code))
    return int(result)


class _Fd(object):
    """A file descriptor of a bpf object, closed on exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: Any) -> None:
        os.close(self.fd)


def create_map(capacity: int) -> int:
    attr = struct.pack('<IIIIIII16s', BPF_MAP_TYPE_HASH, 4, 1, capacity, 0, 0, 0, MAP_NAME)
    try:
        return bpf(BPF_MAP_CREATE, attr, 'create the eBPF map of the peers')
    except PodnetError:
        # a kernel before 4.15 has no map names
        return bpf(BPF_MAP_CREATE, attr[:20], 'create the eBPF map of the peers')


def map_set(map_fd: int, address: str, present: bool) -> None:
    key = ctypes.create_string_buffer(socket.inet_aton(address), 4)
    if present:
        one = ctypes.create_string_buffer(b'\x01', 1)
        bpf(BPF_MAP_UPDATE_ELEM, struct.pack('<IIQQQ', map_fd, 0, ctypes.addressof(key), ctypes.addressof(one), 0),
            'add %s to the eBPF map of the peers' % address)
        return
    try:
        bpf(BPF_MAP_DELETE_ELEM, struct.pack('<IIQ', map_fd, 0, ctypes.addressof(key)),
            'delete %s from the eBPF map of the peers' % address)
    except PodnetError as exc:
        if 'errno %d' % errno.ENOENT not in str(exc):
            raise


def map_keys(map_fd: int) -> List[str]:
    keys, key, nxt = [], None, ctypes.create_string_buffer(4)
    while True:
        attr = struct.pack('<IIQQ', map_fd, 0, ctypes.addressof(key) if key is not None else 0, ctypes.addressof(nxt))
        try:
            bpf(BPF_MAP_GET_NEXT_KEY, attr, 'read the eBPF map of the peers')
        except PodnetError as exc:
            if 'errno %d' % errno.ENOENT in str(exc):
                return keys
            raise
        keys.append(socket.inet_ntoa(nxt.raw))
        key = ctypes.create_string_buffer(nxt.raw, 4)
        if len(keys) > 1 << 20:  # pragma: no cover - a map that changes under the walk
            raise PodnetError('the eBPF map of the peers did not end')


def load_program(protocol: str, dport: Optional[int], map_fd: int) -> int:
    code = instructions(protocol, dport, map_fd)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b'GPL')
    log = ctypes.create_string_buffer(16384)
    head = struct.pack('<IIQQIIQII', BPF_PROG_TYPE_SCHED_CLS, len(code) // 8, ctypes.addressof(insns),
                       ctypes.addressof(license_), 1, len(log), ctypes.addressof(log), 0, 0)
    try:
        return bpf(BPF_PROG_LOAD, head + struct.pack('16s', PROGRAM_NAME), 'load the eBPF filter program')
    except PodnetError as exc:
        if 'errno %d' % errno.EINVAL in str(exc) and not log.value:  # a kernel before 4.15: no program names
            return bpf(BPF_PROG_LOAD, head, 'load the eBPF filter program')
        said = log.value.decode(errors='replace').strip()[-400:]
        raise PodnetError('%s%s' % (exc, '; the verifier said: %s' % said if said else '')) from None


def _by_id(cmd: int, ident: int, what: str) -> int:
    return bpf(cmd, struct.pack('<III', ident, 0, 0), what)


def _info(fd: int, size: int, fill: bytes = b'') -> bytes:
    buf = ctypes.create_string_buffer(fill, size)
    bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack('<IIQ', fd, size, ctypes.addressof(buf)), 'read an eBPF object')
    return buf.raw


def program_facts(prog_id: int) -> Dict[str, Any]:
    """The program's tag (hex) and the ids of its maps."""
    with _Fd(_by_id(BPF_PROG_GET_FD_BY_ID, prog_id, 'open eBPF program %d' % prog_id)) as fd:
        ids = ctypes.create_string_buffer(4 * 4)
        fill = bytearray(80)
        struct.pack_into('<IQ', fill, 52, 4, ctypes.addressof(ids))
        raw = _info(fd, 80, bytes(fill))
    count = min(struct.unpack_from('<I', raw, 52)[0], 4)
    return dict(tag=raw[8:16].hex(), map_ids=list(struct.unpack_from('<%dI' % count, ids.raw)))


def map_facts(map_id: int) -> Dict[str, Any]:
    """The map's type, key and value sizes, capacity and keys."""
    with _Fd(_by_id(BPF_MAP_GET_FD_BY_ID, map_id, 'open eBPF map %d' % map_id)) as fd:
        raw = _info(fd, 40)
        kind, _ident, key_size, value_size, capacity = struct.unpack_from('<IIIII', raw)
        keys = map_keys(fd) if (kind, key_size) == (BPF_MAP_TYPE_HASH, 4) else []
    return dict(type=kind, key_size=key_size, value_size=value_size, capacity=capacity, keys=keys)


def capacity_for(peers: int) -> int:
    capacity = MIN_CAPACITY
    while capacity < 2 * peers:
        capacity *= 2
    return capacity


def support() -> str:
    """Why this host cannot run the filter ('' when it can). The kernel's own answer, in a network namespace of the
    probe's own that goes when it ends: a child process enters a new namespace, loads the very program with a map,
    adds the qdisc clsact to that namespace's loopback device and attaches the program as the filter; that needs
    the bpf system call, the sched_cls program type and the verifier's consent, sch_ingress and cls_bpf. Nothing of
    it outlives the child; the host's namespaces are not touched."""
    problem = unsupported()
    if problem:
        return problem
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, measured by its exit and its message
        os.close(read_end)
        why = ''
        try:
            why = _probe_in_own_namespace()
        except BaseException as exc:  # pylint: disable=broad-except
            why = str(exc) or type(exc).__name__
        os.write(write_end, why.encode('utf-8', 'replace')[:2000])
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, 'rb') as handle:
        why = handle.read().decode('utf-8', 'replace')
    _pid, status = os.waitpid(pid, 0)
    if not why and status != 0:
        why = 'the probe ended with status %d' % status
    if 'errno %d' % errno.EPERM in why:
        return ('this host may not load eBPF programs (%s): a container without the capabilities CAP_BPF and '
                'CAP_SYS_ADMIN, or a system call filter, refuses bpf(2)' % why)
    return 'the kernel does not run the eBPF filter (%s)' % why if why else ''


def _probe_in_own_namespace() -> str:  # pragma: no cover - runs in the probe's child (support())
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return 'a network namespace for the probe: %s' % os.strerror(ctypes.get_errno())
    with _Fd(create_map(MIN_CAPACITY)) as map_fd:
        with _Fd(load_program('udp', v.VXLAN_DEFAULT_PORT, map_fd)) as prog_fd:
            ipr = open_iproute()
            try:
                for what, args, kwargs in (
                        ('the qdisc clsact (module sch_ingress)', ('add', 'clsact', 1), {}),
                        ('a tc filter of kind bpf (module cls_bpf)', ('add-filter', 'bpf', 1, HANDLE),
                         dict(fd=prog_fd, name='podnet-probe', parent=INGRESS, prio=PRIORITY, protocol=ETH_P_ALL,
                              direct_action=True))):
                    try:
                        ipr.tc(*args, **kwargs)
                    except Exception as exc:  # pylint: disable=broad-except
                        return '%s: %s' % (what, exc)
            finally:
                ipr.close()
    return ''


# ---- the resource ---------------------------------------------------------------------------------------------

def _raw_attr(options: Any, kind: int) -> Optional[bytes]:
    """The payload of an attribute pyroute2 does not decode (it keeps the message's bytes and the offset)."""
    for slot in options.get('attrs') or []:
        if slot[0] != 'UNKNOWN':
            continue
        value = slot[1]
        header = value['header']
        if header.get('type') == kind:
            return bytes(value.data[value.offset + 4:value.offset + header['length']])
    return None


class BpfFilters(Resource):
    result_key = 'filters'
    compared = ('protocol', 'dport', 'program', 'peers')

    def __init__(self, nl: Any, params: Dict[str, Any], wanted: List[Dict[str, Any]]) -> None:
        super().__init__(nl, params, wanted)
        self._maps: Dict[str, Dict[str, Any]] = {}  # dev -> the map's id and capacity, as read

    def key(self, entry: Dict[str, Any]) -> str:
        return entry['dev']

    def owned(self, entry: Dict[str, Any]) -> bool:
        return str(entry.get('name', '')).startswith(PREFIX)

    def differences(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
        fields = super().differences(current, wanted)
        if current.get('dport') != wanted.get('dport'):
            fields['dport'] = (current.get('dport'), wanted.get('dport'))
        return fields

    def merged(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Any]:
        return dict(wanted)

    def _clsact(self) -> List[int]:
        """The indexes of the links that have a clsact qdisc (one dump of the namespace's qdiscs)."""
        return sorted(set(q['index'] for q in self.nl.call('dump qdiscs', 'get_qdiscs')
                          if q.get_attr('TCA_KIND') == 'clsact'))

    def _filters(self, index: int, parent: int = INGRESS) -> List[Any]:
        return [f for f in self.nl.call('dump tc filters', 'get_filters', index, parent=parent)
                if f.get_attr('TCA_OPTIONS')]

    def read(self) -> List[Dict[str, Any]]:
        entries = []
        self._maps = {}
        for index in self._clsact():
            for msg in self._filters(index):
                if msg.get_attr('TCA_KIND') != 'bpf':
                    continue
                options = msg.get_attr('TCA_OPTIONS')
                name = options.get_attr('TCA_BPF_NAME') or ''
                if not name.startswith(PREFIX):
                    continue
                entry = self._entry(self.nl.ifname(index), msg, options, name)
                entries.append(entry)
        return entries

    def _entry(self, dev: str, msg: Any, options: Any, name: str) -> Dict[str, Any]:
        protocol, dport = _from_name(name)
        entry = dict(dev=dev, name=name, protocol=protocol, dport=dport, program='other', peers=[])
        raw_id = _raw_attr(options, TCA_BPF_ID)
        prog_id = struct.unpack('=I', raw_id)[0] if raw_id and len(raw_id) == 4 else None
        direct = bool((options.get_attr('TCA_BPF_FLAGS') or 0) & TCA_BPF_FLAG_ACT_DIRECT)
        if prog_id is None:
            return entry
        prog = program_facts(prog_id)
        where = dict(prio=msg['info'] >> 16, handle=msg['handle'], prog_id=prog_id)
        if protocol and direct and prog['tag'] in tags(protocol, dport) and len(prog['map_ids']) == 1:
            facts = map_facts(prog['map_ids'][0])
            if (facts['type'], facts['key_size']) == (BPF_MAP_TYPE_HASH, 4):
                entry.update(program='podnet', peers=sorted(facts['keys'], key=ipaddress.ip_address))
                where.update(map_id=prog['map_ids'][0], capacity=facts['capacity'])
        self._maps[dev] = where
        return entry

    def describe(self, entry: Dict[str, Any]) -> str:
        what = 'UDP to port %s' % entry['dport'] if entry['protocol'] == 'udp' else 'IP-in-IP' \
            if entry['protocol'] == 'ipip' else 'unknown'
        program = '' if entry.get('program') == 'podnet' else ' (program: %s)' % entry.get('program')
        return 'eBPF filter on %s ingress: drop %s unless from [%s]%s' % (
            entry['dev'], what, ', '.join(entry.get('peers') or []), program)

    def action_text(self, change: Change) -> str:
        if change.op != 'update' or set(change.fields) != {'peers'}:
            return super().action_text(change)
        have, want = set(change.before['peers']), set(change.after['peers'])
        parts = []
        if want - have:
            parts.append('add %s' % ', '.join(sorted(want - have, key=ipaddress.ip_address)))
        if have - want:
            parts.append('delete %s' % ', '.join(sorted(have - want, key=ipaddress.ip_address)))
        return 'update the peers of the eBPF filter on %s: %s' % (change.after['dev'], '; '.join(parts))

    # ---- writes -------------------------------------------------------------------------------------------------

    def _index(self, dev: str) -> int:
        link = self.nl.get_link(dev)
        if link is None:
            raise PodnetError('device %s does not exist in %s' % (dev, self.nl.where))
        if link['ifi_type'] != ARPHRD_ETHER:
            raise PodnetError('the eBPF filter reads Ethernet frames; %s in %s is not an Ethernet device (link type %d): '
                              'filter it with nftables' % (dev, self.nl.where, link['ifi_type']))
        return link['index']

    def _attach(self, entry: Dict[str, Any], command: str) -> None:
        """Load a new map with the peers and a new program on it, and add (or replace) the filter with it."""
        index = self._index(entry['dev'])
        if command == 'add' and index not in self._clsact():
            self.nl.call('add qdisc clsact to %s' % entry['dev'], 'tc', 'add', 'clsact', index)
        with _Fd(create_map(capacity_for(len(entry['peers'])))) as map_fd:
            for peer in entry['peers']:
                map_set(map_fd, peer, True)
            with _Fd(load_program(entry['protocol'], entry['dport'], map_fd)) as prog_fd:
                name = filter_name(entry['protocol'], entry['dport'])
                self.nl.call('%s the eBPF filter on %s' % (command, entry['dev']), 'tc', '%s-filter' % command, 'bpf',
                             index, HANDLE, fd=prog_fd, name=name, parent=INGRESS, prio=PRIORITY, protocol=ETH_P_ALL,
                             direct_action=True)

    def add(self, entry: Dict[str, Any]) -> None:
        self._attach(entry, 'add')

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        where = self._maps.get(current['dev']) or {}
        in_place = (set(fields) == {'peers'} and where.get('map_id') and len(wanted['peers']) <= where['capacity']
                    and (where['prio'], where['handle']) == (PRIORITY, HANDLE))
        if not in_place:
            if (where.get('prio'), where.get('handle')) != (PRIORITY, HANDLE):  # not where this module writes it
                self.delete(current, keep_qdisc=True)
                self._attach(wanted, 'add')
            else:
                self._attach(wanted, 'replace')
            return
        with _Fd(_by_id(BPF_MAP_GET_FD_BY_ID, where['map_id'], 'open eBPF map %d' % where['map_id'])) as map_fd:
            have, want = set(current['peers']), set(wanted['peers'])
            for peer in sorted(want - have, key=ipaddress.ip_address):  # the new peers first
                map_set(map_fd, peer, True)
            for peer in sorted(have - want, key=ipaddress.ip_address):
                map_set(map_fd, peer, False)

    def delete(self, entry: Dict[str, Any], keep_qdisc: bool = False) -> None:
        index = self.nl.ifindex(entry['dev'])
        where = self._maps.get(entry['dev']) or dict(prio=PRIORITY, handle=HANDLE)
        if index is None:
            return
        self.nl.call('delete the eBPF filter on %s' % entry['dev'], 'tc', 'del-filter', 'bpf', index, where['handle'],
                     parent=INGRESS, prio=where['prio'], protocol=ETH_P_ALL)
        if not keep_qdisc and not self._filters(index, INGRESS) and not self._filters(index, EGRESS):
            self.nl.call('delete qdisc clsact of %s' % entry['dev'], 'tc', 'del', 'clsact', index)
