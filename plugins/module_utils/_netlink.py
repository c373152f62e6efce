# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening netlink in a namespace, and turning netlink errors into messages.

This is the one place that knows how pyroute2 versions differ. The modules work with
pyroute2 0.7.2 and later (what Debian 12, Debian 13, Ubuntu 24.04 and Fedora ship) and with
0.9.x (PyPI): the netlink messages are the same, the Python surface is not.

* ``IPRoute(netns=NAME)`` exists on 0.9 only (0.7 has ``NetNS``, which forks a helper process).
  Both are avoided: :func:`in_netns` moves the calling thread into the namespace with
  ``setns(2)`` for as long as ``IPRoute()`` takes to open its socket, then back. A netlink
  socket belongs to the namespace it was opened in, so the socket keeps working there; no
  process is forked and nothing is created (a missing namespace is ``ns_missing``: check mode
  predicts from an empty kernel, apply mode fails with a clear message).
* Read attributes with ``msg.get_attr(NAME)``: ``msg.get(NAME)`` is None on 0.7.2.
* Dumps of routes and neighbours name their family: ``route('dump')`` returns IPv4 only on 0.7.2.
* Non-dump calls return a tuple on 0.7 and a list on 0.9: index them, never concatenate.

Older than :data:`MIN_PYROUTE2`: the module fails before any change, naming the version found
and what to install (:func:`pyroute2_problem`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib.util
import os
import subprocess
import sys
import traceback
from typing import Any, ContextManager, Dict, Iterable, Iterator, List, Optional, Tuple


def _register_bare_package(name: str) -> None:
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
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    IPRoute = None
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):  # type: ignore[no-redef]
        code = 0

NETNS_RUN_DIR = '/run/netns'
CLONE_NEWNET = 0x40000000
MIN_PYROUTE2 = (0, 7, 2)
_LIBC: List[Any] = []


def _version_tuple(text: Any) -> Optional[Tuple[int, ...]]:
    parts = []
    for field in str(text or '').split('.')[:3]:
        digits = field[:len(field) - len(field.lstrip('0123456789'))]  # '12rc1' -> '12'
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def version_beside(locations: Iterable[str]) -> Optional[Tuple[int, ...]]:
    """The version in the name of a ``pyroute2-X.Y.Z.dist-info`` (or ``.egg-info``) folder beside one
    of the package's ``locations`` (its ``__path__``), or None."""
    for location in locations:
        parent = os.path.dirname(os.path.abspath(location))
        try:
            entries = sorted(os.listdir(parent))
        except OSError:
            continue
        for entry in entries:
            for suffix in ('.dist-info', '.egg-info'):
                if entry.lower().startswith('pyroute2-') and entry.endswith(suffix):
                    found = _version_tuple(entry[len('pyroute2-'):-len(suffix)].split('-')[0])
                    if found:
                        return found
    return None


def pyroute2_version() -> Optional[Tuple[int, ...]]:
    """The installed pyroute2's version as a tuple of ints, or None when it does not say.

    Read from the install's metadata folder beside the package (``pyroute2-X.Y.Z.dist-info`` or
    ``.egg-info``: one directory listing), because Debian's build of 0.7.2 says 'unknown' in
    ``pyroute2.__version__`` and a version too old to import has to be named too. Only when that
    folder is not there, ``importlib.metadata`` (about 20 ms to import, in every module run) and
    then ``__version__``."""
    mod = sys.modules.get('pyroute2')
    locations = list(getattr(mod, '__path__', None) or [])
    if not locations:
        spec = importlib.util.find_spec('pyroute2')
        locations = list(spec.submodule_search_locations or []) if spec else []
    found = version_beside(locations)
    if found:
        return found
    text = None
    try:
        from importlib import metadata
        text = metadata.version('pyroute2')
    except Exception:  # not found, or a metadata-less build
        pass
    if not text or not text[0].isdigit():
        mod = sys.modules.get('pyroute2.config') or sys.modules.get('pyroute2')
        text = getattr(mod, '__version__', None) or text
    return _version_tuple(text)


