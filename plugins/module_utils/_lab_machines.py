# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The booted lab: Debian 12 machines with systemd as PID 1, reached over SSH (module lab_machines).

Each machine is a Debian 12 root file system of its own, booted with ``systemd-nspawn --boot`` inside
a network namespace made beforehand (``/run/netns/<lab>-<host>``), so that the machine's root network
namespace is never touched. Its ``eth0`` is a veth to a bridge in the switch namespace
(``<lab>-sw``); systemd-networkd in the machine gives it its address at boot, as on a real host. A
bastion namespace (``<lab>-bastion``) on the same bridge is where SSH connections start
(``ProxyCommand ip netns exec <lab>-bastion nc %h %p``); the machines have no other network.

* **Image**: ``debootstrap --variant=minbase`` of bookworm with systemd, sshd, sudo, python3, iproute2
  and iptables, built once into ``/var/cache/podnet/machines/<key>`` (outside any checkout). It holds a
  local package repository (``file:/opt/podnet-repo``, Debian's ``.deb`` of ``python3-pyroute2``, ``nftables`` and
  ``python3-venv``, and the pyroute2 wheel in ``wheels/``) as its only apt source: the machines are
  offline, and a package or pip install runs for real from it.
* **Machines**: each gets a copy of the image under ``/var/lib/podnet/machines/<lab>/<host>/root`` (its
  own /etc), its hostname, its networkd file, fresh SSH host keys and machine id, the lab's user
  ``podnet`` (key-only SSH, passwordless sudo); ``pyroute2: true`` installs Debian's ``python3-pyroute2``
  into it from the local repository, ``nftables: true`` Debian's ``nftables`` (the ``nft`` program).
