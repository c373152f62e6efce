# -*- coding: utf-8 -*-
"""The typed validators: a table of good values (and what they normalise to) and of bad ones."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v

GOOD = [
    (v.ifname, 'eth0', 'eth0'),
    (v.ifname, 'a' * 15, 'a' * 15),
    (v.ifname, 'podnet.ipip', 'podnet.ipip'),
    (v.nsname, 'ns1', 'ns1'),
    (v.nsname, 'x' * 255, 'x' * 255),
    (v.ip_address, ' 10.0.0.1 ', ipaddress.ip_address('10.0.0.1')),
    (v.ip_address, 'FD00::1', ipaddress.ip_address('fd00::1')),
    (v.ip_network, '192.168.10.0/24', ipaddress.ip_network('192.168.10.0/24')),
    (v.ip_network, 'fd00:10::/64', ipaddress.ip_network('fd00:10::/64')),
    (v.route_dst, 'default', ipaddress.ip_network('0.0.0.0/0')),
    (v.route_dst, '10.0.0.1', ipaddress.ip_network('10.0.0.1/32')),
    (v.route_dst, '10.1.0.0/16', ipaddress.ip_network('10.1.0.0/16')),
    (v.ip_interface, '192.168.10.1/24', ipaddress.ip_interface('192.168.10.1/24')),
    (v.ip_interface, '192.168.10.1', ipaddress.ip_interface('192.168.10.1/32')),
    (v.ip_interface, 'fd00::1', ipaddress.ip_interface('fd00::1/128')),
    (v.mac, '0E:8A:15:00:00:01', '0e:8a:15:00:00:01'),
    (v.mac, '0e-8a-15-00-00-01', '0e:8a:15:00:00:01'),
    (v.vni, '1', 1),
    (v.vni, 16777215, 16777215),
    (v.port, 8472, 8472),
    (v.mtu, '1450', 1450),
    (v.mtu, 68, 68),
    (v.ttl, 0, 0),
    (v.metric, 4294967295, 4294967295),
    (v.table, 'main', 254),
    (v.table, '100', 100),
]

BAD = [
    (v.ifname, '', 'is not an interface name'),
    (v.ifname, None, 'is not an interface name'),
    (v.ifname, 'a' * 16, 'is 16 bytes long'),
    (v.ifname, 'ééééééééé', 'is 18 bytes long'),
    (v.ifname, 'a/b', 'is not a valid interface name'),
    (v.ifname, 'eth0:1', 'is not a valid interface name'),
    (v.ifname, 'a b', 'is not a valid interface name'),
    (v.ifname, '..', 'is not a valid interface name'),
    (v.nsname, '', 'is not a namespace name'),
    (v.nsname, 'a/b', 'is not a valid namespace name'),
    (v.nsname, '.', 'is not a valid namespace name'),
    (v.nsname, 'x' * 256, 'is not a valid namespace name'),
    (v.ip_address, '10.0.0.256', 'is not a valid IP address'),
    (v.ip_address, 'abc', 'is not a valid IP address'),
    (v.ip_network, '10.0.0.0', 'is not a network in CIDR notation'),
    (v.ip_network, '10.0.0.1/24', 'has host bits set (did you mean 10.0.0.0/24?)'),
    (v.ip_network, '10.0.0.0/33', 'is not a valid network in CIDR notation'),
    (v.route_dst, 'nowhere', 'is not a valid IP address'),
    (v.route_dst, '10.0.0.1/8', 'has host bits set'),
    (v.ip_interface, '10.0.0.1/33', 'is not a valid address with prefix length'),
    (v.ip_interface, 'abc/24', 'is not a valid address with prefix length'),
    (v.mac, '0e:8a:15:00:00', 'is not a MAC address'),
    (v.mac, 'zz:8a:15:00:00:01', 'is not a MAC address'),
    (v.mac, '01:00:5e:00:00:01', 'is a multicast MAC address'),
    (v.mac, 'ff:ff:ff:ff:ff:ff', 'is a multicast MAC address'),
    (v.mac, '00:00:00:00:00:00', 'is the all-zero MAC address'),
    (v.vni, 0, 'is out of range: a VXLAN VNI is between 1 and 16777215'),
    (v.vni, 16777216, 'is out of range'),
    (v.vni, 'one', 'is not an integer'),
    (v.vni, True, 'is not an integer'),
    (v.port, 0, 'is out of range: a UDP port is between 1 and 65535'),
    (v.port, 65536, 'is out of range'),
    (v.mtu, 67, 'is out of range: a MTU is between 68 and 65535'),
    (v.mtu, '1.5', 'is not an integer'),
    (v.ttl, 256, 'is out of range'),
    (v.metric, -1, 'is out of range'),
    (v.table, 0, 'is out of range'),
    (v.table, 'local-ish', 'is not an integer'),
]


@pytest.mark.parametrize('validator, value, expected', GOOD)
def test_good(validator, value, expected):
    assert validator('opt', value) == expected


@pytest.mark.parametrize('validator, value, why', BAD)
def test_bad_names_option_and_value(validator, value, why):
    with pytest.raises(v.ValidationError) as caught:
        validator('routes[3].dst', value)
    message = str(caught.value)
    assert message.startswith('routes[3].dst: %r ' % (value,)), message
    assert why in message


@pytest.mark.parametrize('validator, value, version, why', [
    (v.ip_address, 'fd00::1', 4, 'is not an IPv4 address'),
    (v.ip_address, '10.0.0.1', 6, 'is not an IPv6 address'),
    (v.ip_network, '10.0.0.0/8', 6, 'is not an IPv6 network'),
])
def test_version(validator, value, version, why):
    assert validator('x', value, None) is not None
    with pytest.raises(v.ValidationError, match='^x: %r %s' % (value, why)):
        validator('x', value, version)


def test_optional():
    assert v.optional(v.mtu, 'mtu', None) is None
    assert v.optional(v.mtu, 'mtu', '1400') == 1400
    with pytest.raises(v.ValidationError, match="^mtu: 'x' is not an integer"):
        v.optional(v.mtu, 'mtu', 'x')


def test_validation_error_is_a_value_error():
    assert issubclass(v.ValidationError, ValueError)
