# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening netlink in a namespace, and turning netlink errors into messages.

``Netlink`` wraps one pyroute2 ``IPRoute`` socket. It never creates a
namespace: ``IPRoute(netns=NAME)`` would, so it is opened with ``flags=0``,
and a missing namespace is reported as ``ns_missing`` (check mode predicts
from an empty kernel; apply mode fails with a clear message).
"""

from __future__ import annotations

import errno
import importlib.util
import os
import sys
import traceback


def _register_bare_package(name):
    """Put package ``name`` in sys.modules without running its ``__init__``, so that importing one
    of its submodules loads that submodule and what it needs, nothing else.

    pyroute2's ``__init__`` imports every netlink family it supports (conntrack, ipset, ipvs,
    devlink, nl80211, NDB, IPDB...): about 0.28 s of CPU in every module run, where the modules
    need rtnetlink and the netns helpers only (about 0.18 s). Nothing happens when the package is
    already imported or is not installed (the import below then fails as usual)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.submodule_search_locations is not None:
        sys.modules[name] = importlib.util.module_from_spec(spec)


try:
    _register_bare_package('pyroute2')
    from pyroute2.iproute.linux import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        from pyroute2 import config as _pyroute2_config
        # IPRoute(netns=...) talks to a forked helper and gives up after 2 s by default; on a
        # loaded host (or under User-Mode Linux) the helper can take longer to start.
        _pyroute2_config.default_communicate_timeout = max(30, getattr(_pyroute2_config, 'default_communicate_timeout', 0))
    except ImportError:  # pragma: no cover - older pyroute2 without the setting
        pass
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    IPRoute = None
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):  # type: ignore[no-redef]
        code = 0

NETNS_RUN_DIR = '/run/netns'


class PodnetError(Exception):
    """An error the module reports with fail_json (message already user-facing)."""


def netns_exists(name):
    return os.path.exists(os.path.join(NETNS_RUN_DIR, name))


def describe_netlink_error(exc, action):
    code = getattr(exc, 'code', 0)
    text = os.strerror(code) if code else str(exc)
    return '%s failed: %s (errno %s)' % (action, text, code)


class Netlink(object):
    """One IPRoute socket, in the root namespace of the target or in a named one."""

    def __init__(self, netns=None):
        self.netns = netns
        self.ns_missing = False
        self.ipr = None
        self._index_cache = {}
        if netns and not netns_exists(netns):
            self.ns_missing = True
            return
        try:
            self.ipr = IPRoute(netns=netns, flags=0) if netns else IPRoute()
        except FileNotFoundError:
            self.ns_missing = True

    @property
    def where(self):
        return 'namespace %s' % self.netns if self.netns else 'the root namespace'

    def close(self):
        if self.ipr is not None:
            self.ipr.close()
            self.ipr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def require(self):
        """Fail unless the namespace exists (needed before any write)."""
        if self.ns_missing:
            raise PodnetError('network namespace %r does not exist on this host' % self.netns)

    def call(self, action, method, *args, **kwargs):
        """Run one netlink request; turn NetlinkError into PodnetError naming the action."""
        try:
            return getattr(self.ipr, method)(*args, **kwargs)
        except NetlinkError as exc:
            raise PodnetError(describe_netlink_error(exc, action))

    def ifindex(self, name):
        """The index of link ``name``, or None (also when the namespace is missing)."""
        if self.ipr is None:
            return None
        if name not in self._index_cache:
            found = self.ipr.link_lookup(ifname=name)
            self._index_cache[name] = found[0] if found else None
        return self._index_cache[name]

    def ifname(self, index):
        for name, idx in self._index_cache.items():
            if idx == index:
                return name
        links = self.ipr.link('get', index=index)
        name = links[0].get_attr('IFLA_IFNAME')
        self._index_cache[name] = index
        return name

    def forget_links(self):
        self._index_cache = {}

    def get_link(self, name):
        """The link message for ``name``, or None."""
        index = self.ifindex(name)
        if index is None:
            return None
        try:
            return self.ipr.link('get', index=index)[0]
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise


def ignore_errno(exc, *codes):
    return isinstance(exc, NetlinkError) and exc.code in codes
