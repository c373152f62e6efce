# -*- coding: utf-8 -*-
"""Run a bash script inside a second Linux kernel: one with ipip, which this machine's kernel lacks.

The machine's own kernel has no ipip (see the README's "Tests" section). The tests that need it run a
script under a second, complete Debian kernel with every networking module, which sees this
machine's root file system read-write and has no network of its own. Two kernels can do that; the
first that **boots on this machine** is used:

``uml``
    Debian's ``user-mode-linux`` package (the bookworm kernel, 6.1) as an ordinary process, the root
    file system through hostfs. Boot to poweroff in about 2 s; processes start about as fast as on the
    machine's kernel. It panics before init on some CPUs (AMX: ``ptrace set fp regs failed``), as do
    trixie's 6.12 build; unstable's 7.2 build boots there but has no IPv4 netfilter at all (the firewall
    chains cannot be tested with it) and needs a newer glibc, so it is not a candidate.
``qemu``
    bookworm's stock kernel (``linux-image-amd64``, fetched with ``apt-get download`` and unpacked into a
    cache outside the checkout, never installed) under QEMU with the TCG accelerator, the root file
    system shared over 9p (:mod:`qemu`). It depends on no CPU feature; boot to poweroff in about 4 s, but
    every process starts more slowly (``python3 -c pass`` about 0.2 s, ``import pyroute2`` about 3 s).

The choice is made once per process: each candidate that is installed boots a probe (make an ipip
device, read the legacy iptables filter table) and the first that passes is used. One line says which
kernel was chosen and why (:func:`second_kernel`; the ``uml`` test fixtures print it).
``PODNET_SECOND_KERNEL=uml`` or ``=qemu`` (or a comma list, in order) limits the candidates.
When none boots, :func:`second_kernel` raises :class:`UmlError` naming every candidate and how it failed;
tests fail with it, they never skip.

API
---
``run_in_uml(script, timeout=300, mem='1G', cwd=REPO, env=None, modules=(), kernel=None) -> UmlResult``

* ``script``  -- bash source, run by plain ``bash`` (put ``set -e`` in it if you want it).
* ``timeout`` -- seconds for the whole guest (boot included), as the script needs under User-Mode
  Linux; under QEMU it is multiplied by that kernel's ``slowdown`` (2.5). When it expires the guest's
  process group is killed (SIGKILL) and :class:`UmlTimeout` is raised; its ``output`` holds what the
  script had written so far.
* ``mem``     -- guest memory, for example ``'1G'``.
* ``cwd``     -- the script's working directory (default: the repository root).
* ``env``     -- extra environment variables for the script (dict of str).
* ``modules`` -- extra kernel modules to load before the script runs.
* ``kernel``  -- ``'uml'`` or ``'qemu'`` to use that kernel whether or not it was chosen (the
  harness's own tests run both); default: the chosen one.

``UmlResult`` has ``rc`` (the script's exit status inside the guest), ``output`` (its stdout and
stderr, interleaved), ``seconds`` (wall time from start to guest exit), ``console`` (the guest's
kernel console, for debugging) and ``kernel`` (which kernel ran it). :class:`UmlError` is raised
when the guest stops without reporting an exit status (kernel panic, init failure); its message
carries the console.

``uml_available()`` tells whether some second kernel boots here (it probes); ``pytest.mark.uml``
marks tests that need one (registered in the root ``pytest.ini``).

What the guest looks like
-------------------------
* PID 1 is a generated init script (bash). It mounts proc, sysfs, and tmpfs on ``/run`` and
  ``/dev/shm``: anything the script writes there (``ip netns`` files, Ansible's temporary files
  under ``HOME=/run/home`` and ``TMPDIR=/run/tmp``) lives in guest memory and vanishes with it.
  ``/tmp`` is left as it is: a checkout under /tmp (CI clones there) must stay visible.
  Everything else is the machine's real file system, read-write: be careful.
* Modules come from the kernel's own tree (``/usr/lib/uml/modules/<version>`` or the unpacked
  package in the cache) through a module tree under ``/run/mr`` (this machine has no
  ``/lib/modules``); ipip, veth, vxlan, bridge, dummy, tun, nf_tables and a few more are loaded up
  front, and the kernel's own on-demand loading goes through a wrapper that uses the same tree.
* The guest has no network device besides ``lo`` (up): it cannot touch the machine's network,
  and the machine's root network namespace is never changed.
* The script's exit status and output go to a per-run results folder on the real disk
  (under ``$PODNET_UML_TMPDIR`` or ``/var/tmp``), written through the shared file system and read
  back after the guest has powered off; the folder is removed afterwards.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import qemu as _qemu

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINUX_UML = shutil.which('linux.uml') or '/usr/bin/linux.uml'
UML_MODULES = '/usr/lib/uml/modules'
CANDIDATES = ('uml', 'qemu')  # in order of preference
DEFAULT_MODULES = (
    'ipip', 'veth', 'vxlan', 'bridge', 'dummy', 'tun', 'macvlan',
    'nf_tables', 'nf_conntrack', 'nf_nat', 'nft_chain_nat', 'nft_compat',
    # the encapsulation filter's ip set (PODNET-INPUT: -m set --match-set podnet-peers src)
    'ip_set', 'ip_set_hash_net', 'xt_set',
)
# What the tests need of a second kernel: ipip, and legacy iptables (the firewall chains under it).
PROBE = ('ip link add podnet-probe type ipip local 10.0.0.1 && ip link del podnet-probe'
         ' && iptables-legacy-save -t filter > /dev/null && uname -r')

__all__ = ['UmlResult', 'UmlError', 'UmlTimeout', 'run_in_uml', 'uml_available', 'second_kernel', 'REPO']

_INIT = r'''#!/bin/bash
# PID 1 of a second-kernel guest (User-Mode Linux, or QEMU after its initramfs), generated by tests/uml/harness.py.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 TERM=dumb
RESULTS=%(results)s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p -m 1777 /run/tmp && mkdir -p /run/home
export HOME=/run/home TMPDIR=/run/tmp
mkdir -p "$HOME"
# No /lib/modules on this machine: a module tree in tmpfs points at the kernel's own modules.
KVER=$(uname -r)
mkdir -p /run/mr/lib/modules
ln -s %(module_root)s/"$KVER" /run/mr/lib/modules/"$KVER"
printf '#!/bin/sh\nexec /sbin/modprobe -d /run/mr "$@"\n' > /run/modprobe
chmod 755 /run/modprobe
echo /run/modprobe > /proc/sys/kernel/modprobe
for m in %(modules)s; do
  modprobe -d /run/mr "$m" || echo "uml init: cannot load module $m" >&2
done
ip link set lo up
%(env)s
cd %(cwd)s && bash "$RESULTS/script.sh" > "$RESULTS/output.tmp" 2>&1 < /dev/null
rc=$?
sync
mv "$RESULTS/output.tmp" "$RESULTS/output"
echo "$rc" > "$RESULTS/rc.tmp" && mv "$RESULTS/rc.tmp" "$RESULTS/rc"
sync
poweroff -f
'''


class UmlResult(object):
    """What a script did inside the guest: ``rc``, ``output``, ``seconds``, ``console``."""

    def __init__(self, rc, output, seconds, console='', kernel=''):
        self.rc = rc
        self.output = output
        self.seconds = seconds
        self.console = console
        self.kernel = kernel

    def __repr__(self):
        return 'UmlResult(kernel=%r, rc=%r, seconds=%.1f, output=%r)' % (
            self.kernel, self.rc, self.seconds, self.output[-500:])


class UmlError(RuntimeError):
    """The guest stopped without reporting the script's exit status, or no second kernel boots here."""

    def __init__(self, message, output='', console='', seconds=0.0, pid=None):
        super(UmlError, self).__init__(message)
        self.pid = pid
        self.output = output
        self.console = console
        self.seconds = seconds


