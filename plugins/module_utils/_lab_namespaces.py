# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded lab: simulated Linux hosts in namespaces on one machine.

Layout (everything under ``/run/podnet/<lab>``, a private bind mount of itself
so that namespace files can be bind-mounted in it)::

    /run/podnet/<lab>/<host>/{net,mnt,uts}   one simulated host
    /run/podnet/<lab>/_switch/net             one bridge per underlay segment
    /run/podnet/<lab>/_router/net             one leg per routed segment (optional)

Namespaces are kept alive by bind mounts only: no process keeps running.
Inside a host's mount namespace ``/run/netns`` is a tmpfs of its own (so each
host has its own ``ns1``), ``/run/podnet`` is hidden under an empty tmpfs,
``/sys`` is a sysfs of the host's network namespace, and the hostname is the
inventory name. Each host's ``eth0`` is a veth whose peer (``h-<host>``) is a
port of the segment's bridge in the switch namespace. Veth pairs are always
created inside the switch namespace with their far end placed directly in the
host or router namespace: nothing is ever created in, or moved through, the
machine's root network namespace.

``Lab.apply()`` reads the current state, records one action line per
difference and (unless in check mode) fixes it, so a second run reports no
change. ``Lab.teardown()`` kills processes still inside the lab's namespaces,
unmounts every namespace file and removes the directory.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from socket import AF_INET, AF_INET6

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._address import IFA_F_NODAD
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import (
    HAS_PYROUTE2,
    IFF_UP,
    NetlinkError,
    PodnetError,
    link_kind,
    open_iproute,
)
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError

LAB_ROOT = '/run/podnet'
NS_KINDS = ('net', 'mnt', 'uts')
SWITCH = '_switch'
ROUTER = '_router'

_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
_SEGMENT_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,10}$')

ARGSPEC = dict(
    name=dict(type='str', default='lab'),
    hosts=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        node_ip=dict(type='str', required=True),
        node_ip6=dict(type='str'),
        segment=dict(type='str'),
    )),
    segments=dict(type='raw', default=[]),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)

# Runs inside a host's new (or existing) namespaces; idempotent; prints one
# line per change. $1 = host name, $2 = 1 for check mode, $3 = 1 when the
# namespaces were just created (drop the machine's copied mounts first).
HOST_SETUP = r'''
name=$1; check=$2; fresh=$3
say() { echo "$*"; }
src() { findmnt -n -o SOURCE --mountpoint "$1" 2>/dev/null | tail -n 1; }
if [ "$fresh" = 1 ]; then
  # the copy of the machine's mounts holds its namespace files: drop them, so
  # that this host neither sees nor keeps alive anything of the machine or of other labs
  # (one recursive unmount per lab and for /run/netns, then whatever namespace file is left)
  findmnt -rn -o TARGET | grep -E '^/run/podnet(/[^/]+)?$' | sort -r | while read -r m; do umount -R -l "$m" 2>/dev/null || true; done
  if mountpoint -q /run/netns 2>/dev/null; then umount -R -l /run/netns; fi
  findmnt -rn -t nsfs -o TARGET | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
fi
if [ "$(hostname)" != "$name" ]; then
  say "set hostname $name"; [ "$check" = 1 ] || hostname "$name" || exit 1
fi
if [ "$(src /run/netns)" != podnet-netns ]; then
  say "mount a private /run/netns"
  if [ "$check" != 1 ]; then mkdir -p /run/netns && mount -t tmpfs -o mode=755,size=4m podnet-netns /run/netns || exit 1; fi
fi
if [ -d /run/podnet ] && [ "$(src /run/podnet)" != podnet-hide ]; then
  say "hide /run/podnet"
  if [ "$check" != 1 ]; then mount -t tmpfs -o mode=755,size=64k podnet-hide /run/podnet || exit 1; fi
fi
if [ "$(src /sys)" != podnet-sysfs ]; then
  say "mount /sys of this network namespace"
  if [ "$check" != 1 ]; then umount -R -l /sys; mount -t sysfs podnet-sysfs /sys || exit 1; fi
fi
if [ "$(src /var/lib/podnet)" != podnet-state ]; then
  # the hosts share the machine's file system: each keeps its record of what is deployed on its own
  say "mount a private /var/lib/podnet"
  if [ "$check" != 1 ]; then mkdir -p /var/lib/podnet && mount -t tmpfs -o mode=700,size=16m podnet-state /var/lib/podnet || exit 1; fi
fi
if [ -d /etc/systemd/system ] && [ "$(src /etc/systemd/system)" != podnet-units ]; then
  # nor the machine's units: each host writes its boot and repair units (never run here: no systemd) on its own
  say "mount a private /etc/systemd/system"
  if [ "$check" != 1 ]; then mount -t tmpfs -o mode=755,size=1m podnet-units /etc/systemd/system || exit 1; fi
fi
for d in /etc/cni/net.d /var/lib/cni; do
  # nor the CNI configuration and the CNI plugins' state (host-local's allocations): each host its own
  if [ "$(src "$d")" != podnet-cni ]; then
    say "mount a private $d"
    if [ "$check" != 1 ]; then mkdir -p "$d" && mount -t tmpfs -o mode=755,size=4m podnet-cni "$d" || exit 1; fi
  fi
done
exit 0
'''