def pyroute2_problem() -> str:
    """A sentence saying why this host's pyroute2 cannot be used, or '' when it can (or is not
    installed at all: missing_required_lib says that). Read from the package's metadata, so that a
    version too old to import is named too."""
    found = pyroute2_version()
    if found is not None and found < MIN_PYROUTE2:
        versions = ('.'.join(map(str, found)), '.'.join(map(str, MIN_PYROUTE2)), os.uname()[1], sys.executable)
        return ('pyroute2 %s is too old for openkube.podnet (needs %s or later) on %s (Python %s): install the '
                "distribution's python3-pyroute2 where it is recent enough (Debian 12, Ubuntu 24.04, Fedora), or "
                'pyroute2 from PyPI into a virtual environment and make its python '
                'the ansible_python_interpreter' % versions)
    return ''


def _setns(fd: int, what: str) -> None:
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    if _LIBC[0].setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, 'setns(%s): %s' % (what, os.strerror(err)))


def _netns_path(name: str) -> str:
    return name if name.startswith('/') else os.path.join(NETNS_RUN_DIR, name)


def enter_netns(name: str) -> None:
    """Move this thread into network namespace ``name`` (a name in /run/netns, or a path) for good."""
    path = _netns_path(name)
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns(fd, path)
    finally:
        os.close(fd)


@contextlib.contextmanager
def in_netns(name: Optional[str], failure: Optional[str] = None) -> Iterator[None]:
    """Run the block with this thread in network namespace ``name`` (None: stay where it is), then
    come back. The namespace is never created: a missing one raises ``FileNotFoundError``, or with
    ``failure`` (a format with ``name`` and ``error``) a :class:`PodnetError` saying so."""
    if not name:
        yield
        return
    own = os.open('/proc/self/ns/net', os.O_RDONLY)
    try:
        try:
            enter_netns(name)
        except OSError as exc:
            if failure is None:
                raise
            raise PodnetError(failure % dict(name=name, error=exc))
        try:
            yield
        finally:
            _setns(own, 'the original namespace')
    finally:
        os.close(own)


def inside_netns(name: Optional[str]) -> ContextManager[None]:
    """:func:`in_netns` for a module's reads and writes under /proc/sys and netfilter."""
    return in_netns(name, failure='cannot enter network namespace %(name)r: %(error)s')


#: where a program a module runs (iptables-restore, nft) is looked for after PATH, which sudo and cron may leave
#: the sbin folders out of
PROGRAM_PATH = ('/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin')


def find_program(name: str) -> Optional[str]:
    """The path of program ``name`` (a path is kept as it is when executable), or None."""
    if os.path.isabs(name):
        return name if os.access(name, os.X_OK) else None
    for directory in os.environ.get('PATH', '').split(os.pathsep) + list(PROGRAM_PATH):
        path = os.path.join(directory, name)
        if directory and os.access(path, os.X_OK):
            return path
    return None


def run_program(cmd: List[str], netns: Optional[str] = None, input_text: Optional[str] = None) -> str:
    """Run ``cmd`` inside network namespace ``netns`` (None: this one); its stdout, or PodnetError naming the
    command, its status, its message and the input it was given."""
    with inside_netns(netns):
        try:
            proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PodnetError('%s: %s' % (cmd[0], exc))
    if proc.returncode != 0:
        raise PodnetError('%s failed (rc %d): %s%s' % (
            ' '.join(cmd), proc.returncode, (proc.stderr or proc.stdout).strip(),
            '\ninput was:\n' + input_text if input_text else ''))
    return proc.stdout


def open_iproute(netns: Optional[str] = None) -> Any:
    """An ``IPRoute`` socket in namespace ``netns`` (None: this thread's own), on every supported pyroute2."""
    with in_netns(netns):
        return IPRoute()