class UmlTimeout(UmlError, TimeoutError):
    """The guest ran longer than ``timeout`` seconds and was killed."""


class _Uml(object):
    """Debian's user-mode-linux: the kernel is an ordinary process; the root file system through hostfs."""

    name = 'uml'
    slowdown = 1.0  # the callers' timeouts are written for this kernel

    def missing(self):
        if not (os.access(LINUX_UML, os.X_OK) and os.path.isdir(UML_MODULES) and os.listdir(UML_MODULES)):
            return '%s or %s not installed (apt-get install user-mode-linux)' % (LINUX_UML, UML_MODULES)
        if not (shutil.which('modprobe') or os.path.exists('/sbin/modprobe')):
            return 'modprobe not installed (apt-get install kmod)'
        return ''

    def describe(self):
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'user-mode-linux'],
                             capture_output=True, text=True, check=False).stdout
        return "Debian's user-mode-linux %s" % (out or '(version unknown)')

    def module_root(self):
        return UML_MODULES

    def command(self, init, mem):
        return [LINUX_UML, 'mem=%s' % mem, 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw',
                'init=%s' % init, 'con=null', 'con0=fd:0,fd:1', 'quiet']


class _Qemu(object):
    """bookworm's stock kernel under QEMU (TCG); the root file system over 9p (tests/uml/qemu.py)."""

    name = 'qemu'
    slowdown = 2.5  # every process starts more slowly under emulation: timeouts are stretched by this much

    def __init__(self):
        self._kit = None

    def missing(self):
        return _qemu.missing()

    def kit(self):
        if self._kit is None:
            self._kit = _qemu.ensure()
        return self._kit

    def describe(self):
        return 'QEMU (TCG) with %s' % self.kit().package

    def module_root(self):
        return self.kit().modules

    def command(self, init, mem):
        return _qemu.command(self.kit(), init, mem)