# ---------------------------------------------------------------- topology
class Segment(object):
    def __init__(self, name, cidr, gateway=None, mtu=1500, cidr6=None, gateway6=None):
        self.name = name
        self.cidr = cidr
        self.gateway = gateway
        self.mtu = mtu
        self.cidr6 = cidr6  # the segment's IPv6 network (None: IPv4 only)
        self.gateway6 = gateway6

    @property
    def bridge(self):
        return 'br-' + self.name

    @property
    def router_port(self):
        return 'r-' + self.name

    @property
    def router_if(self):
        return 'eth-' + self.name

    @property
    def router_addresses(self):
        """The router's addresses on this segment: the gateway of each family."""
        return ['%s/%d' % (gw, net.prefixlen) for gw, net in ((self.gateway, self.cidr), (self.gateway6, self.cidr6)) if gw]

    def as_dict(self):
        return dict(name=self.name, cidr=str(self.cidr), mtu=self.mtu,
                    gateway=str(self.gateway) if self.gateway else None,
                    cidr6=str(self.cidr6) if self.cidr6 else None, gateway6=str(self.gateway6) if self.gateway6 else None)


class Host(object):
    def __init__(self, name, node_ip, segment, node_ip6=None):
        self.name = name
        self.node_ip = node_ip
        self.node_ip6 = node_ip6
        self.segment = segment

    @property
    def port(self):
        """Name of this host's bridge port in the switch namespace (at most 15 bytes)."""
        if len(self.name) <= 13 and re.match(r'^[A-Za-z0-9_.-]+$', self.name):
            return 'h-' + self.name
        return 'h-' + hashlib.sha1(self.name.encode('utf-8')).hexdigest()[:13]

    @property
    def address(self):
        return '%s/%d' % (self.node_ip, self.segment.cidr.prefixlen)

    @property
    def address6(self):
        return '%s/%d' % (self.node_ip6, self.segment.cidr6.prefixlen) if self.node_ip6 else None

    def as_dict(self, lab_dir):
        return dict(name=self.name, node_ip=str(self.node_ip), segment=self.segment.name,
                    address=self.address, gateway=str(self.segment.gateway) if self.segment.gateway else None,
                    node_ip6=str(self.node_ip6) if self.node_ip6 else None, address6=self.address6,
                    gateway6=str(self.segment.gateway6) if self.segment.gateway6 else None,
                    net=os.path.join(lab_dir, self.name, 'net'), mnt=os.path.join(lab_dir, self.name, 'mnt'),
                    uts=os.path.join(lab_dir, self.name, 'uts'))


class Topology(object):
    def __init__(self, name, segments, hosts):
        self.name = name
        self.segments = segments  # name -> Segment, in order
        self.hosts = hosts  # list of Host

    @property
    def routed(self):
        return any(s.gateway for s in self.segments.values())


def _segment_items(value):
    """Segments as a list of dicts, from either a list or a dict keyed by name."""
    if value is None:
        return []
    if isinstance(value, dict):
        items = []
        for name, spec in value.items():
            spec = dict(spec or {})
            spec.setdefault('name', name)
            items.append(spec)
        return items
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ValidationError('segments[%d]: %r is not a dict with name and cidr' % (i, item))
        return [dict(item) for item in value]
    raise ValidationError('segments: %r is neither a list nor a dict of segments' % (value,))