IFF_UP = 0x1  # a link's flags: administratively up


def link_kind(msg: Any) -> Optional[str]:
    """A link message's kind (vxlan, ipip, veth, ...), None for a device without one (a physical NIC)."""
    info = msg.get_attr('IFLA_LINKINFO')
    return info.get_attr('IFLA_INFO_KIND') if info is not None else None


class PodnetError(Exception):
    """An error the module reports with fail_json (message already user-facing)."""


def netns_exists(name: str) -> bool:
    """Is /run/netns/NAME a namespace? (a file there that is no mount is what an interrupted creation left)"""
    path = _netns_path(name)
    return os.path.exists(path) and os.path.ismount(path)


#: seconds pyroute2 (0.9) waits for the helper it forks to create a namespace. Its own default, 2 s, was
#: overrun inside a loaded second kernel ("no response from the child pid ...").
NETNS_CREATE_TIMEOUT = 60


def create_netns(name: str) -> None:
    """Create the named namespace with pyroute2, on every supported version, with room for a slow machine.
    A mount point left by an interrupted creation (a plain file) is removed before and after a failure."""
    from pyroute2 import config, netns
    path = _netns_path(name)
    _remove_stale(path)
    before = getattr(config, 'default_communicate_timeout', None)
    if before is not None:
        config.default_communicate_timeout = max(before, NETNS_CREATE_TIMEOUT)
    try:
        netns.create(name)
    except BaseException:
        _remove_stale(path)
        raise
    finally:
        if before is not None:
            config.default_communicate_timeout = before


def _remove_stale(path: str) -> None:
    if os.path.exists(path) and not os.path.ismount(path):
        try:
            os.unlink(path)
        except OSError:
            pass


def describe_netlink_error(exc: BaseException, action: str) -> str:
    code = getattr(exc, 'code', 0)
    text = os.strerror(code) if code else str(exc)
    return '%s failed: %s (errno %s)' % (action, text, code)


class Netlink(object):
    """One IPRoute socket, in the root namespace of the target or in a named one."""

    def __init__(self, netns: Optional[str] = None) -> None:
        self.netns = netns
        self.ns_missing = False
        self.ipr: Any = None
        self._index_cache: Dict[str, Optional[int]] = {}
        if netns and not netns_exists(netns):
            self.ns_missing = True
            return
        try:
            self.ipr = open_iproute(netns)
        except FileNotFoundError:
            self.ns_missing = True

    @property
    def where(self) -> str:
        return 'namespace %s' % self.netns if self.netns else 'the root namespace'

    def close(self) -> None:
        if self.ipr is not None:
            self.ipr.close()
            self.ipr = None

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def require(self) -> None:
        """Fail unless the namespace exists (needed before any write)."""
        if self.ns_missing:
            raise PodnetError('network namespace %r does not exist on this host' % self.netns)

    def call(self, action: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run one netlink request; turn NetlinkError into PodnetError naming the action."""
        try:
            return getattr(self.ipr, method)(*args, **kwargs)
        except NetlinkError as exc:
            raise PodnetError(describe_netlink_error(exc, action))

    def ifindex(self, name: str) -> Optional[int]:
        """The index of link ``name``, or None (also when the namespace is missing)."""
        if self.ipr is None:
            return None
        if name not in self._index_cache:
            found = self.ipr.link_lookup(ifname=name)
            self._index_cache[name] = found[0] if found else None
        return self._index_cache[name]

    def ifname(self, index: int) -> str:
        for name, idx in self._index_cache.items():
            if idx == index:
                return name
        links = self.ipr.link('get', index=index)
        name = links[0].get_attr('IFLA_IFNAME')
        self._index_cache[name] = index
        return name

    def forget_links(self) -> None:
        self._index_cache = {}

    def get_link(self, name: str) -> Any:
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


def ignore_errno(exc: BaseException, *codes: int) -> bool:
    return isinstance(exc, NetlinkError) and exc.code in codes
