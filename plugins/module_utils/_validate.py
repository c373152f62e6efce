# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed validators shared by the modules and the controller-side plan.

Every validator takes the *name* of what it checks (an option path such as
``routes[2].dst`` or a host variable such as ``worker2: podnet_pod_cidr``) and
the value, returns the normalised value, and raises ``ValidationError`` with a
message that names both. Nothing here touches the kernel, so every input can be
checked before the first write.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable, NoReturn, Optional, TypeVar, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
T = TypeVar('T')

IFNAMSIZ = 15  # bytes, without the trailing NUL
VXLAN_DEFAULT_PORT = 8472  # the kernel's default and flannel's
ROUTE_PROTO = 57  # route protocol number that marks routes owned by openkube.podnet

_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')


class ValidationError(ValueError):
    """An input that cannot be used; the message names the input and the value."""


def _fail(name: str, value: Any, why: str) -> NoReturn:
    raise ValidationError('%s: %r %s' % (name, value, why))


def ifname(name: str, value: Any) -> str:
    """A Linux interface name: 1..15 bytes, no '/', no whitespace, not '.' or '..'."""
    if not isinstance(value, str) or not value:
        _fail(name, value, 'is not an interface name (a non-empty string is required)')
    size = len(value.encode('utf-8'))
    if size > IFNAMSIZ:
        _fail(name, value, 'is %d bytes long; Linux interface names are at most %d bytes' % (size, IFNAMSIZ))
    if value in ('.', '..') or '/' in value or ':' in value or any(c.isspace() for c in value):
        _fail(name, value, "is not a valid interface name (no '/', ':' or whitespace; not '.' or '..')")
    return value


def nsname(name: str, value: Any) -> str:
    """A network namespace name as `ip netns` and /run/netns accept it."""
    if not isinstance(value, str) or not value:
        _fail(name, value, 'is not a namespace name (a non-empty string is required)')
    if value in ('.', '..') or '/' in value or '\0' in value or len(value.encode('utf-8')) > 255:
        _fail(name, value, "is not a valid namespace name (no '/', not '.' or '..', at most 255 bytes)")
    return value


def ip_address(name: str, value: Any, version: Optional[int] = None) -> IPAddress:
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError:
        _fail(name, value, 'is not a valid IP address')
    if version and addr.version != version:
        _fail(name, value, 'is not an IPv%d address' % version)
    return addr


def ip_network(name: str, value: Any, version: Optional[int] = None) -> IPNetwork:
    """A network in CIDR notation with no host bits set (192.168.10.0/24)."""
    text = str(value).strip()
    if '/' not in text:
        _fail(name, value, 'is not a network in CIDR notation (for example 192.168.10.0/24)')
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if 'host bits set' in str(exc):
            _fail(name, value, 'has host bits set (did you mean %s?)' % ipaddress.ip_network(text, strict=False))
        _fail(name, value, 'is not a valid network in CIDR notation')
    if version and net.version != version:
        _fail(name, value, 'is not an IPv%d network' % version)
    return net


def route_dst(name: str, value: Any) -> IPNetwork:
    """A route destination: 'default' or a network in CIDR notation; a bare address means a host route."""
    text = str(value).strip()
    if text == 'default':
        return ipaddress.ip_network('0.0.0.0/0')
    if '/' not in text:
        return ipaddress.ip_network(ip_address(name, text))
    return ip_network(name, text)


def ip_interface(name: str, value: Any) -> IPInterface:
    """An address with prefix length (192.168.10.1/24); a bare address gets a host prefix."""
    text = str(value).strip()
    try:
        if '/' not in text:
            return ipaddress.ip_interface(ipaddress.ip_address(text))
        iface = ipaddress.ip_interface(text)
    except ValueError:
        _fail(name, value, 'is not a valid address with prefix length (for example 192.168.10.1/24)')
    return iface


def mac(name: str, value: Any) -> str:
    """A unicast Ethernet MAC address, normalised to lower case with colons."""
    text = str(value).strip().lower().replace('-', ':')
    if not _MAC_RE.match(text):
        _fail(name, value, 'is not a MAC address (six colon-separated hex bytes, for example 0e:8a:15:00:00:01)')
    if int(text[:2], 16) & 1:
        _fail(name, value, 'is a multicast MAC address; a unicast one is required (first byte even)')
    if text == '00:00:00:00:00:00':
        _fail(name, value, 'is the all-zero MAC address')
    return text


def integer(name: str, value: Any, low: int, high: int, what: str = 'value') -> int:
    if isinstance(value, bool):
        _fail(name, value, 'is not an integer')
    try:
        number = int(str(value).strip(), 10)
    except ValueError:
        _fail(name, value, 'is not an integer')
    if not low <= number <= high:
        _fail(name, value, 'is out of range: a %s is between %d and %d' % (what, low, high))
    return number


def vni(name: str, value: Any) -> int:
    return integer(name, value, 1, 16777215, 'VXLAN VNI')


def port(name: str, value: Any) -> int:
    return integer(name, value, 1, 65535, 'UDP port')


def mtu(name: str, value: Any) -> int:
    return integer(name, value, 68, 65535, 'MTU')


def ttl(name: str, value: Any) -> int:
    """0 means 'inherit' (the kernel's default for tunnels)."""
    return integer(name, value, 0, 255, 'TTL')


def metric(name: str, value: Any) -> int:
    return integer(name, value, 0, 4294967295, 'route metric')


def table(name: str, value: Any) -> int:
    if str(value).strip() == 'main':
        return 254
    return integer(name, value, 1, 4294967295, 'routing table id (or "main")')


def optional(validator: Callable[..., T], name: str, value: Any, *args: Any) -> Optional[T]:
    """Apply ``validator`` unless the value is None (an option that was not given)."""
    if value is None:
        return None
    return validator(name, value, *args)


def state_dir(name: str, value: Any) -> str:
    """An absolute path without '..' (a folder or file the collection writes as root)."""
    if not isinstance(value, str) or not value.startswith('/') or '..' in value.split('/') or '\n' in value:
        raise ValidationError('%s: %r must be an absolute path without ..' % (name, value))
    return value.rstrip('/') or '/'


REPAIR_INTERVAL_RANGE = (5, 86400)


def repair_interval(name: str, value: Any) -> int:
    """Seconds between two runs of the repair timer (_repair.py): a whole number from 5 to 86400."""
    try:
        seconds = int(value)
        if isinstance(value, bool) or str(seconds) != str(value).strip():
            raise ValueError(value)
    except (TypeError, ValueError):
        raise ValidationError('%s: %r must be a whole number of seconds' % (name, value))
    if not REPAIR_INTERVAL_RANGE[0] <= seconds <= REPAIR_INTERVAL_RANGE[1]:
        raise ValidationError('%s: %r must be between %d and %d seconds' % ((name, value) + REPAIR_INTERVAL_RANGE))
    return seconds