KERNELS = {k.name: k for k in (_Uml(), _Qemu())}
_choice = {}  # 'kernel' or 'error', once per process


def _candidates():
    wanted = os.environ.get('PODNET_SECOND_KERNEL', '').strip()
    names = [n.strip() for n in wanted.split(',') if n.strip()] if wanted else list(CANDIDATES)
    unknown = [n for n in names if n not in KERNELS]
    if unknown:
        raise UmlError('PODNET_SECOND_KERNEL=%s: unknown kernel %s (known: %s)'
                       % (wanted, ', '.join(unknown), ', '.join(CANDIDATES)))
    return names


def second_kernel():
    """The second kernel this machine boots: (name, one line saying which and why). Probes once per
    process; raises :class:`UmlError` naming every candidate and how it failed when none boots."""
    if 'kernel' in _choice:
        return _choice['kernel']
    if 'error' in _choice:
        raise UmlError(_choice['error'])
    failed = []
    for name in _candidates():
        kernel = KERNELS[name]
        why = kernel.missing()
        if not why:
            try:
                result = _boot(kernel, PROBE, timeout=180, mem='512M', cwd='/', env=None, modules=('ip_tables',))
                if result.rc == 0:
                    line = ('second kernel: %s (%s, %s): booted, made an ipip device and read legacy iptables in %.1f s%s'
                            % (name, kernel.describe(), result.output.strip().splitlines()[-1], result.seconds,
                               ''.join('; not %s: %s' % f for f in failed)))
                    _choice['kernel'] = (name, line)
                    print(line, file=sys.stderr)
                    return _choice['kernel']
                why = 'the probe failed (rc %d): %s' % (result.rc, ' '.join(result.output.split())[-300:])
            except (UmlError, _qemu.QemuError, OSError) as exc:
                why = ' '.join(str(exc).split())
                if isinstance(exc, UmlError) and exc.console:
                    why = 'it did not finish the probe: %s' % _console_tail(exc.console)
        failed.append((name, why[-600:]))
    _choice['error'] = 'no second kernel boots on this machine (tried %s): %s' % (
        ', '.join(f[0] for f in failed), '; '.join('%s: %s' % f for f in failed))
    raise UmlError(_choice['error'])


def _console_tail(console):
    """The lines of a kernel console that say why it stopped (panic, errors), else its last lines."""
    lines = [line.strip() for line in console.splitlines() if line.strip()]
    telling = [line for line in lines if any(w in line.lower() for w in ('panic', 'failed', 'error', 'errno'))]
    return ' | '.join((telling or lines)[-4:])


def uml_available():
    """True when a second kernel boots on this machine (see :func:`second_kernel`)."""
    try:
        second_kernel()
    except UmlError:
        return False
    return True


