# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import hashlib
import re
import struct

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _bpf_filter
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError


def test_wanted_filters_are_validated_and_normalised():
    got = _bpf_filter.wanted_from_params(dict(filters=[
        dict(dev='eth0', protocol='udp', dport=8472, peers=['10.57.4.22', '10.57.4.21', '10.57.4.22']),
        dict(dev='eth1', protocol='ipip', peers=[])]))
    assert got == [
        dict(dev='eth0', name='podnet-udp-8472', protocol='udp', dport=8472, program='podnet',
             peers=['10.57.4.21', '10.57.4.22']),
        dict(dev='eth1', name='podnet-ipip', protocol='ipip', dport=None, program='podnet', peers=[])]


@pytest.mark.parametrize('item, message', [
    (dict(dev='eth0', protocol='udp', peers=[]), 'filters[0].dport'),
    (dict(dev='eth0', protocol='ipip', dport=4789), 'filters[0].dport: IP-in-IP has no port'),
    (dict(dev='eth0', protocol='gre'), "filters[0].protocol: 'gre' is not one of udp, ipip"),
    (dict(dev='eth0', protocol='ipip', peers=['fd00::1']), 'filters[0].peers[0]'),
    (dict(dev='a/b', protocol='ipip'), 'filters[0].dev'),
])
def test_bad_filters_are_refused_by_name(item, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        _bpf_filter.wanted_from_params(dict(filters=[item]))


def test_one_filter_per_device():
    with pytest.raises(ValidationError, match='filters\\[1\\].dev: eth0 is given twice'):
        _bpf_filter.wanted_from_params(dict(filters=[dict(dev='eth0', protocol='ipip')] * 2))


def test_the_name_says_what_the_program_filters():
    assert _bpf_filter.filter_name('udp', 4789) == 'podnet-udp-4789'
    assert _bpf_filter._from_name('podnet-udp-4789') == ('udp', 4789)
    assert _bpf_filter._from_name('podnet-ipip') == ('ipip', None)
    assert _bpf_filter._from_name('podnet-udp-x') == (None, None)
    assert _bpf_filter._from_name('podnet-udp-70000') == (None, None)


def test_program_jumps_land_on_pass_and_the_map_load_is_a_pair():
    code = _bpf_filter.instructions('udp', 8472, map_fd=7)
    insns = [struct.unpack('<BBhi', code[i:i + 8]) for i in range(0, len(code), 8)]
    pass_at = len(insns) - 2
    assert insns[pass_at] == (0xb7, 0, 0, -1) and insns[-1][0] == 0x95  # pass: TC_ACT_UNSPEC, exit
    for i, (op, _regs, off, _imm) in enumerate(insns):
        if op in (0x2d, 0x55):  # every conditional jump goes to pass
            assert i + 1 + off == pass_at
    loads = [i for i, insn in enumerate(insns) if insn[0] == 0x18]
    assert len(loads) == 1 and insns[loads[0]] == (0x18, 0x11, 0, 7) and insns[loads[0] + 1] == (0, 0, 0, 0)
    # the port as the packet holds it, read by a 16-bit load on a little-endian CPU
    assert (0x55, 5, pass_at - 19 - 1, 0x1821) in insns
    assert len(_bpf_filter.instructions('ipip', None)) < len(code)


def test_tags_are_the_kernels_hashes_without_the_map():
    code = _bpf_filter.instructions('ipip', None)
    assert _bpf_filter.instructions('ipip', None, map_fd=9) != code
    assert _bpf_filter.tags('ipip', None) == (hashlib.sha1(code).hexdigest()[:16], hashlib.sha256(code).hexdigest()[:16])
    assert _bpf_filter.tags('udp', 8472) != _bpf_filter.tags('udp', 4789)


@pytest.mark.parametrize('peers, capacity', [(0, 256), (128, 256), (129, 512), (5000, 16384)])
def test_the_map_has_room_to_grow_in_place(peers, capacity):
    assert _bpf_filter.capacity_for(peers) == capacity
