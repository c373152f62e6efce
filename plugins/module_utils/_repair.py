# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot and repair without Ansible: the host applies its recorded plan again by itself.

Everything the collection programs lives in the kernel and in /run, so a reboot loses it, and a
route deleted by hand stays deleted until the next run. The converge's last step (after the record,
see _record.py) installs on the host:

- a copy of the collection's converge code (these module_utils, Ansible-free) and a runner,
  ``<podnet_state_dir>/lib/podnet-apply``, run by the Python that runs the modules;
- ``podnet-apply.service`` (oneshot: the runner), after ``network-online.target`` and before
  kubelet and the container runtimes, enabled for boot;
- ``podnet-repair.timer``, which starts that service again every ``podnet_repair_interval`` seconds.

The runner (``main()``) reads the record, refuses one it cannot use (corrupt, another format: one
journal line, nothing changed), and runs ``_converge.run()`` on the recorded plan: the same code the
module runs, the same comparison, owned objects only. It prints one line per change to the journal,
one summary line, and nothing else changes when nothing drifted. It waits for a converge in progress
(both lock the record's folder) and never writes the record itself: the next Ansible run stays the
source of truth.

Where systemd is not running (the embedded lab's hosts are namespaces of one machine), the files are
written and nothing is enabled; the action says so.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import posixpath
import shutil
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from ansible_collections.openkube.podnet.plugins.module_utils._codecache import LIB, PACKAGE, code_dir
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource
from ansible_collections.openkube.podnet.plugins.module_utils import _record, _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError

#: the module_utils the runner needs: _converge and everything it imports (a unit test checks the closure)
CODE = ('_address', '_bpf_filter', '_bridge', '_cni', '_codecache', '_converge', '_device', '_encap', '_fdb', '_firewall', '_ipip', '_ipset',
        '_neighbor', '_netlink', '_netns', '_nftables', '_record', '_repair', '_resource', '_route', '_sysctl', '_validate', '_veth',
        '_vxlan')
SERVICE = 'podnet-apply.service'
TIMER = 'podnet-repair.timer'
RUNNER = 'podnet-apply'
SYSTEMD_RUNNING = '/run/systemd/system'  # sd_booted(): systemd is PID 1
ACTIVATION = 'systemd'  # the key of the entry "service and timer enabled, timer active"
#: the parts of the plan the runner applies: not the record (Ansible's) nor these units
PARTS = ('pods', 'mode', 'cleanup')

ARGSPEC = dict(
    dict((k, spec) for k, spec in COMMON_ARGSPEC.items() if k != 'netns'),
    state_dir=dict(type='path', required=True),
    unit_dir=dict(type='path', default='/etc/systemd/system'),
    record=dict(type='path'),
    interval=dict(type='int', default=60),
)

SERVICE_TEXT = '''\
# Written by openkube.podnet (its converge); removed with podnet_state=absent or podnet_repair=false.
[Unit]
Description=openkube.podnet: apply this host's recorded pod network plan
Wants=network-online.target
After=network-online.target
Before=kubelet.service containerd.service crio.service podman.service
ConditionPathExists={record}

[Service]
Type=oneshot
ExecStart={runner}
# a boot where the underlay is not ready yet: again 3 s later; a refused record (2) is not retried
Restart=on-failure
RestartSec=3s
RestartPreventExitStatus=2
# what each run costs, for `systemctl show -p CPUUsageNSec podnet-apply` and the journal's "Consumed" line
CPUAccounting=yes
# netlink, namespaces and iptables need these; everything else is taken away. No mount namespace
# of its own (ProtectSystem=, PrivateTmp=, ...): the pods' namespaces are bind mounts in /run/netns
# that the host must see.
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN
NoNewPrivileges=yes
RestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6
RestrictNamespaces=net
SystemCallArchitectures=native
SystemCallFilter=@system-service @mount setns unshare
SystemCallErrorNumber=EPERM
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
ProtectHostname=yes
ProtectClock=yes
DevicePolicy=closed
IPAddressDeny=any
KeyringMode=private
UMask=0077

[Install]
WantedBy=multi-user.target
'''

TIMER_TEXT = '''\
# Written by openkube.podnet (its converge); removed with podnet_state=absent or podnet_repair=false.
[Unit]
Description=openkube.podnet: re-apply the recorded pod network plan every {interval}s (repairs drift)

[Timer]
OnBootSec={interval}s
OnUnitInactiveSec={interval}s
AccuracySec=1s
Unit={service}

[Install]
WantedBy=timers.target
'''

RUNNER_TEXT = '''\
#!{python} -IB
# Written by openkube.podnet (its converge): apply this host's recorded plan again ({service}).
import sys
sys.path.insert(0, {lib!r})
from ansible_collections.openkube.podnet.plugins.module_utils import _repair
sys.exit(_repair.main({record!r}, sys.argv[1:]))
'''


def systemd_running() -> bool:
    return os.path.isdir(SYSTEMD_RUNNING)


def source_of(name: str) -> str:
    """The source of one of our module_utils, wherever it was imported from (a file, Ansible's zip)."""
    module = importlib.import_module('%s.%s' % (PACKAGE, name))
    loader = getattr(module, '__loader__', None)
    text = None
    try:
        text = loader.get_source(module.__name__) if loader is not None else None
    except (ImportError, OSError):
        text = None
    if isinstance(text, bytes):  # Ansible's collection loader gives bytes
        text = text.decode('utf-8')
    if text is None:
        raise PodnetError('cannot read the source of %s to install the repair units (loader %r)' % (module.__name__, loader))
    return text


def _file(path: str, content: str, mode: int, kind: str) -> Dict[str, Any]:
    return dict(path=path, kind=kind, mode=mode, sha256=hashlib.sha256(content.encode()).hexdigest(), content=content)


def _code_digest(sources: Dict[str, Optional[str]]) -> str:
    """One digest for the whole copy of the code (a missing file counts as such)."""
    digest = hashlib.sha256()
    for name in CODE:
        digest.update(('%s\0%s\0' % (name, sources.get(name) if sources.get(name) is not None else '<missing>')).encode())
    return digest.hexdigest()


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The entries: the code (one entry for its folder: compared by one digest, so that the actions and
    the diff show the units and the runner, not 100 kB of code), the runner, the units, the activation."""
    state_dir = v.state_dir('state_dir', params['state_dir'])
    unit_dir = v.state_dir('unit_dir', params['unit_dir'])
    seconds = v.repair_interval('interval', params['interval'])
    lib = posixpath.join(state_dir, LIB)
    runner = posixpath.join(lib, RUNNER)
    if params.get('state', 'present') == 'absent':
        # the keys only: what exists of them is removed, the activation first
        return ([dict(path=ACTIVATION, kind='activation')]
                + [dict(path=posixpath.join(unit_dir, unit), kind='unit') for unit in (TIMER, SERVICE)]
                + [dict(path=runner, kind='runner'), dict(path=code_dir(lib), kind='code')])
    record = params.get('record')
    if not record:
        raise ValidationError('record: the repair units need the path of the record they apply')
    v.state_dir('record', record)
    return [
        dict(path=code_dir(lib), kind='code', mode=0o700, sha256=_code_digest(dict((n, source_of(n)) for n in CODE)),
             modules=len(CODE)),
        _file(runner, RUNNER_TEXT.format(python=sys.executable, lib=lib, record=record, service=SERVICE), 0o700, 'runner'),
        _file(posixpath.join(unit_dir, SERVICE), SERVICE_TEXT.format(record=record, runner=runner), 0o644, 'unit'),
        _file(posixpath.join(unit_dir, TIMER), TIMER_TEXT.format(interval=seconds, service=SERVICE), 0o644, 'unit'),
        dict(path=ACTIVATION, kind='activation', enabled=True),
    ]


def _systemctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(['systemctl'] + list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise PodnetError('systemctl %s failed (rc %d): %s'
                          % (' '.join(args), proc.returncode, (proc.stderr or proc.stdout).strip()))
    return proc


def _read(path: str) -> Optional[str]:
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PodnetError('cannot read %s: %s' % (path, exc.strerror or exc))


def _mode(path: str) -> int:
    return os.stat(path).st_mode & 0o7777


class Units(Resource):
    """The runner, its code and the two units as files; and, where systemd runs, their activation."""

    result_key = 'repair'
    compared = ('sha256', 'mode', 'enabled')

    def read(self) -> List[Dict[str, Any]]:
        entries = []
        for entry in self.wanted:
            if entry['kind'] == 'activation':
                # present when anything of it is (enabled or active): all of it, or a partial one to complete
                state = self._activation() if systemd_running() else None
                if state is not None:
                    entries.append(dict(path=ACTIVATION, kind='activation', enabled=state))
                continue
            if entry['kind'] == 'code':
                if os.path.isdir(entry['path']):
                    entries.append(dict(path=entry['path'], kind='code', mode=_mode(entry['path']), modules=len(CODE),
                                        sha256=_code_digest(dict((n, _read(posixpath.join(entry['path'], n + '.py')))
                                                                 for n in CODE))))
                continue
            data = _read(entry['path'])
            if data is not None:
                entries.append(dict(path=entry['path'], kind=entry['kind'], mode=_mode(entry['path']),
                                    sha256=hashlib.sha256(data.encode()).hexdigest(), content=data))
        return entries

    def compare(self, current, wanted, state, purge):
        # the activation is wanted only where systemd can act on it
        if not systemd_running():
            wanted = [e for e in wanted if e['kind'] != 'activation']
        return super().compare(current, wanted, state, purge)

    @staticmethod
    def _activation() -> Optional[bool]:
        """True: both units enabled and the timer active; False: some of it; None: none of it."""
        enabled = _systemctl('is-enabled', SERVICE, TIMER, check=False).stdout.split()
        active = _systemctl('is-active', TIMER, check=False).stdout.strip()
        states = [e == 'enabled' for e in enabled] + [active == 'active']
        return True if len(states) == 3 and all(states) else False if any(states) else None

    def key(self, entry):
        return entry['path']

    def add(self, entry):
        if entry['kind'] == 'activation':
            _systemctl('daemon-reload')
            _systemctl('enable', SERVICE)
            _systemctl('enable', '--now', TIMER)
            return
        if entry['kind'] == 'code':
            _record.makedirs(entry['path'], 0o700)
            for name in CODE:
                _record.write_atomically(posixpath.join(entry['path'], name + '.py'), source_of(name), 0o600)
            return
        _record.makedirs(os.path.dirname(entry['path']), 0o755 if entry['kind'] == 'unit' else 0o700)
        _record.write_atomically(entry['path'], entry['content'], entry['mode'])

    def update(self, current, wanted, fields):
        self.add(wanted)

    def delete(self, entry):
        if entry['kind'] == 'activation':
            _systemctl('disable', '--now', TIMER, check=False)
            _systemctl('disable', SERVICE, check=False)
            return
        if entry['kind'] == 'code':
            # the whole copy: <lib>/ansible_collections is ours alone
            _record.remove(posixpath.join(entry['path'].split('/ansible_collections/')[0], 'ansible_collections'), shutil.rmtree)
        else:
            _record.remove(entry['path'])

    def apply(self, changes):
        # the activation after the files it enables, and before the files when they go
        activation = [c for c in changes if (c.after or c.before)['kind'] == 'activation']
        files = [c for c in changes if c not in activation]
        first_activation = self.params.get('state') == 'absent'
        super().apply(activation + files if first_activation else files + activation)
        units = [c for c in changes if (c.after or c.before or {}).get('kind') == 'unit']
        if units and systemd_running() and not [c for c in activation if c.op != 'delete']:  # which reloaded
            _systemctl('daemon-reload')
            if [c for c in units if c.op == 'update']:
                _systemctl('try-restart', TIMER, check=False)
        if self.params.get('state') == 'absent':
            _record.remove(posixpath.join(self.params['state_dir'], LIB), os.rmdir)

    def differences(self, current, wanted):
        if wanted['kind'] == 'activation':
            return {} if current.get('enabled') == wanted.get('enabled') else dict(enabled=(current.get('enabled'), True))
        return dict((f, (current.get(f), wanted[f])) for f in ('sha256', 'mode') if current.get(f) != wanted.get(f))

    def describe(self, entry):
        if entry['kind'] == 'activation':
            return '%s and %s enabled, timer started' % (SERVICE, TIMER)
        if entry['kind'] == 'code':
            return 'code %s (%d modules)' % (entry['path'], len(CODE))
        return '%s %s' % (entry['kind'], entry['path'])

    def action_text(self, change):
        if (change.after or change.before)['kind'] == 'activation':
            if change.op == 'delete':
                return 'stop and disable %s, disable %s' % (TIMER, SERVICE)
            return 'enable %s (boot), enable and start %s%s' % (SERVICE, TIMER, ' (was partly enabled)' if change.op == 'update' else '')
        text = super().action_text(change)
        if change.op != 'delete' and change.after.get('kind') == 'unit' and not systemd_running():
            text += ' (systemd is not running here: written, not enabled)'
        return text

    def merged(self, current, wanted):
        return dict(wanted)


# ---------------------------------------------------------------- the runner (on the host, without Ansible)
def main(record: str, argv: List[str], out=None) -> int:
    """Apply the recorded plan. 0: done (changed or not); 1: the apply failed; 2: the record was refused."""
    from ansible_collections.openkube.podnet.plugins.module_utils import _converge

    out = out or sys.stdout
    check = '--check' in argv
    start = time.monotonic()

    def say(text):
        out.write(text + '\n')
        out.flush()

    fd = None
    try:
        fd = _record.lock(os.path.dirname(record))
        document, problem = _record.read_record(record)
        if document is None:
            say('refused: %s; nothing changed' % problem)
            return 2
        plan = document['plan']
        if plan.get('state') != 'present' or not isinstance(plan.get('pods'), list):
            say('refused: %s is not the plan of a present host (state %r); nothing changed' % (record, plan.get('state')))
            return 2
        result = _converge.run(plan, parts=PARTS, check_mode=check, lock=False)  # held here already
    except (PodnetError, ValidationError, KeyError, TypeError, ValueError) as exc:
        what = exc if not isinstance(exc, (KeyError, TypeError)) else 'the record is not a plan this code can apply (%r)' % (exc,)
        say('failed: %s' % what)
        return 1
    finally:
        _record.unlock(fd)
    for action in result['actions']:
        say(('would ' if check else '') + action)
    peers, pods = len(plan.get('peers') or []), len(plan.get('pods') or [])
    changes = len(result['actions'])
    say('%s: %s (mode %s, %d peer%s, %d pod%s) in %.2f s' % (
        record, '%d change%s' % (changes, '' if changes == 1 else 's') if result['changed'] else 'nothing drifted',
        plan.get('mode'), peers, '' if peers == 1 else 's', pods, '' if pods == 1 else 's', time.monotonic() - start))
    return 0
