# -*- coding: utf-8 -*-
"""The second kernel's fallback: Debian's stock kernel under QEMU with the TCG accelerator.

User-Mode Linux does not start on every CPU (bookworm's 6.1 and trixie's 6.12 panic before init
on machines with AMX: ``ptrace set fp regs failed, errno = 14``). QEMU's software emulation
depends on no CPU feature and boots the kernel every bookworm host runs, with every module
(ipip, wireguard, gre, nf_tables and legacy iptables). What it needs:

* ``qemu-system-x86_64`` and a static ``busybox`` (Debian ``qemu-system-x86``, ``busybox-static``;
  ``scripts/setup.sh`` installs both);
* the kernel package ``linux-image-<abi>-amd64`` that ``linux-image-amd64`` points at, fetched with
  ``apt-get download`` and unpacked with ``dpkg-deb -x`` (never installed) into a cache outside
  the checkout (``$PODNET_KERNEL_CACHE``, default ``/var/cache/podnet/second-kernel``), then
  ``depmod -b``; the uncompressed ``vmlinux`` is cut out of the ``vmlinuz`` (QEMU boots it through
  its PVH entry, about 3 s faster than the bzImage);
* a small initramfs (busybox, the virtio and 9p modules, an init that mounts this machine's root
  file system shared read-write over 9p and makes it the root: switch_root).

:func:`ensure` builds that kit once (under a lock, so parallel test workers share it) and returns
it; :func:`command` is the QEMU command line for one guest. The guest has no network device
besides ``lo``.
"""

from __future__ import annotations

import fcntl
import gzip
import io
import json
import lzma
import os
import shutil
import stat
import subprocess
import tempfile

QEMU = shutil.which('qemu-system-x86_64') or '/usr/bin/qemu-system-x86_64'
BUSYBOX = '/bin/busybox'
CACHE = os.environ.get('PODNET_KERNEL_CACHE') or '/var/cache/podnet/second-kernel'
META_PACKAGE = 'linux-image-amd64'
# Modules the initramfs loads (with what they depend on, from modules.dep) to mount the host's root over 9p.
INITRD_MODULES = ('virtio_pci', '9pnet_virtio', '9p')
KIT_VERSION = 3  # bump when the kit's layout changes: older kits are rebuilt

_INITRD_INIT = r'''#!/bin/busybox sh
# PID 1 of the initramfs (tests/uml/qemu.py): mount this machine's root over 9p, run the harness's init in it.
B=/bin/busybox
$B mount -t proc proc /proc
for m in $($B cat /modules/order); do $B insmod /modules/$m.ko || echo "initramfs: insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /newroot || {
  echo "initramfs: cannot mount the host root over 9p"; $B poweroff -f; }
$B mount -t devtmpfs devtmpfs /newroot/dev
$B umount /proc
# switch_root, not chroot: the 9p mount must become the mount namespace's root, or a process that
# enters a mount namespace made later (nsenter --mount, the lab's hosts) lands in this initramfs.
exec $B switch_root /newroot "$podnetinit"
'''


class QemuError(RuntimeError):
    """The QEMU kit could not be built (a package missing, the download failed)."""


def missing():
    """What is not installed for the QEMU path (an empty string when nothing is)."""
    gone = [path for path in (QEMU, BUSYBOX) if not os.access(path, os.X_OK)]
    if not shutil.which('depmod') and not os.path.exists('/sbin/depmod'):
        gone.append('depmod')
    if gone:
        return '%s not installed (apt-get install qemu-system-x86 busybox-static kmod)' % ', '.join(gone)
    return ''