def topology_from_params(params):
    """Validate every option; return a Topology (nothing is touched)."""
    name = params.get('name') or 'lab'
    if not _NAME_RE.match(name):
        raise ValidationError('name: %r is not a valid lab name (letters, digits, ".", "_", "-"; at most 63)' % name)
    segments = {}
    for i, item in enumerate(_segment_items(params.get('segments'))):
        where = 'segments[%d]' % i
        unknown = set(item) - set(['name', 'cidr', 'gateway', 'mtu', 'cidr6', 'gateway6'])
        if unknown:
            raise ValidationError('%s: unknown keys %s (allowed: name, cidr, gateway, mtu, cidr6, gateway6)'
                                  % (where, ', '.join(sorted(unknown))))
        sname = item.get('name')
        if not isinstance(sname, str) or not _SEGMENT_RE.match(sname):
            raise ValidationError('%s.name: %r is not a valid segment name (1-11 letters, digits, "_" or "-")' % (where, sname))
        if sname in segments:
            raise ValidationError('%s.name: segment %r is defined twice' % (where, sname))
        if item.get('cidr') is None:
            raise ValidationError('%s.cidr: missing (the segment\'s network, for example 10.57.4.0/24)' % where)
        cidr = v.ip_network('%s.cidr' % where, item['cidr'], 4)
        if cidr.prefixlen > 30:
            raise ValidationError('%s.cidr: %r is too small for hosts (at most /30)' % (where, item['cidr']))
        gateway = v.optional(v.ip_address, '%s.gateway' % where, item.get('gateway'), 4)
        if gateway is not None and (gateway not in cidr or gateway in (cidr.network_address, cidr.broadcast_address)):
            raise ValidationError('%s.gateway: %r is not a host address of %s' % (where, item['gateway'], cidr))
        mtu = v.mtu('%s.mtu' % where, item.get('mtu') if item.get('mtu') is not None else 1500)
        cidr6 = v.optional(v.ip_network, '%s.cidr6' % where, item.get('cidr6'), 6)
        if cidr6 is not None and cidr6.prefixlen > 126:
            raise ValidationError('%s.cidr6: %r is too small for hosts (at most /126)' % (where, item['cidr6']))
        gateway6 = v.optional(v.ip_address, '%s.gateway6' % where, item.get('gateway6'), 6)
        if gateway6 is not None and (cidr6 is None or gateway6 not in cidr6 or gateway6 == cidr6.network_address):
            raise ValidationError('%s.gateway6: %r is not a host address of the segment\'s cidr6 (%s)'
                                  % (where, item['gateway6'], cidr6 or 'not set'))
        if (gateway is None) != (gateway6 is None) and cidr6 is not None:
            raise ValidationError('%s: a segment with cidr6 has a gateway in both families or in none (gateway %s, '
                                  'gateway6 %s)' % (where, gateway, gateway6))
        for other in segments.values():
            if other.cidr.overlaps(cidr):
                raise ValidationError('%s.cidr: %s overlaps segment %r (%s)' % (where, cidr, other.name, other.cidr))
            if cidr6 is not None and other.cidr6 is not None and other.cidr6.overlaps(cidr6):
                raise ValidationError('%s.cidr6: %s overlaps segment %r (%s)' % (where, cidr6, other.name, other.cidr6))
        segments[sname] = Segment(sname, cidr, gateway, mtu, cidr6, gateway6)
    hosts = []
    seen_names, seen_ips = set(), {}
    for i, item in enumerate(params.get('hosts') or []):
        where = 'hosts[%d]' % i
        hname = item.get('name')
        if not isinstance(hname, str) or not _NAME_RE.match(hname):
            raise ValidationError('%s.name: %r is not a valid lab host name (letters, digits, ".", "_", "-"; '
                                  'not starting with "_" or "."; at most 63)' % (where, hname))
        if hname in seen_names:
            raise ValidationError('%s.name: host %r is listed twice' % (where, hname))
        seen_names.add(hname)
        node_ip = v.ip_address('%s.node_ip (%s)' % (where, hname), item.get('node_ip'), 4)
        if node_ip in seen_ips:
            raise ValidationError('%s.node_ip (%s): %s is also the node IP of %s' % (where, hname, node_ip, seen_ips[node_ip]))
        seen_ips[node_ip] = hname
        sname = item.get('segment')
        if sname:
            if sname not in segments:
                raise ValidationError('%s.segment (%s): %r is not a defined segment (defined: %s)'
                                      % (where, hname, sname, ', '.join(segments) or 'none'))
            segment = segments[sname]
        else:
            matching = [s for s in segments.values() if node_ip in s.cidr]
            if not matching:
                raise ValidationError('%s.node_ip (%s): %s is in no segment (segments: %s)'
                                      % (where, hname, node_ip, ', '.join('%s %s' % (s.name, s.cidr) for s in segments.values()) or 'none'))
            segment = matching[0]
        if node_ip not in segment.cidr or node_ip in (segment.cidr.network_address, segment.cidr.broadcast_address):
            raise ValidationError('%s.node_ip (%s): %s is not a host address of segment %r (%s)'
                                  % (where, hname, node_ip, segment.name, segment.cidr))
        if node_ip == segment.gateway:
            raise ValidationError('%s.node_ip (%s): %s is the gateway of segment %r' % (where, hname, node_ip, segment.name))
        node_ip6 = v.optional(v.ip_address, '%s.node_ip6 (%s)' % (where, hname), item.get('node_ip6'), 6)
        if node_ip6 is not None:
            if segment.cidr6 is None:
                raise ValidationError('%s.node_ip6 (%s): %s needs an IPv6 network on segment %r (its cidr6)'
                                      % (where, hname, node_ip6, segment.name))
            if node_ip6 not in segment.cidr6 or node_ip6 in (segment.cidr6.network_address, segment.gateway6):
                raise ValidationError('%s.node_ip6 (%s): %s is not a host address of segment %r (%s)'
                                      % (where, hname, node_ip6, segment.name, segment.cidr6))
            if node_ip6 in seen_ips:
                raise ValidationError('%s.node_ip6 (%s): %s is also the node IP of %s' % (where, hname, node_ip6, seen_ips[node_ip6]))
            seen_ips[node_ip6] = hname
        hosts.append(Host(hname, node_ip, segment, node_ip6))
    if hosts and not segments:
        raise ValidationError('segments: at least one segment is needed for the hosts')
    return Topology(name, segments, hosts)


