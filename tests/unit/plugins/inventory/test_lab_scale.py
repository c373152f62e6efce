# -*- coding: utf-8 -*-
"""The scale lab's hosts from one number: node IPs in one segment, pod ranges that never overlap, up to 496 hosts."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.openkube.podnet.plugins.inventory.lab_scale import MAX_HOSTS, scale_hosts


def test_the_first_hosts_keep_their_ranges_and_the_largest_lab_has_no_overlap():
    assert scale_hosts(2) == [('node001', '10.57.4.20', '192.168.10.0/24'), ('node002', '10.57.4.21', '192.168.11.0/24')]
    hosts = scale_hosts(MAX_HOSTS)
    assert MAX_HOSTS == 496 and hosts[239][2] == '192.168.249.0/24' and hosts[240][2] == '10.244.0.0/24'
    assert hosts[-1] == ('node496', '10.57.6.3', '10.244.255.0/24')
    ranges = sorted(ipaddress.ip_network(h[2]) for h in hosts)
    assert all(not a.overlaps(b) for a, b in zip(ranges, ranges[1:]))
    assert len(set(h[0] for h in hosts)) == len(set(h[1] for h in hosts)) == MAX_HOSTS
    assert not any(ipaddress.ip_address(h[1]) in net for h in hosts for net in ranges)


@pytest.mark.parametrize('count', [0, MAX_HOSTS + 1, 'many'])
def test_a_count_out_of_range_is_refused_naming_the_variable(count):
    with pytest.raises(ValueError, match='PODNET_LAB_HOSTS'):
        scale_hosts(count)
