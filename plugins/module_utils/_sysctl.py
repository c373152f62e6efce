# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel parameters under /proc/sys, in the module's namespace or a named one.

Entries are ``{name, value}`` keyed by name. With ``netns`` the module process
itself enters the namespace (``setns``, through pyroute2's ``pushns``/``popns``)
for each read and write, so ``/proc/sys/net`` shows that namespace's values;
nothing runs ``ip netns exec``. There is no purge and no ``state=absent``:
a kernel parameter always exists, it can only be set.

Values are compared as the kernel prints them: whitespace-separated fields,
numbers compared as numbers (``01`` equals ``1``; ``32768 60999`` equals the
tab-separated form of ``ip_local_port_range``).
"""

from __future__ import annotations

import errno
import os
import re

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource

try:
    from pyroute2 import netns as pyroute2_netns
except ImportError:  # pragma: no cover - reported by run_module through missing_required_lib
    pyroute2_netns = None

PROC_SYS = '/proc/sys'
_NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*$')

ARGSPEC = dict(
    COMMON_ARGSPEC,
    # state: only 'present' (a kernel parameter cannot be absent); see the module's documentation
    state=dict(type='str', default='present', choices=['present']),
    settings=dict(type='dict', required=True),
)


def path_parts(key, name):
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


def value_text(key, value):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise v.ValidationError('%s: %r is not a sysctl value (give a string or an integer; '
                                'quote yes/no/true/false)' % (key, value))
    text = ' '.join(str(value).split())
    if not text:
        raise v.ValidationError('%s: %r is an empty value' % (key, value))
    return text


def comparable(text):
    """Whitespace-separated fields; integers as integers."""
    fields = []
    for field in str(text).split():
        try:
            fields.append(int(field, 10))
        except ValueError:
            fields.append(field)
    return fields


def wanted_from_params(params):
    settings = params.get('settings') or {}
    if not settings:
        raise v.ValidationError('settings: %r is empty: name at least one kernel parameter' % (settings,))
    entries, seen = [], {}
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


class _InNamespace(object):
    """Run the block with this process in network namespace ``name`` (None: stay)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        if self.name:
            pyroute2_netns.pushns()
            try:
                # flags=0: never create the namespace (the default would)
                pyroute2_netns.setns(self.name, flags=0)
            except OSError as exc:
                pyroute2_netns.dropns()
                raise PodnetError('cannot enter network namespace %r: %s' % (self.name, exc))
        return self

    def __exit__(self, *exc):
        if self.name:
            pyroute2_netns.popns()
        return False


class Sysctl(Resource):
    result_key = 'settings'
    compared = ('value',)

    def _path(self, name):
        return os.path.join(PROC_SYS, *path_parts('settings', name))

    def _read_one(self, entry):
        path = self._path(entry['name'])
        try:
            with open(path) as handle:
                return ' '.join(handle.read().split())
        except (IOError, OSError) as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
                raise PodnetError('settings[%r]: no such kernel parameter in %s (%s does not exist); value %r not set'
                                  % (entry['name'], self.nl.where, path, entry['value']))
            raise PodnetError('settings[%r]: cannot read %s: %s' % (entry['name'], path, exc))

    def read(self):
        with _InNamespace(self.params.get('netns')):
            return [dict(name=entry['name'], value=self._read_one(entry)) for entry in self.wanted]

    def key(self, entry):
        return '/'.join(path_parts('settings', entry['name']))

    def differences(self, current, wanted):
        if comparable(current['value']) == comparable(wanted['value']):
            return {}
        return dict(value=(current['value'], wanted['value']))

    def add(self, entry):
        # converge reads every wanted parameter first; one that is missing has already failed
        raise PodnetError('settings[%r]: no such kernel parameter in %s' % (entry['name'], self.nl.where))

    def update(self, current, wanted, fields):
        with _InNamespace(self.params.get('netns')):
            path = self._path(wanted['name'])
            try:
                with open(path, 'w') as handle:
                    handle.write(wanted['value'])
            except (IOError, OSError) as exc:
                raise PodnetError('settings[%r]: the kernel refused value %r: %s'
                                  % (wanted['name'], wanted['value'], os.strerror(exc.errno) if exc.errno else exc))
            now = self._read_one(wanted)
        if comparable(now) != comparable(wanted['value']):
            raise PodnetError('settings[%r]: wrote %r but the kernel keeps %r' % (wanted['name'], wanted['value'], now))

    def delete(self, entry):
        raise PodnetError('settings[%r]: kernel parameters cannot be removed' % entry['name'])

    def describe(self, entry):
        return '%s = %s' % (entry['name'], entry['value'])

    def action_text(self, change):
        if change.op == 'add':  # only predicted, for a namespace that does not exist yet
            return 'set %s (current value unknown: namespace %s does not exist)' % (
                self.describe(change.after), self.params.get('netns'))
        return super(Sysctl, self).action_text(change)