# ---------------------------------------------------------------- mounts and processes
def _unescape(path):
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), path)


def mounts():
    """Mount points of this process's mount namespace: list of (mount point, fstype, shared?)."""
    result = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            left, right = line.split(' - ', 1)
            fields = left.split()
            result.append((_unescape(fields[4]), right.split()[0], any(o.startswith('shared:') for o in fields[6:])))
    return result


def _run(cmd, input=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, input=input, check=False)
    if proc.returncode != 0:
        raise PodnetError('%s failed (rc %d): %s' % (' '.join(cmd[:3]) + ' ...', proc.returncode,
                                                     (proc.stderr or proc.stdout).strip()))
    return proc.stdout


def ns_processes(ns_files):
    """PIDs of processes in any of the namespaces held by ``ns_files`` (never this process)."""
    wanted = set()
    for path in ns_files:
        try:
            st = os.stat(path)
        except OSError:
            continue
        wanted.add((st.st_dev, st.st_ino))
    if not wanted:
        return []
    me = os.getpid()
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == me:
            continue
        for kind in NS_KINDS:
            try:
                st = os.stat('/proc/%s/ns/%s' % (entry, kind))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in wanted:
                pids.append(int(entry))
                break
    return pids


def kill_processes(ns_files, timeout=10.0):
    """SIGKILL every process in the namespaces and wait until they are gone; return how many."""
    pids = ns_processes(ns_files)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.time() + timeout
    while pids and time.time() < deadline:
        pids = [p for p in pids if os.path.exists('/proc/%d' % p) and alive(p)]
        if pids:
            time.sleep(0.02)
    return len(ns_processes(ns_files)) if pids else 0


def alive(pid):
    """Whether process ``pid`` exists and is not a zombie (a killed child its parent has not reaped)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


# ---------------------------------------------------------------- netlink helpers
def _links(ipr):
    out = {}
    for msg in ipr.get_links():
        out[msg.get_attr('IFLA_IFNAME')] = dict(
            index=msg['index'],
            kind=link_kind(msg),
            mtu=msg.get_attr('IFLA_MTU'),
            up=bool(msg['flags'] & IFF_UP),
            master=msg.get_attr('IFLA_MASTER'),
            link=msg.get_attr('IFLA_LINK'),
        )
    return out


def _addresses(ipr, index):
    """The interface's IPv4 and global IPv6 addresses (the kernel's own link-local fe80::/64 ones are not the lab's)."""
    found = set()
    for family in (AF_INET, AF_INET6):
        for m in ipr.get_addr(family=family, index=index):
            addr = m.get_attr('IFA_ADDRESS')
            if family == AF_INET6 and addr.lower().startswith('fe80:'):
                continue
            found.add('%s/%d' % (addr, m['prefixlen']))
    return found


