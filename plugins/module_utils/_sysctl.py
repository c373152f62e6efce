# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel parameters under /proc/sys, in the module's namespace or a named one.

Entries are ``{name, value}`` keyed by name. With ``netns`` the module process
itself enters the namespace (``setns``, :func:`_netlink.inside_netns`)
for each read and write, so ``/proc/sys/net`` shows that namespace's values;
nothing runs ``ip netns exec``. There is no ``state=absent``: a kernel
parameter always exists, it can only be set.

In the host's own namespace (no ``netns``) the module remembers, in a small
ledger file (``ledger``, by default under /run, which like the kernel
parameters themselves does not survive a reboot), the value each parameter
had before the module first changed it. With ``purge``, the parameters in the
ledger that are no longer wanted are set back to that value and forgotten:
that is how a mode switch or a teardown leaves no setting behind. A parameter
of a device that has gone (a tunnel device removed) is simply forgotten.

Values are compared as the kernel prints them: whitespace-separated fields,
numbers compared as numbers (``01`` equals ``1``; ``32768 60999`` equals the
tab-separated form of ``ip_local_port_range``).
"""

from __future__ import annotations

import errno
import json
import os
import re
from typing import Any, Dict, List, Optional, Tuple, Union

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError, inside_netns
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource

PROC_SYS = '/proc/sys'
_NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*$')

ARGSPEC = dict(
    COMMON_ARGSPEC,
    # state: only 'present' (a kernel parameter cannot be absent); see the module's documentation
    state=dict(type='str', default='present', choices=['present']),
    settings=dict(type='dict', required=True),
    purge=dict(type='bool', default=False),
    ledger=dict(type='path', default='/run/podnet/sysctl.json'),
    removed_devices=dict(type='list', elements='str', default=[]),
)
#: per-device parameters (net/ipv4/conf/<dev>/...): the device may be created by an earlier task
_DEVICE_PARAM = re.compile(r'^net/ipv[46]/(conf|neigh)/[^/]+/')


def path_parts(key: str, name: Any) -> List[str]:
    """The path components of sysctl ``name``: dotted (net.ipv4.ip_forward) or slashed (net/ipv4/conf/eth0.1/rp_filter)."""
    if not isinstance(name, str) or not name.strip():
        raise v.ValidationError('%s: %r is not a sysctl name' % (key, name))
    text = name.strip()
    parts = text.strip('/').split('/') if '/' in text else text.split('.')
    if any(not _NAME_RE.match(p) for p in parts) or len(parts) < 2:
        raise v.ValidationError(
            "%s: %r is not a valid sysctl name (dotted like net.ipv4.ip_forward, or with '/' between "
            "the parts when an interface name contains a dot: net/ipv4/conf/eth0.10/rp_filter)" % (key, name))
    return parts


def value_text(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise v.ValidationError('%s: %r is not a sysctl value (give a string or an integer; '
                                'quote yes/no/true/false)' % (key, value))
    text = ' '.join(str(value).split())
    if not text:
        raise v.ValidationError('%s: %r is an empty value' % (key, value))
    return text


def comparable(text: Any) -> List[Union[int, str]]:
    """Whitespace-separated fields; integers as integers."""
    fields: List[Union[int, str]] = []
    for field in str(text).split():
        try:
            fields.append(int(field, 10))
        except ValueError:
            fields.append(field)
    return fields


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    settings = params.get('settings') or {}
    if params.get('purge') and params.get('netns'):
        raise v.ValidationError('purge: true with netns %r: the ledger of changed parameters is kept for the '
                                "host's own namespace only; run without netns" % (params['netns'],))
    if not settings and not params.get('purge'):
        raise v.ValidationError('settings: %r is empty: name at least one kernel parameter' % (settings,))
    entries, seen = [], {}  # type: List[Dict[str, Any]], Dict[str, Any]
    for name in sorted(settings, key=str):
        key = 'settings[%r]' % (name,)
        parts = path_parts(key, name)
        path = '/'.join(parts)
        if path in seen:
            raise v.ValidationError('%s: %r names the same parameter as settings[%r]' % (key, name, seen[path]))
        seen[path] = name
        if params.get('netns') and parts[0] != 'net':
            raise v.ValidationError('%s: %r is not a per-namespace parameter (only net.* ones are); '
                                    'it would change the whole host, not namespace %s'
                                    % (key, name, params['netns']))
        entries.append(dict(name=name, value=value_text(key, settings[name])))
    return entries


def _restored(value: Optional[str], original: Any) -> bool:
    """Is a ledger entry done with: its parameter gone (None) or back at the original value?"""
    return value is None or comparable(value) == comparable(original)


class Sysctl(Resource):
    result_key = 'settings'
    compared = ('value',)

    def __init__(self, nl: Any, params: Dict[str, Any], wanted: List[Dict[str, Any]]) -> None:
        super(Sysctl, self).__init__(nl, params, wanted)
        self.saved: Dict[str, Any] = {}  # the ledger as read by read(): parameter path -> value before the first change

    def _path(self, name: str) -> str:
        return os.path.join(PROC_SYS, *path_parts('settings', name))

    @property
    def _ledger_path(self) -> Optional[str]:
        """The ledger file, or None inside a named namespace (only the host's own is recorded)."""
        return None if self.params.get('netns') else self.params.get('ledger')

    def _load_ledger(self) -> Dict[str, Any]:
        if not self._ledger_path:
            return {}
        try:
            with open(self._ledger_path) as handle:
                data = json.load(handle)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return {}
            raise PodnetError('ledger %s: cannot read it: %s' % (self._ledger_path, exc))
        except ValueError as exc:
            raise PodnetError('ledger %s: not JSON (%s); remove it to start afresh' % (self._ledger_path, exc))
        saved = data.get('saved') if isinstance(data, dict) else None
        if not isinstance(saved, dict):
            raise PodnetError('ledger %s: no "saved" table; remove it to start afresh' % self._ledger_path)
        return saved

    def _store_ledger(self, saved: Dict[str, Any]) -> None:
        path = self._ledger_path
        directory = os.path.dirname(path)
        try:
            if not saved:
                if os.path.exists(path):
                    os.unlink(path)
                return
            if directory and not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            tmp = '%s.%d' % (path, os.getpid())
            with open(tmp, 'w') as handle:
                json.dump(dict(version=1, saved=saved), handle, indent=1, sort_keys=True)
            os.rename(tmp, path)
        except (IOError, OSError) as exc:
            raise PodnetError('ledger %s: cannot write it: %s' % (path, exc))

    def _read_one(self, entry: Dict[str, Any], missing_ok: bool = False) -> Optional[str]:
        path = self._path(entry['name'])
        try:
            with open(path) as handle:
                return ' '.join(handle.read().split())
        except (IOError, OSError) as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
                if missing_ok:
                    return None
                raise PodnetError('settings[%r]: no such kernel parameter in %s (%s does not exist); value %r not set'
                                  % (entry['name'], self.nl.where, path, entry.get('value')))
            raise PodnetError('settings[%r]: cannot read %s: %s' % (entry['name'], path, exc))

    def read(self) -> List[Dict[str, Any]]:
        current = []
        with inside_netns(self.params.get('netns')):
            for entry in self.wanted:
                # in check mode, a device's parameter may belong to a device an earlier task creates:
                # predict the write ('add') instead of failing
                parts = path_parts('settings', entry['name'])
                device_param = _DEVICE_PARAM.match('/'.join(parts))
                value = self._read_one(entry, missing_ok=bool(self.check_mode and device_param))
                if value is None:
                    # a new device starts with the namespace's default: predict from that
                    value = self._read_one(dict(name='/'.join(parts[:3] + ['default'] + parts[4:])), missing_ok=True)
                if value is not None:
                    current.append(dict(name=entry['name'], value=value))
            self.saved = self._load_ledger()
            wanted_keys = set(self.key(entry) for entry in self.wanted)
            for path, original in sorted(self.saved.items()):
                if path in wanted_keys or self._removed(path):
                    continue
                value = self._read_one(dict(name=path), missing_ok=True)
                # gone with its device, or already back where it was: nothing to restore
                if value is not None and comparable(value) != comparable(original):
                    current.append(dict(name=path, value=value, saved=original))
        return current

    def _removed(self, path: str) -> bool:
        """Is ``path`` a parameter of a device that this run removes (removed_devices)? Forgotten, not restored."""
        parts = path.split('/')
        return bool(_DEVICE_PARAM.match(path)) and parts[3] in (self.params.get('removed_devices') or [])

    def key(self, entry: Dict[str, Any]) -> str:
        return '/'.join(path_parts('settings', entry['name']))

    def differences(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
        if comparable(current['value']) == comparable(wanted['value']):
            return {}
        return dict(value=(current['value'], wanted['value']))

    def add(self, entry: Dict[str, Any]) -> None:
        # converge reads every wanted parameter first; one that is missing has already failed
        raise PodnetError('settings[%r]: no such kernel parameter in %s' % (entry['name'], self.nl.where))

    def _write(self, name: str, value: str) -> None:
        with inside_netns(self.params.get('netns')):
            path = self._path(name)
            try:
                with open(path, 'w') as handle:
                    handle.write(value)
            except (IOError, OSError) as exc:
                raise PodnetError('settings[%r]: the kernel refused value %r: %s'
                                  % (name, value, os.strerror(exc.errno) if exc.errno else exc))
            now = self._read_one(dict(name=name, value=value))
        if comparable(now) != comparable(value):
            raise PodnetError('settings[%r]: wrote %r but the kernel keeps %r' % (name, value, now))

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        key = self.key(wanted)
        if self._ledger_path and key not in self.saved:
            # remember the value from before the collection's first change, before changing it
            self.saved[key] = current['value']
            self._store_ledger(self.saved)
        self._write(wanted['name'], wanted['value'])

    def delete(self, entry: Dict[str, Any]) -> None:
        # purge: only parameters from the ledger are ever deleted, that is, set back and forgotten
        self._write(entry['name'], entry['saved'])
        self.saved.pop(self.key(entry), None)
        self._store_ledger(self.saved)

    def tidy(self) -> None:
        # forget the parameters whose device went away (or goes now) or that are back at their value already
        if self._ledger_path:
            wanted_keys = set(self.key(entry) for entry in self.wanted)
            stale = [path for path, original in self.saved.items() if path not in wanted_keys and (
                self._removed(path) or _restored(self._read_one(dict(name=path), missing_ok=True), original))]
            if stale:
                for path in stale:
                    self.saved.pop(path)
                self._store_ledger(self.saved)

    def describe(self, entry: Dict[str, Any]) -> str:
        return '%s = %s' % (entry['name'], entry['value'])

    def action_text(self, change: Any) -> str:
        if change.op == 'add':  # only predicted: for a namespace or a device that does not exist yet
            if self.params.get('netns') and self.nl.ipr is None:
                return 'set %s (current value unknown: namespace %s does not exist)' % (
                    self.describe(change.after), self.params.get('netns'))
            return 'set %s (current value unknown: its device does not exist yet)' % self.describe(change.after)
        if change.op == 'delete':
            return 'restore %s (value before the collection changed it; now %s)' % (
                self.describe(dict(name=change.before['name'], value=change.before['saved'])),
                change.before['value'])
        return super(Sysctl, self).action_text(change)
