# -*- coding: utf-8 -*-
"""The lab's topology from the module's options: the IPv6 underlay beside the IPv4 one, and what is refused
(building and reading back the lab runs on the kernel: tests/integration/lab and the dual-stack suite)."""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils._lab_namespaces import topology_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError

ROUTED = [dict(name='net4', cidr='10.57.4.0/24', gateway='10.57.4.1', cidr6='fd57:4::/64', gateway6='fd57:4::1'),
          dict(name='net5', cidr='10.57.5.0/24', gateway='10.57.5.1', cidr6='fd57:5::/64', gateway6='fd57:5::1')]


def test_dual_stack_underlay():
    topo = topology_from_params(dict(name='t', segments=ROUTED, hosts=[
        dict(name='worker2', node_ip='10.57.4.20', node_ip6='fd57:4::20'),
        dict(name='worker4', node_ip='10.57.5.20', node_ip6='fd57:5::20'),
        dict(name='worker5', node_ip='10.57.5.21')]))
    w2, w4, w5 = topo.hosts
    assert (w2.address, w2.address6, w4.address6, w5.address6) == ('10.57.4.20/24', 'fd57:4::20/64', 'fd57:5::20/64', None)
    assert topo.segments['net4'].router_addresses == ['10.57.4.1/24', 'fd57:4::1/64']
    assert w2.as_dict('/run/podnet/t')['gateway6'] == 'fd57:4::1'


@pytest.mark.parametrize('segments, hosts, expected', [
    ([dict(name='u', cidr='10.57.4.0/24', cidr6='10.0.0.0/24')], [], "segments[0].cidr6: '10.0.0.0/24' is not an IPv6 network"),
    ([dict(name='u', cidr='10.57.4.0/24', cidr6='fd57::/127')], [], "segments[0].cidr6: 'fd57::/127' is too small"),
    ([dict(name='u', cidr='10.57.4.0/24', cidr6='fd57::/64', gateway6='fd58::1')], [],
     "segments[0].gateway6: 'fd58::1' is not a host address of the segment's cidr6 (fd57::/64)"),
    ([dict(name='u', cidr='10.57.4.0/24', gateway='10.57.4.1', cidr6='fd57::/64')], [],
     'segments[0]: a segment with cidr6 has a gateway in both families or in none'),
    ([dict(ROUTED[0]), dict(ROUTED[1], cidr6='fd57:4:0:0:8000::/65', gateway6='fd57:4:0:0:8000::1')], [], "segments[1].cidr6: fd57:4:0:0:8000::/65 overlaps"),
    ([dict(name='u', cidr='10.57.4.0/24', typo6='fd57::/64')], [], 'segments[0]: unknown keys typo6'),
    ([dict(name='u', cidr='10.57.4.0/24')], [dict(name='w', node_ip='10.57.4.20', node_ip6='fd57::20')],
     "hosts[0].node_ip6 (w): fd57::20 needs an IPv6 network on segment 'u' (its cidr6)"),
    (ROUTED, [dict(name='w', node_ip='10.57.4.20', node_ip6='fd57:5::20')],
     "hosts[0].node_ip6 (w): fd57:5::20 is not a host address of segment 'net4' (fd57:4::/64)"),
    (ROUTED, [dict(name='w', node_ip='10.57.4.20', node_ip6='fd57:4::1')], "hosts[0].node_ip6 (w): fd57:4::1 is not a host address"),
    (ROUTED, [dict(name='a', node_ip='10.57.4.20', node_ip6='fd57:4::20'), dict(name='b', node_ip='10.57.4.21', node_ip6='fd57:4::20')],
     'hosts[1].node_ip6 (b): fd57:4::20 is also the node IP of a'),
])
def test_refused(segments, hosts, expected):
    with pytest.raises(ValidationError) as err:
        topology_from_params(dict(name='t', segments=segments, hosts=hosts))
    assert expected in str(err.value), str(err.value)