def processes():
    """(pid, fields) of every process alive (not a zombie), from /proc/PID/stat; ``fields`` are the
    ones after the command name: [0] state, [1] parent pid, [3] process group, [4] session."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(')') + 2:].split()
        if fields[0] != 'Z':
            yield int(entry), fields


def _session_pids(sid):
    """Processes of session ``sid`` still alive (linux.uml forks helpers into it)."""
    return [pid for pid, fields in processes() if int(fields[3]) == sid or int(fields[4]) == sid]


def _kill_session(proc):
    """SIGKILL the guest's process group (and anything left in its session); reap it."""
    for _attempt in range(50):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in _session_pids(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        if not _session_pids(proc.pid):
            return
    raise UmlError('the guest (pid %d) left processes behind: %r' % (proc.pid, _session_pids(proc.pid)))


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def run_in_uml(script, timeout=300, mem='1G', cwd=None, env=None, modules=(), kernel=None):
    """Boot the second kernel, run bash ``script`` in it, return a :class:`UmlResult`."""
    if kernel is None:
        kernel = second_kernel()[0]
    backend = KERNELS[kernel]
    why = backend.missing()
    if why:
        raise UmlError('second kernel %s: %s' % (kernel, why))
    return _boot(backend, script, timeout * backend.slowdown, mem, cwd or REPO, env, modules)


def _boot(kernel, script, timeout, mem, cwd, env, modules):
    base = os.environ.get('PODNET_UML_TMPDIR') or '/var/tmp'
    results = tempfile.mkdtemp(prefix='podnet-uml-', dir=base)
    start = time.monotonic()
    try:
        with open(os.path.join(results, 'script.sh'), 'w') as f:
            f.write(script)
            if not script.endswith('\n'):
                f.write('\n')
        env_lines = '\n'.join('export %s=%s' % (k, shlex.quote(str(v))) for k, v in sorted((env or {}).items()))
        init = os.path.join(results, 'init')
        with open(init, 'w') as f:
            f.write(_INIT % dict(
                results=shlex.quote(results),
                module_root=shlex.quote(kernel.module_root()),
                modules=' '.join(shlex.quote(m) for m in tuple(DEFAULT_MODULES) + tuple(modules)),
                env=env_lines,
                cwd=shlex.quote(cwd),
            ))
        os.chmod(init, 0o755)
        cmd = kernel.command(init, mem)
        console_path = os.path.join(results, 'console')
        with open(console_path, 'wb') as console, open(os.devnull, 'rb') as devnull:
            proc = subprocess.Popen(cmd, stdin=devnull, stdout=console, stderr=subprocess.STDOUT,
                                    cwd=results, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                # Also after a normal exit: poweroff -f can leave helper processes for a moment.
                _kill_session(proc)
        seconds = time.monotonic() - start
        console_text = _read(console_path)
        output = _read(os.path.join(results, 'output')) or _read(os.path.join(results, 'output.tmp'))
        if timed_out:
            raise UmlTimeout('%s guest killed after %ds timeout; output so far:\n%s'
                             % (kernel.name, timeout, output[-4000:]), output, console_text, seconds, proc.pid)
        rc_text = _read(os.path.join(results, 'rc')).strip()
        if not rc_text.isdigit():
            raise UmlError('%s guest stopped (rc %s) without an exit status; console:\n%s'
                           % (kernel.name, proc.returncode, console_text[-4000:]), output, console_text, seconds,
                           proc.pid)
        return UmlResult(int(rc_text), output, seconds, console_text, kernel.name)
    finally:
        shutil.rmtree(results, ignore_errors=True)


def main(argv=None):
    """``python -m uml.harness`` (from tests/): build the QEMU kit (the fallback, which the harness's own
    tests run on every machine) and print which kernel is chosen (scripts/setup.sh runs this).
    ``python -m uml.harness --run SCRIPT``: run SCRIPT in the chosen kernel, print its output, exit with
    its status (scripts/demo.sh runs the ipip demo so)."""
    import argparse
    parser = argparse.ArgumentParser(prog='python -m uml.harness', description=main.__doc__)
    parser.add_argument('--run', metavar='SCRIPT', help='bash source to run in the second kernel')
    parser.add_argument('--timeout', type=int, default=1800)
    parser.add_argument('--mem', default='2G')
    args = parser.parse_args(argv)
    try:
        if args.run is None:
            if not _qemu.missing():
                _qemu.ensure()
            second_kernel()  # prints its line
            return 0
        result = run_in_uml(args.run, timeout=args.timeout, mem=args.mem, cwd=os.getcwd())
    except (UmlError, _qemu.QemuError) as exc:
        print(exc, file=sys.stderr)  # the tests that need a second kernel fail with this; setup goes on
        return 0 if args.run is None else 1
    sys.stdout.write(result.output)
    return result.rc


if __name__ == '__main__':
    sys.exit(main())