* **Reboot** (``reboot``): ``systemctl reboot`` inside; systemd-nspawn exits with 133; the machine's
  network namespace is replaced by a fresh one (as a kernel's would be after a reboot) and the machine
  boots again from its disk, which stays.
* **Absent**: every process of the machines is killed, the namespaces removed, and
  ``/var/lib/podnet/machines/<lab>`` (disks, key pair, the user's key) deleted. The image cache stays.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._lab_namespaces import alive, kill_processes
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import (
    NETNS_RUN_DIR,
    PodnetError,
    create_netns,
    in_netns,
    netns_exists,
    open_iproute,
)

IMAGE_CACHE = '/var/cache/podnet/machines'
STATE_ROOT = '/var/lib/podnet/machines'
SUITE = 'bookworm'
MIRROR = 'http://deb.debian.org/debian'
BASE_PACKAGES = ('systemd', 'systemd-sysv', 'dbus', 'python3', 'iproute2', 'openssh-server', 'sudo',
                 'iptables', 'iputils-ping', 'tcpdump', 'netcat-openbsd')
PYROUTE2_PACKAGES = ('python3-pyroute2', 'python3-apt')  # python3-apt: Ansible's apt module installs it first
# The local repository: what a machine may install. python3-venv: the role's opt-in fallback (podnet_pyroute2_venv)
# makes a virtual environment and installs pyroute2 into it from WHEELS (in /opt/podnet-repo/wheels).
#: nftables: the nft program a standard Debian install has (priority important), which minbase leaves out
NFTABLES_PACKAGES = ('nftables',)
REPO_PACKAGES = PYROUTE2_PACKAGES + NFTABLES_PACKAGES + ('python3-venv',)
WHEELS = ('pyroute2==0.9.7',)
IMAGE_FORMAT = 4  # bump when the image's recipe changes
USER = 'podnet'
BOOT_TIMEOUT = 120
NSPAWN_PROPAGATE = '/run/systemd/nspawn/propagate'
REBOOT_EXIT = 133  # systemd-nspawn's exit status after `systemctl reboot` inside


def _run(cmd, what=None, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-1500:]
        raise PodnetError('%s failed (rc %d): %s' % (what or ' '.join(cmd), proc.returncode, detail))
    return proc.stdout


def image_key():
    recipe = json.dumps([IMAGE_FORMAT, SUITE, BASE_PACKAGES, REPO_PACKAGES, WHEELS])
    return '%s-%s' % (SUITE, hashlib.sha256(recipe.encode()).hexdigest()[:12])


def _write_packages_index(repo):
    """A Packages file for the .deb files in ``repo`` (what dpkg-scanpackages writes)."""
    stanzas = []
    for deb in sorted(f for f in os.listdir(repo) if f.endswith('.deb')):
        path = os.path.join(repo, deb)
        control = _run(['dpkg-deb', '-f', path]).rstrip('\n')
        with open(path, 'rb') as f:
            data = f.read()
        stanzas.append('%s\nFilename: ./%s\nSize: %d\nSHA256: %s\n' % (control, deb, len(data),
                                                                       hashlib.sha256(data).hexdigest()))
    with open(os.path.join(repo, 'Packages'), 'w') as f:
        f.write('\n'.join(stanzas))


def ensure_image(actions):
    """The image's root, built into the cache if it is not there (under a lock: labs share it)."""
    os.makedirs(IMAGE_CACHE, exist_ok=True)
    root = os.path.join(IMAGE_CACHE, image_key())
    with open(os.path.join(IMAGE_CACHE, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(root, 'etc', 'podnet-image')):
            return root
        start = time.monotonic()
        work = root + '.build'
        shutil.rmtree(work, ignore_errors=True)
        try:
            _run(['debootstrap', '--variant=minbase', '--include=' + ','.join(BASE_PACKAGES), SUITE, work, MIRROR],
                 'debootstrap of %s' % SUITE)
            # The local repository: the packages a machine may install and what they need beyond the image,
            # as apt itself resolves them (downloaded in the image while it still has the archive as source).
            repo = os.path.join(work, 'opt', 'podnet-repo')
            os.makedirs(repo)
            env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
            _run(['chroot', work, 'apt-get', 'update', '-qq'], 'apt-get update in the image', env=env)
            _run(['chroot', work, 'apt-get', 'install', '-qq', '-y', '--download-only', '--no-install-recommends']
                 + list(REPO_PACKAGES), 'download %s for the local repository' % ' '.join(REPO_PACKAGES), env=env)
            archives = os.path.join(work, 'var', 'cache', 'apt', 'archives')
            for deb in os.listdir(archives):
                if deb.endswith('.deb'):
                    shutil.move(os.path.join(archives, deb), os.path.join(repo, deb))
            _write_packages_index(repo)
            # The wheels, from PyPI on this machine (pip of the Python that runs this module: the controller's)
            _run([sys.executable, '-m', 'pip', 'download', '-q', '--disable-pip-version-check', '--no-deps',
                  '--only-binary=:all:', '-d', os.path.join(repo, 'wheels')] + list(WHEELS),
                 'download the wheels %s for the local repository' % ' '.join(WHEELS))
            # The machines are offline: the local repository is their only source.
            with open(os.path.join(work, 'etc', 'apt', 'sources.list'), 'w') as f:
                f.write('# openkube.podnet lab machine: offline, packages from the local repository only\n'
                        'deb [trusted=yes] file:/opt/podnet-repo ./\n')
            _run(['chroot', work, 'apt-get', 'update', '-qq'], 'apt-get update in the image (local repository)', env=env)
            _run(['chroot', work, 'apt-get', 'clean'])
            wants = os.path.join(work, 'etc', 'systemd', 'system', 'multi-user.target.wants')
            os.makedirs(wants, exist_ok=True)
            os.symlink('/lib/systemd/system/systemd-networkd.service', os.path.join(wants, 'systemd-networkd.service'))
            with open(os.path.join(work, 'etc', 'podnet-image'), 'w') as f:
                f.write('%s built in %.0f s\n' % (image_key(), time.monotonic() - start))
            os.rename(work, root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        actions.append('build image %s (%.0f s)' % (root, time.monotonic() - start))
        return root


class Machines(object):
    """The machines of one lab: build, boot, reboot, remove."""

    def __init__(self, name, hosts, cidr, bastion_ip, check_mode=False):
        self.name = name
        self.hosts = hosts
        self.cidr = cidr
        self.bastion_ip = bastion_ip
        self.check = check_mode
        self.dir = os.path.join(STATE_ROOT, name)
        self.key = os.path.join(self.dir, 'id_ed25519')
        self.actions = []

    # ---- names and paths
    def ns(self, owner):
        return '%s-%s' % (self.name, owner)

    def hdir(self, host):
        return os.path.join(self.dir, host['name'])

    def root(self, host):
        return os.path.join(self.hdir(host), 'root')

    # ---- the network: switch, bastion, one namespace per machine
    def _netns_add(self, name):
        if not netns_exists(name):
            create_netns(name)
            self.actions.append('create network namespace %s' % name)

    def _netns_del(self, name):
        from pyroute2 import netns as pyroute2_netns
        if os.path.exists(os.path.join(NETNS_RUN_DIR, name)):
            if kill_processes([os.path.join(NETNS_RUN_DIR, name)]):
                raise PodnetError('processes in network namespace %s could not be killed' % name)
            pyroute2_netns.remove(name)
            self.actions.append('remove network namespace %s' % name)

    def _port(self, owner, address=None):
        """A veth from the switch's bridge into namespace ``owner`` (as its eth0), made once."""
        port = 'p-%s' % owner
        inner = open_iproute(self.ns(owner))
        try:
            present = bool(inner.link_lookup(ifname='eth0'))
        finally:
            inner.close()
        ipr = open_iproute(self.ns('sw'))
        try:
            if present and ipr.link_lookup(ifname=port):
                return
            # A namespace that was just removed (a reboot) takes its veth pair with it, a moment later.
            deadline = time.monotonic() + 10
            while ipr.link_lookup(ifname=port) and time.monotonic() < deadline:
                time.sleep(0.05)
            if ipr.link_lookup(ifname=port):
                ipr.link('del', index=ipr.link_lookup(ifname=port)[0])
            bridge = ipr.link_lookup(ifname='br0')[0]
            # eth0 keeps its MAC across reboots, as a real NIC does (a new one would leave the peers' ARP entries stale)
            digest = hashlib.sha256(('openkube.podnet/lab-machine/%s/%s' % (self.name, owner)).encode()).digest()
            mac = ':'.join('%02x' % o for o in [0x0a] + list(digest[:5]))  # locally administered, unicast
            ipr.link('add', ifname=port, kind='veth', peer={'ifname': 'eth0', 'net_ns_fd': self.ns(owner), 'address': mac})
            index = ipr.link_lookup(ifname=port)[0]
            ipr.link('set', index=index, master=bridge, state='up')
        finally:
            ipr.close()
        inner = open_iproute(self.ns(owner))
        try:
            inner.link('set', index=inner.link_lookup(ifname='lo')[0], state='up')
            eth0 = inner.link_lookup(ifname='eth0')[0]
            if address:
                inner.addr('add', index=eth0, address=address, prefixlen=self.cidr.prefixlen)
                inner.link('set', index=eth0, state='up')
        finally:
            inner.close()
        self.actions.append('connect %s to the switch (%s)' % (self.ns(owner), address or 'configured by the machine'))

    def ensure_network(self):
        self._netns_add(self.ns('sw'))
        ipr = open_iproute(self.ns('sw'))
        try:
            if not ipr.link_lookup(ifname='br0'):
                ipr.link('add', ifname='br0', kind='bridge')
                ipr.link('set', index=ipr.link_lookup(ifname='br0')[0], state='up')
        finally:
            ipr.close()
        self._netns_add(self.ns('bastion'))
        self._port('bastion', self.bastion_ip)

    # ---- a machine's disk
    def ensure_root(self, image, host):
        root = self.root(host)
        if os.path.exists(os.path.join(root, 'etc', 'podnet-machine')):
            return
        os.makedirs(self.hdir(host), exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        _run(['cp', '-a', '--reflink=auto', image, root], 'copy the image for %s' % host['name'])
        etc = os.path.join(root, 'etc')
        with open(os.path.join(etc, 'hostname'), 'w') as f:
            f.write(host['name'] + '\n')
        with open(os.path.join(etc, 'hosts'), 'w') as f:
            f.write('127.0.0.1 localhost\n127.0.1.1 %s\n%s %s\n' % (host['name'], host['node_ip'], host['name']))
        os.makedirs(os.path.join(etc, 'systemd', 'network'), exist_ok=True)
        with open(os.path.join(etc, 'systemd', 'network', '10-eth0.network'), 'w') as f:
            f.write(network_file(host, self.cidr))
        # network-online.target waits for eth0's address, as `systemctl enable systemd-networkd` (its Also=) has it
        # on an installed host: units ordered after it (podnet-apply.service) find the underlay up
        online = os.path.join(etc, 'systemd', 'system', 'network-online.target.wants')
        os.makedirs(online, exist_ok=True)
        os.symlink('/lib/systemd/system/systemd-networkd-wait-online.service',
                   os.path.join(online, 'systemd-networkd-wait-online.service'))
        with open(os.path.join(etc, 'machine-id'), 'w') as f:
            f.write(uuid.uuid4().hex + '\n')  # its own, as an installed host has (empty, nspawn's would be shared)
        for old in os.listdir(os.path.join(etc, 'ssh')):
            if old.startswith('ssh_host_'):
                os.remove(os.path.join(etc, 'ssh', old))
        _run(['chroot', root, 'ssh-keygen', '-A'], 'ssh host keys for %s' % host['name'])
        _run(['chroot', root, 'useradd', '--create-home', '--shell', '/bin/bash', USER], 'user %s' % USER)
        with open(os.path.join(etc, 'sudoers.d', USER), 'w') as f:
            f.write('%s ALL=(ALL) NOPASSWD: ALL\n' % USER)
        os.chmod(os.path.join(etc, 'sudoers.d', USER), 0o440)
        ssh_dir = os.path.join(root, 'home', USER, '.ssh')
        os.makedirs(ssh_dir, mode=0o700)
        shutil.copy(self.key + '.pub', os.path.join(ssh_dir, 'authorized_keys'))
        _run(['chroot', root, 'chown', '-R', '%s:%s' % (USER, USER), '/home/%s/.ssh' % USER])
        packages = (PYROUTE2_PACKAGES if host['pyroute2'] else ()) + (NFTABLES_PACKAGES if host.get('nftables') else ())
        if packages:
            _run(['chroot', root, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends'] + list(packages),
                 'install %s into %s' % (', '.join(packages), host['name']), env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
        with open(os.path.join(etc, 'podnet-machine'), 'w') as f:
            f.write('%s of lab %s\n' % (host['name'], self.name))
        self.actions.append('make the disk of %s (%s)' % (host['name'], root))

    # ---- boot, reboot, stop
    def pid(self, host):
        """The pid of the machine's systemd-nspawn, or None when it is not running."""
        try:
            with open(os.path.join(self.hdir(host), 'pid')) as f:
                pid = int(f.read())
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                cmdline = f.read().split(b'\0')
        except (OSError, ValueError):
            return None
        if b'systemd-nspawn' not in os.path.basename(cmdline[0]) or self.root(host).encode() not in cmdline:
            return None
        return pid if alive(pid) else None

    def boot(self, host):
        self._netns_add(self.ns(host['name']))
        self._port(host['name'])
        console = open(os.path.join(self.hdir(host), 'console'), 'ab')
        env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE='network')  # /proc/sys/net writable, as on a host
        start = time.monotonic()
        with open(os.devnull, 'rb') as devnull:
            proc = subprocess.Popen(
                ['systemd-nspawn', '--quiet', '--directory', self.root(host), '--boot', '--machine', self.ns(host['name']),
                 '--network-namespace-path', os.path.join(NETNS_RUN_DIR, self.ns(host['name'])),
                 '--capability', 'CAP_NET_ADMIN', '--register', 'no', '--keep-unit', '--console', 'pipe'],
                stdin=devnull, stdout=console, stderr=subprocess.STDOUT, env=env, start_new_session=True, close_fds=True)
        console.close()
        with open(os.path.join(self.hdir(host), 'pid'), 'w') as f:
            f.write('%d\n' % proc.pid)
        self._wait_ssh(host, proc)
        self.actions.append('boot %s (ssh up after %.1f s)' % (host['name'], time.monotonic() - start))

    def _wait_ssh(self, host, proc):
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise PodnetError('machine %s stopped while booting (systemd-nspawn rc %s); see %s'
                                  % (host['name'], proc.returncode, os.path.join(self.hdir(host), 'console')))
            if _ssh_banner(self.ns('bastion'), host['node_ip']):
                return
            time.sleep(0.5)
        raise PodnetError('machine %s: no SSH on %s:22 within %d s' % (host['name'], host['node_ip'], BOOT_TIMEOUT))

    def _leader(self, host):
        """The machine's PID 1, as a pid of this machine (the child of systemd-nspawn)."""
        pid = self.pid(host)
        if pid is None:
            return None
        for entry in os.listdir('/proc'):
            if entry.isdigit():
                try:
                    with open('/proc/%s/stat' % entry) as f:
                        if int(f.read().rsplit(')', 1)[1].split()[1]) == pid:
                            return int(entry)
                except (OSError, ValueError, IndexError):
                    continue
        return None

    def reboot(self, host):
        pid, leader = self.pid(host), self._leader(host)
        if pid is None or leader is None:
            raise PodnetError('machine %s is not running: nothing to reboot' % host['name'])
        subprocess.run(['nsenter', '-t', str(leader), '-m', '-u', '-i', '-n', '-p', 'systemctl', 'reboot'],
                       capture_output=True, check=False)
        if not _wait_gone(pid, 60):
            raise PodnetError('machine %s did not stop within 60 s of systemctl reboot' % host['name'])
        # A kernel starts with a fresh network: the old namespace goes, with everything programmed into it.
        self._netns_del(self.ns(host['name']))
        self.actions.append('reboot %s (systemctl reboot; a fresh network namespace)' % host['name'])
        self.boot(host)

    def stop(self, host):
        pid = self.pid(host)
        leader = self._leader(host)
        for p in (leader, pid):
            if p:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        for p in (leader, pid):
            if p and not _wait_gone(p, 30):
                raise PodnetError('machine %s: process %d did not stop' % (host['name'], p))

    # ---- the whole thing
    def ensure_key(self):
        if not os.path.exists(self.key):
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
            _run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'podnet-lab-%s' % self.name, '-f', self.key])
            self.actions.append('make the lab key %s' % self.key)

    def apply(self, reboot=()):
        missing = [h['name'] for h in self.hosts if self.pid(h) is None]
        if self.check:
            self.actions.extend('boot %s' % n for n in missing)
            self.actions.extend('reboot %s' % n for n in reboot)
            return self.result()
        image = ensure_image(self.actions)
        self.ensure_key()
        self.ensure_network()
        for host in self.hosts:
            self.ensure_root(image, host)
            if host['name'] in missing:
                self._netns_del(self.ns(host['name']))  # a stopped machine boots into a fresh namespace
                self.boot(host)
        for host in self.hosts:
            if host['name'] in reboot:
                self.reboot(host)
        return self.result()

    def teardown(self):
        known = set(h['name'] for h in self.hosts)
        if os.path.isdir(self.dir):
            known.update(d for d in os.listdir(self.dir) if os.path.isdir(os.path.join(self.dir, d)))
        present = [n for n in sorted(known) if os.path.isdir(os.path.join(self.dir, n))
                   or os.path.exists(os.path.join(NETNS_RUN_DIR, self.ns(n)))]
        namespaces = [self.ns(o) for o in ('bastion', 'sw')] + [self.ns(n) for n in present]
        namespaces = [n for n in namespaces if os.path.exists(os.path.join(NETNS_RUN_DIR, n))]
        if self.check:
            self.actions.extend('remove machine %s' % n for n in present)
            self.actions.extend('remove network namespace %s' % n for n in namespaces)
            return self.result()
        for name in present:
            self.stop(dict(name=name))
            # systemd-nspawn's mount propagation folder of the machine, which a killed nspawn cannot remove itself
            shutil.rmtree(os.path.join(NSPAWN_PROPAGATE, self.ns(name)), ignore_errors=True)
        for ns in namespaces:
            self._netns_del(ns)
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
            self.actions.append('remove %s (disks, key pair)' % self.dir)
        return self.result()

    def result(self):
        return dict(
            changed=bool(self.actions),
            actions=self.actions,
            machines=[dict(name=h['name'], node_ip=h['node_ip'], root=self.root(h), pid=self.pid(h),
                           netns=self.ns(h['name'])) for h in self.hosts],
            key=self.key,
            bastion=self.ns('bastion'),
        )


def _wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            try:
                os.waitpid(pid, os.WNOHANG)  # our own child (a machine booted by this run)
            except ChildProcessError:
                pass
            return True
        time.sleep(0.1)
    return False


def _ssh_banner(bastion, address):
    """True when an SSH server answers on address:22, seen from the bastion's namespace."""
    with in_netns(bastion):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(2)
        sock.connect((address, 22))
        return sock.recv(64).startswith(b'SSH-')
    except OSError:
        return False
    finally:
        sock.close()


def network_file(host, cidr):
    """The machine's own systemd-networkd configuration of eth0: its IPv4 address, and its IPv6 one (usable at once:
    no duplicate address detection, as the lab's namespaces add theirs) when it has one; no router advertisements."""
    text = ('# written by the openkube.podnet lab: this machine configures its own underlay address\n'
            '[Match]\nName=eth0\n\n[Network]\nAddress=%s/%d\nLinkLocalAddressing=%s\nIPv6AcceptRA=no\n'
            % (host['node_ip'], cidr.prefixlen, 'ipv6' if host.get('node_ip6') else 'no'))
    if host.get('node_ip6'):
        text += '\n[Address]\nAddress=%s\nDuplicateAddressDetection=none\n' % host['node_ip6']
    return text


def _address_in(host, key, value, network, option):
    """hosts[host].key: an address of ``network``'s family inside it (the option ``option``), or a ValidationError."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        ip = None
    if ip is None or ip.version != network.version:
        raise v.ValidationError('hosts[%s].%s %r is not an IPv%d address' % (host, key, value, network.version))
    if ip not in network:
        raise v.ValidationError('hosts[%s].%s %s is not in %s %s' % (host, key, ip, option, network))
    return ip


def machines_from_params(params):
    """Validate the module's options; return (Machines, reboot names)."""
    name = params['name']
    if not name or len(name) > 8 or not name.replace('-', '').isalnum():
        raise v.ValidationError('name %r: 1-8 letters, digits or -' % name)
    try:
        cidr = ipaddress.ip_network(params['cidr'], strict=True)
    except ValueError as exc:
        raise v.ValidationError('cidr %r: %s' % (params['cidr'], exc))
    cidr6 = None
    if params.get('cidr6'):
        try:
            cidr6 = ipaddress.IPv6Network(params['cidr6'], strict=True)
        except ValueError as exc:
            raise v.ValidationError('cidr6 %r: %s' % (params['cidr6'], exc))
    hosts = []
    for entry in params['hosts']:
        host = entry['name']
        if not host or len(host) > 12 or not host.replace('-', '').isalnum():
            raise v.ValidationError('hosts: name %r: 1-12 letters, digits or - (it names a veth)' % host)
        ip = _address_in(host, 'node_ip', entry['node_ip'], cidr, 'cidr')
        machine = dict(name=host, node_ip=str(ip), pyroute2=bool(entry.get('pyroute2')), nftables=bool(entry.get('nftables')))
        if entry.get('node_ip6'):
            if cidr6 is None:
                raise v.ValidationError('hosts[%s].node_ip6 %s needs cidr6, the segment\'s IPv6 prefix' % (host, entry['node_ip6']))
            ip6 = _address_in(host, 'node_ip6', entry['node_ip6'], cidr6, 'cidr6')
            machine['node_ip6'] = '%s/%d' % (ip6, cidr6.prefixlen)
        hosts.append(machine)
    bastion = params.get('bastion_ip') or str(cidr.broadcast_address - 1)
    if ipaddress.ip_address(bastion) not in cidr or bastion in [h['node_ip'] for h in hosts]:
        raise v.ValidationError('bastion_ip %s must be a free address of %s' % (bastion, cidr))
    names = [h['name'] for h in hosts]
    unknown = [r for r in params.get('reboot') or [] if r not in names]
    if unknown:
        raise v.ValidationError('reboot: %s not a machine of lab %s (machines: %s)'
                                % (', '.join(unknown), name, ', '.join(names)))
    return Machines(name, hosts, cidr, bastion), list(params.get('reboot') or [])
