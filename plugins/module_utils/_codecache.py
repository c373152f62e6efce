# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's compiled code, kept on the host between module runs.

Ansible sends a module and the module_utils it imports as sources in a zip (AnsiballZ). Python's
zipimport cannot keep bytecode there, so every run compiles every source again, and Python 3.11 does
it twice per module (once to name the module's file, once to run it). For the converge (about 30
files, 290 KB) that is about 70 ms of CPU in every run: a fifth of a no-change run's module process
(docs/benchmarks/README.md).

:func:`use` puts a finder first on ``sys.meta_path`` for this package's modules as they come in
Ansible's zip. The finder reads a module's source from the zip and runs code compiled from it: taken
from the cache folder when the file there was compiled from the same source, else compiled once and
written there (when writing is allowed: never in check mode). An explicit cache of the collection's,
as compileall's output is: written whatever PYTHONDONTWRITEBYTECODE says (the embedded lab's hosts
inherit the controller's environment; a host over SSH does not). The files are Python's own hash-based
pycs (PEP 552): the source's hash is stored in the file and compared with the source on every import.

The folder is the ``__pycache__`` of the host's copy of the code, the repair runner's (_repair.py),
where Python itself keeps the bytecode of those files: it goes with that copy (``podnet_state=absent``,
``podnet_repair=false``), and the runner reads it too. Without that copy (a host never converged, or
without the repair units) nothing is cached and the modules run as Ansible sends them. A folder that
is not this user's own, or that another user may write, is never read: it holds code that root runs.

This file imports the standard library only: it runs before the rest of the collection's code.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import marshal
import os
import stat
import sys
import zipimport
from typing import Any, Dict, Optional

PACKAGE = 'ansible_collections.openkube.podnet.plugins.module_utils'
LIB = 'lib'  # in podnet_state_dir: the host's copy of the code (_repair.py), and its bytecode
FOLDER = '__pycache__'
_HASH_BASED_CHECKED = 0b11  # PEP 552 flags: hash-based, checked against the source on import
#: what the finder did in this process: modules loaded from the cache, compiled, files written
STATS: Dict[str, Any] = dict(folder=None, loaded=0, compiled=0, written=0)


def code_dir(lib: str) -> str:
    """The folder of the host's copy of the module_utils under ``lib``."""
    return os.path.join(lib, *PACKAGE.split('.'))


def _ours(path: str) -> bool:
    """A folder owned by this user and writable by no one else (a missing one is not)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _header(source: bytes) -> bytes:
    """The 16 bytes a hash-based, checked pyc of ``source`` starts with, for this Python."""
    return importlib.util.MAGIC_NUMBER + _HASH_BASED_CHECKED.to_bytes(4, 'little') + importlib.util.source_hash(source)


def pyc_bytes(code: Any, source: bytes) -> bytes:
    """A hash-based, checked pyc of ``code`` compiled from ``source`` (what py_compile writes with
    ``invalidation_mode=CHECKED_HASH``)."""
    return _header(source) + marshal.dumps(code)


def code_of(data: bytes, source: bytes) -> Optional[Any]:
    """The code in pyc ``data`` if it was compiled by this Python from ``source``, else None."""
    head = _header(source)
    if data[:len(head)] != head:
        return None
    try:
        return marshal.loads(data[len(head):])
    except (EOFError, ValueError, TypeError):
        return None


class _Loader(object):
    """Loads one module of ours from Ansible's zip, its code from the cache folder when it can."""

    def __init__(self, importer: zipimport.zipimporter, name: str, origin: str, copy: str, cache: str, trusted: bool, write: bool):
        self.importer, self.name, self.origin, self.copy, self.cache = importer, name, origin, copy, cache
        self.trusted, self.write = trusted, write

    def create_module(self, spec):
        return None

    def get_source(self, fullname):
        return self.importer.get_source(self.name)

    def get_filename(self, fullname):
        return self.origin

    def is_package(self, fullname):
        return False

    def get_code(self, fullname):
        source = self.importer.get_data(self.origin)
        if self.trusted:
            try:
                with open(self.cache, 'rb') as handle:
                    code = code_of(handle.read(), source)
            except OSError:
                code = None
            if code is not None:
                STATS['loaded'] += 1
                return code
        # the name the copy's file has: where a traceback's source is, on the host
        code = compile(source, self.copy, 'exec', dont_inherit=True)
        STATS['compiled'] += 1
        if self.write and self.trusted:
            tmp = '%s.%d' % (self.cache, os.getpid())
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, 'wb') as out:
                    out.write(pyc_bytes(code, source))
                os.rename(tmp, self.cache)
                STATS['written'] += 1
            except OSError:  # a cache: the run goes on without it
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return code

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)  # pylint: disable=exec-used


class _Finder(object):
    """First on sys.meta_path: this package's modules found in Ansible's zip, nothing else."""

    def __init__(self, importer: zipimport.zipimporter, prefix: str, lib: str, cache: str, write: bool):
        self.importer, self.prefix, self.lib, self.cache, self.write = importer, prefix, lib, cache, write
        self.trusted = _ours(cache)  # once for the run, not once per module

    def find_spec(self, fullname, path=None, target=None):
        head, _sep, name = fullname.rpartition('.')
        if head != PACKAGE:
            return None
        inner = self.prefix + name + '.py'
        try:
            self.importer.get_data(inner)  # in the zip? (packages and other files: zipimport's own way)
        except OSError:
            return None
        tag = sys.implementation.cache_tag
        loader = _Loader(self.importer, name, os.path.join(self.importer.archive, inner), os.path.join(self.lib, name + '.py'),
                         os.path.join(self.cache, '%s.%s.pyc' % (name, tag)), self.trusted, self.write)
        spec = importlib.machinery.ModuleSpec(fullname, loader, origin=loader.origin)
        spec.has_location = True
        return spec


def use(state_dir: Optional[str], write: bool) -> Dict[str, Any]:
    """Import the rest of this package's modules through the cache of ``state_dir``'s copy of the code.

    Does nothing where this package was not imported from a zip (the tests, the repair runner: Python
    caches their bytecode itself), without a state folder, or where the host has no copy of the code
    that is ours. ``write``: compile and store what is missing or stale (the folder is made if the copy
    is there). Returns :data:`STATS`."""
    package = sys.modules.get(PACKAGE)
    loader = getattr(getattr(package, '__spec__', None), 'loader', None)
    if not state_dir or not isinstance(loader, zipimport.zipimporter) or any(isinstance(f, _Finder) for f in sys.meta_path):
        return STATS
    inside = [p for p in getattr(package, '__path__', []) if p.startswith(loader.archive + os.sep)]
    if not inside:
        return STATS
    importer = zipimport.zipimporter(inside[0])  # the package's folder in the zip: prefix .../module_utils/
    lib = code_dir(os.path.join(state_dir, LIB))
    cache = os.path.join(lib, FOLDER)
    if not _ours(lib):
        return STATS
    if not os.path.lexists(cache):
        if not write:
            return STATS  # nothing to read, nothing to be written
        try:
            os.mkdir(cache, 0o700)
        except OSError:
            return STATS
    STATS['folder'] = cache
    sys.meta_path.insert(0, _Finder(importer, importer.prefix, lib, cache, write))
    return STATS