def _run(*cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode:
        raise QemuError('%s failed (rc %d): %s' % (' '.join(cmd), proc.returncode, (proc.stderr or proc.stdout)[-1500:]))
    return proc.stdout


def _kernel_package():
    """The versioned package linux-image-amd64 depends on, for example linux-image-6.1.0-57-amd64."""
    for attempt in (1, 2):
        out = subprocess.run(['apt-cache', 'depends', META_PACKAGE], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            name = line.strip().partition('Depends: ')[2]
            if name.startswith('linux-image-'):
                return name
        if attempt == 1:  # a fresh machine may have no package lists yet
            _run('apt-get', 'update', '-qq')
    raise QemuError('apt-cache depends %s names no linux-image package' % META_PACKAGE)


def _extract_vmlinux(vmlinuz, vmlinux):
    """Cut the xz-compressed ELF kernel out of a bzImage (what scripts/extract-vmlinux does)."""
    with open(vmlinuz, 'rb') as f:
        data = f.read()
    start = data.find(b'\xfd7zXZ\x00')
    while start >= 0:
        try:
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
        except lzma.LZMAError:
            elf = b''
        if elf.startswith(b'\x7fELF'):
            with open(vmlinux, 'wb') as f:
                f.write(elf)
            return
        start = data.find(b'\xfd7zXZ\x00', start + 1)
    raise QemuError('no xz-compressed ELF kernel found in %s' % vmlinuz)


def _cpio_newc(entries):
    """A newc cpio archive of (name, mode, data, rdev) entries, gzip-compressed."""
    out = io.BytesIO()

    def add(ino, name, mode, data, rdev=(0, 0)):
        name_b = name.encode() + b'\0'
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0)
        out.write(b'070701' + b''.join(b'%08X' % v for v in fields) + name_b)
        out.write(b'\0' * (-(110 + len(name_b)) % 4))
        out.write(data)
        out.write(b'\0' * (-len(data) % 4))

    for ino, (name, mode, data, rdev) in enumerate(entries, start=1):
        add(ino, name, mode, data, rdev)
    add(0, 'TRAILER!!!', 0, b'')
    return gzip.compress(out.getvalue(), compresslevel=6)


def _load_order(root, version, wanted):
    """Relative paths of ``wanted`` modules and everything they depend on, dependencies first (modules.dep)."""
    deps = {}
    with open(os.path.join(root, 'lib', 'modules', version, 'modules.dep')) as f:
        for line in f:
            rel, rest = line.split(':', 1)
            deps[rel] = rest.split()
    by_name = {os.path.basename(rel).split('.ko')[0]: rel for rel in deps}
    order = []

    def visit(rel):
        if rel not in order:
            for dep in deps.get(rel, ()):
                visit(dep)
            order.append(rel)

    for name in wanted:
        if name in by_name:  # else built in on this kernel
            visit(by_name[name])
    return order


def _build_initrd(root, version, path):
    tree = os.path.join(root, 'lib', 'modules', version)
    entries = [(d, stat.S_IFDIR | 0o755, b'', (0, 0)) for d in ('bin', 'dev', 'proc', 'newroot', 'modules')]
    entries.append(('dev/console', stat.S_IFCHR | 0o600, b'', (5, 1)))
    with open(BUSYBOX, 'rb') as f:
        entries.append(('bin/busybox', stat.S_IFREG | 0o755, f.read(), (0, 0)))
    entries.append(('init', stat.S_IFREG | 0o755, _INITRD_INIT.encode(), (0, 0)))
    order = []
    for rel in _load_order(root, version, INITRD_MODULES):
        name = os.path.basename(rel).split('.ko')[0]
        with open(os.path.join(tree, rel), 'rb') as f:
            entries.append(('modules/%s.ko' % name, stat.S_IFREG | 0o644, f.read(), (0, 0)))
        order.append(name)
    entries.append(('modules/order', stat.S_IFREG | 0o644, ('\n'.join(order) + '\n').encode(), (0, 0)))
    with open(path, 'wb') as f:
        f.write(_cpio_newc(entries))


class Kit(object):
    """A ready QEMU kit: ``vmlinux``, ``initrd``, ``modules`` (a tree holding lib/modules/<version>),
    ``version`` (the kernel release) and ``package`` (the Debian package and its version)."""

    def __init__(self, home, meta):
        self.home = home
        self.vmlinux = os.path.join(home, 'vmlinux')
        self.initrd = os.path.join(home, 'initrd.cpio.gz')
        self.modules = os.path.join(home, 'root', 'lib', 'modules')
        self.version = meta['version']
        self.package = meta['package']


def ensure():
    """The QEMU kit for the kernel linux-image-amd64 points at, built into the cache if it is not there."""
    gone = missing()
    if gone:
        raise QemuError(gone)
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = sorted(d for d in os.listdir(CACHE) if os.path.exists(os.path.join(CACHE, d, 'kit.json')))
        package = None
        try:
            package = _kernel_package()
        except QemuError:
            if not ready:
                raise
        for name in ([package] if package else []) + ready[::-1]:
            meta_path = os.path.join(CACHE, name, 'kit.json')
            if os.path.exists(meta_path):
                with open(meta_path) as f:
                    meta = json.load(f)
                if meta.get('kit') == KIT_VERSION:
                    return Kit(os.path.join(CACHE, name), meta)
        return _build(package)


def _build(package):
    home = os.path.join(CACHE, package)
    shutil.rmtree(home, ignore_errors=True)
    work = tempfile.mkdtemp(prefix='.build-', dir=CACHE)
    try:
        _run('apt-get', 'download', package, cwd=work)
        deb = [f for f in os.listdir(work) if f.endswith('.deb')][0]
        _run('dpkg-deb', '-x', os.path.join(work, deb), os.path.join(work, 'root'))
        version = os.listdir(os.path.join(work, 'root', 'lib', 'modules'))[0]
        _run('depmod', '-b', os.path.join(work, 'root'), version)
        _extract_vmlinux(os.path.join(work, 'root', 'boot', 'vmlinuz-' + version), os.path.join(work, 'vmlinux'))
        _build_initrd(os.path.join(work, 'root'), version, os.path.join(work, 'initrd.cpio.gz'))
        os.remove(os.path.join(work, deb))
        meta = dict(kit=KIT_VERSION, version=version, package=deb[:-len('_amd64.deb')].replace('_', ' '))
        with open(os.path.join(work, 'kit.json'), 'w') as f:
            json.dump(meta, f)
        os.rename(work, home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for other in os.listdir(CACHE):  # one kernel at a time: older ones go
        if other not in (package, '.lock') and not other.startswith('.build-'):
            shutil.rmtree(os.path.join(CACHE, other), ignore_errors=True)
    with open(os.path.join(home, 'kit.json')) as f:
        return Kit(home, json.load(f))


def command(kit, init, mem):
    """The QEMU command line that boots ``kit`` with ``init`` (a path on this machine) as PID 1."""
    return [
        QEMU, '-accel', 'tcg,thread=multi', '-machine', 'pc', '-cpu', 'max', '-smp', '2', '-m', mem,
        '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-serial', 'stdio', '-monitor', 'none',
        '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=passthrough,id=hostroot,multidevs=remap',
        '-kernel', kit.vmlinux, '-initrd', kit.initrd,
        '-append', 'console=ttyS0 quiet panic=-1 mitigations=off podnetinit=%s' % init,
    ]