def _default_routes(ipr, family=AF_INET):
    out = []
    for m in ipr.route('dump', family=family):
        if m['dst_len'] == 0 and m.get_attr('RTA_TABLE') == 254 and m['type'] == 1 and m.get_attr('RTA_GATEWAY'):
            out.append(m.get_attr('RTA_GATEWAY'))
    return out


# ---------------------------------------------------------------- the lab
class Lab(object):
    def __init__(self, topology, check_mode=False, root=LAB_ROOT):
        self.topo = topology
        self.check = check_mode
        self.root = root
        self.dir = os.path.join(root, topology.name)
        self.actions = []
        self._ipr = {}

    # ---- paths
    def ns_path(self, owner, kind='net'):
        return os.path.join(self.dir, owner, kind)

    def _nsfs_mounted(self, path, table=None):
        return any(m == path and t == 'nsfs' for m, t, shared in (table if table is not None else mounts()))

    def _record(self, text):
        self.actions.append(text)

    # ---- netlink sockets (one per namespace, closed at the end)
    def ipr(self, path):
        """IPRoute in the namespace at ``path``; None in check mode when it does not exist yet."""
        if path not in self._ipr:
            if not self._nsfs_mounted(path):
                if self.check:
                    return None
                raise PodnetError('namespace file %s is missing' % path)
            self._ipr[path] = open_iproute(path)
        return self._ipr[path]

    def close(self):
        for ipr in self._ipr.values():
            ipr.close()
        self._ipr = {}

    def _nl(self, action, ipr, method, *args, **kwargs):
        try:
            return getattr(ipr, method)(*args, **kwargs)
        except NetlinkError as exc:
            raise PodnetError('%s failed: %s (errno %s)' % (action, os.strerror(exc.code) if exc.code else exc, exc.code))

    # ---- the lab directory
    def ensure_dir(self):
        table = mounts()
        entry = [m for m in table if m[0] == self.dir]
        if not os.path.isdir(self.dir):
            self._record('create %s' % self.dir)
            if not self.check:
                os.makedirs(self.dir, mode=0o755)
        if not entry:
            self._record('bind-mount %s onto itself, private' % self.dir)
            if not self.check:
                _run(['mount', '--bind', self.dir, self.dir])
                _run(['mount', '--make-private', self.dir])
        elif entry[-1][2]:
            self._record('make %s private' % self.dir)
            if not self.check:
                _run(['mount', '--make-private', self.dir])

    # ---- namespaces
    def ensure_netns(self, owner):
        """A bare network namespace (switch or router), lo up."""
        path = self.ns_path(owner)
        if self._nsfs_mounted(path):
            return
        self._record('create namespace %s' % path)
        if self.check:
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, 'a').close()
        _run(['unshare', '--net=' + path, '--', 'ip', 'link', 'set', 'lo', 'up'])

    def ensure_host_ns(self, host, table):
        hdir = os.path.join(self.dir, host.name)
        paths = [os.path.join(hdir, k) for k in NS_KINDS]
        mounted = [self._nsfs_mounted(p, table) for p in paths]
        if all(mounted):
            out = _run(['nsenter', '--net=' + paths[0], '--mount=' + paths[1], '--uts=' + paths[2],
                        '--', 'sh', '-c', HOST_SETUP, 'sh', host.name, '1' if self.check else '0', '0'])
            for line in out.splitlines():
                if line.strip():
                    self._record('%s: %s' % (host.name, line.strip()))
            return
        if any(mounted):
            self._record('%s: recreate incomplete namespaces' % host.name)
            if not self.check:
                self.teardown_host(host.name)
        self._record('create host %s (net, mnt and uts namespaces)' % host.name)
        if self.check:
            return
        os.makedirs(hdir, exist_ok=True)
        for p in paths:
            open(p, 'a').close()
        _run(['unshare', '--net=' + paths[0], '--mount=' + paths[1], '--uts=' + paths[2],
              '--propagation', 'private', '--', 'sh', '-c', HOST_SETUP, 'sh', host.name, '0', '1'])

    # ---- links
    def _ensure_link_state(self, ipr, where, name, have, mtu, master=None):
        if mtu and have['mtu'] != mtu:
            self._record('%s: set mtu of %s to %d' % (where, name, mtu))
            if not self.check:
                self._nl('set mtu of %s' % name, ipr, 'link', 'set', index=have['index'], mtu=mtu)
        if master is not None and have['master'] != master:
            self._record('%s: attach %s to its bridge' % (where, name))
            if not self.check:
                self._nl('attach %s' % name, ipr, 'link', 'set', index=have['index'], master=master)
        if not have['up']:
            self._record('%s: set %s up' % (where, name))
            if not self.check:
                self._nl('set %s up' % name, ipr, 'link', 'set', index=have['index'], state='up')

    def ensure_bridges(self, sw, sw_links):
        for seg in self.topo.segments.values():
            have = sw_links.get(seg.bridge)
            if have is not None and have['kind'] != 'bridge':
                self._record('switch: delete %s (not a bridge)' % seg.bridge)
                if not self.check:
                    self._nl('delete %s' % seg.bridge, sw, 'link', 'del', index=have['index'])
                have = None
            if have is None:
                self._record('switch: add bridge %s for segment %s (%s)' % (seg.bridge, seg.name, seg.cidr))
                if not self.check:
                    self._nl('add bridge %s' % seg.bridge, sw, 'link', 'add', ifname=seg.bridge, kind='bridge',
                             mtu=seg.mtu, br_stp_state=0, br_forward_delay=0)
                    self._nl('set %s up' % seg.bridge, sw, 'link', 'set', ifname=seg.bridge, state='up')
                continue
            self._ensure_link_state(sw, 'switch', seg.bridge, have, seg.mtu)

    def ensure_wire(self, sw, sw_links, port, far_path, far_name, far_label, segment):
        """A veth: ``port`` in the switch (on the segment's bridge), ``far_name`` in the namespace at ``far_path``."""
        far = self.ipr(far_path)
        far_links = _links(far) if far is not None else {}
        have_port, have_far = sw_links.get(port), far_links.get(far_name)
        paired = (have_port is not None and have_far is not None and have_port['kind'] == 'veth'
                  and have_far['kind'] == 'veth' and have_port['link'] == have_far['index']
                  and have_far['link'] == have_port['index'])
        if not paired:
            if have_port is not None or have_far is not None:
                self._record('%s: recreate %s (its switch port %s is missing or not its peer)' % (far_label, far_name, port))
                if not self.check:
                    for ipr, have in ((sw, have_port), (far, have_far)):
                        if have is not None:
                            try:
                                ipr.link('del', index=have['index'])
                            except NetlinkError as exc:
                                if exc.code != errno.ENODEV:
                                    raise
            self._record('%s: add %s, a veth to port %s of bridge %s' % (far_label, far_name, port, segment.bridge))
            if self.check:
                return
            self._nl('add veth %s' % port, sw, 'link', 'add', ifname=port, kind='veth', mtu=segment.mtu,
                     peer={'ifname': far_name, 'net_ns_fd': far_path, 'mtu': segment.mtu})
            self._nl('attach %s' % port, sw, 'link', 'set', ifname=port, master=sw.link_lookup(ifname=segment.bridge)[0],
                     state='up')
            self._nl('set %s up' % far_name, far, 'link', 'set', ifname=far_name, state='up')
            return
        master = sw_links[segment.bridge]['index'] if segment.bridge in sw_links else None
        self._ensure_link_state(sw, 'switch', port, have_port, segment.mtu, master)
        self._ensure_link_state(far, far_label, far_name, have_far, segment.mtu)

    def ensure_lo(self, ipr, label):
        if ipr is None:
            return
        lo = _links(ipr).get('lo')
        if lo and not lo['up']:
            self._record('%s: set lo up' % label)
            if not self.check:
                self._nl('set lo up', ipr, 'link', 'set', index=lo['index'], state='up')

    def ensure_address(self, ipr, label, ifname, addresses):
        """``ifname`` has exactly these addresses (an IPv4 one, and an IPv6 one on a dual-stack segment; IPv6
        ones without duplicate address detection, usable at once)."""
        links = _links(ipr) if ipr is not None else {}
        have = set()
        if ifname in links:
            have = _addresses(ipr, links[ifname]['index'])
        for extra in sorted(have - set(addresses)):
            self._record('%s: delete address %s from %s' % (label, extra, ifname))
            if not self.check:
                addr, plen = extra.split('/')
                self._nl('delete address %s' % extra, ipr, 'addr', 'del', index=links[ifname]['index'],
                         address=addr, prefixlen=int(plen))
        for address in addresses:
            if address in have:
                continue
            self._record('%s: add address %s to %s' % (label, address, ifname))
            if not self.check:
                addr, plen = address.split('/')
                extra = dict(flags=IFA_F_NODAD) if ':' in addr else {}
                self._nl('add address %s' % address, ipr, 'addr', 'add', index=ipr.link_lookup(ifname=ifname)[0],
                         address=addr, prefixlen=int(plen), **extra)

    def ensure_default_route(self, ipr, label, gateway, ifname, family=AF_INET):
        have = _default_routes(ipr, family) if ipr is not None else []
        want = str(gateway) if gateway else None
        default = '::/0' if family == AF_INET6 else '0.0.0.0/0'
        for gw in have:
            if gw != want:
                self._record('%s: delete default route via %s' % (label, gw))
                if not self.check:
                    self._nl('delete default route', ipr, 'route', 'del', dst=default, gateway=gw, family=family)
        if want and want not in have:
            self._record('%s: add default route via %s dev %s' % (label, want, ifname))
            if not self.check:
                self._nl('add default route', ipr, 'route', 'add', dst=default, gateway=want, family=family,
                         oif=ipr.link_lookup(ifname=ifname)[0])

    def ensure_forwarding(self, path, dual):
        wanted = ['net/ipv4/ip_forward'] + (['net/ipv6/conf/all/forwarding'] if dual else [])
        for key in wanted:
            current = '0'
            if self._nsfs_mounted(path):
                current = _run(['nsenter', '--net=' + path, '--', 'cat', '/proc/sys/' + key]).strip()
            if current != '1':
                self._record('router: enable %s' % key.replace('/', '.'))
                if not self.check:
                    _run(['nsenter', '--net=' + path, '--', 'sh', '-c', 'echo 1 > /proc/sys/' + key])

    def purge_links(self, ipr, label, links, wanted):
        for name, have in sorted(links.items()):
            if name == 'lo' or name in wanted:
                continue
            self._record('%s: delete %s (not in the topology)' % (label, name))
            if not self.check:
                try:
                    ipr.link('del', index=have['index'])
                except NetlinkError as exc:
                    if exc.code != errno.ENODEV:  # a veth whose peer went away with its namespace
                        raise

    # ---- the whole thing
    def apply(self):
        if not HAS_PYROUTE2:
            raise PodnetError('pyroute2 is required')
        topo = self.topo
        try:
            self.ensure_dir()
            # hosts that are no longer in the topology
            if os.path.isdir(self.dir):
                wanted = set(h.name for h in topo.hosts)
                for entry in sorted(os.listdir(self.dir)):
                    if entry not in wanted and not entry.startswith('_'):
                        self._record('remove host %s (not in the topology)' % entry)
                        if not self.check:
                            self.teardown_host(entry)
                if not topo.routed and os.path.exists(os.path.join(self.dir, ROUTER)):
                    self._record('remove the router (no segment has a gateway)')
                    if not self.check:
                        self.teardown_host(ROUTER)
            self.ensure_netns(SWITCH)
            if topo.routed:
                self.ensure_netns(ROUTER)
            table = mounts()
            for host in topo.hosts:
                self.ensure_host_ns(host, table)

            sw = self.ipr(self.ns_path(SWITCH))
            sw_links = _links(sw) if sw is not None else {}
            self.ensure_lo(sw, 'switch')
            wanted_ports = set(s.bridge for s in topo.segments.values())
            wanted_ports.update(h.port for h in topo.hosts)
            wanted_ports.update(s.router_port for s in topo.segments.values() if s.gateway)
            self.purge_links(sw, 'switch', sw_links, wanted_ports)
            self.ensure_bridges(sw, sw_links)
            if sw is not None:
                sw_links = _links(sw)
            for host in topo.hosts:
                path = self.ns_path(host.name)
                self.ensure_wire(sw, sw_links, host.port, path, 'eth0', host.name, host.segment)
                ipr = self.ipr(path)
                self.ensure_lo(ipr, host.name)
                self.ensure_address(ipr, host.name, 'eth0', [a for a in (host.address, host.address6) if a])
                self.ensure_default_route(ipr, host.name, host.segment.gateway, 'eth0')
                self.ensure_default_route(ipr, host.name, host.segment.gateway6 if host.node_ip6 else None, 'eth0', AF_INET6)
            if topo.routed:
                path = self.ns_path(ROUTER)
                rt = self.ipr(path)
                gated = [s for s in topo.segments.values() if s.gateway]
                if rt is not None:
                    self.purge_links(rt, 'router', _links(rt), set(s.router_if for s in gated))
                self.ensure_lo(rt, 'router')
                for seg in gated:
                    self.ensure_wire(sw, sw_links, seg.router_port, path, seg.router_if, 'router', seg)
                    self.ensure_address(rt, 'router', seg.router_if, seg.router_addresses)
                self.ensure_forwarding(path, any(s.gateway6 for s in gated))
        finally:
            self.close()
        return self.result('present')

    def result(self, state):
        return dict(
            changed=bool(self.actions),
            actions=self.actions,
            lab=dict(
                name=self.topo.name,
                path=self.dir,
                state=state,
                segments=[s.as_dict() for s in self.topo.segments.values()],
                hosts=[h.as_dict(self.dir) for h in self.topo.hosts] if state == 'present' else [],
                router=self.ns_path(ROUTER) if (self.topo.routed and state == 'present') else None,
                switch=self.ns_path(SWITCH) if state == 'present' else None,
            ),
        )

    # ---- teardown
    def _ns_files(self, owner=None):
        owners = [owner] if owner else (sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else [])
        files = []
        for name in owners:
            for kind in NS_KINDS:
                path = os.path.join(self.dir, name, kind)
                if os.path.exists(path):
                    files.append(path)
        return files

    def _unmount_under(self, prefix, include_self=False):
        targets = [m for m, fstype, shared in mounts() if m.startswith(prefix + '/') or (include_self and m == prefix)]
        for target in sorted(set(targets), key=lambda p: (-p.count('/'), p), reverse=False):
            proc = subprocess.run(['umount', target], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                _run(['umount', '-l', target])

    def teardown_host(self, owner):
        """Kill the processes of one host (or the switch, the router), unmount and remove its files."""
        hdir = os.path.join(self.dir, owner)
        left = kill_processes(self._ns_files(owner))
        if left:
            raise PodnetError('%d processes in lab host %s could not be killed' % (left, owner))
        self._unmount_under(hdir)
        shutil.rmtree(hdir, ignore_errors=True)

    def teardown(self):
        exists = os.path.isdir(self.dir) or any(m == self.dir or m.startswith(self.dir + '/') for m, fstype, shared in mounts())
        if exists:
            self._record('remove lab %s (%s)' % (self.topo.name, self.dir))
            if not self.check:
                files = self._ns_files()
                left = kill_processes(files)
                if left:
                    raise PodnetError('%d processes in lab %s could not be killed' % (left, self.topo.name))
                self._unmount_under(self.dir, include_self=True)
                if any(m == self.dir or m.startswith(self.dir + '/') for m, fstype, shared in mounts()):
                    raise PodnetError('mounts under %s remain after unmounting' % self.dir)
                shutil.rmtree(self.dir, ignore_errors=True)
                try:
                    os.rmdir(self.root)
                except OSError:
                    pass  # another lab is still there
        return self.result('absent')


def run(module):
    """The module's whole run."""
    if not HAS_PYROUTE2:
        from ansible_collections.openkube.podnet.plugins.module_utils._resource import require_pyroute2
        require_pyroute2(module)
    try:
        topo = topology_from_params(module.params)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    if os.geteuid() != 0:
        module.fail_json(msg='the lab needs root (namespaces and mounts); run it as root or with become')
    lab = Lab(topo, check_mode=module.check_mode)
    try:
        if module.params['state'] == 'absent':
            result = lab.teardown()
        else:
            result = lab.apply()
    except (PodnetError, ValidationError, OSError) as exc:
        module.fail_json(msg=str(exc), actions=lab.actions)
    module.exit_json(**result)
