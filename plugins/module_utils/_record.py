# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's record of what is deployed: the last applied plan, kept on the host.

One file, ``<podnet_state_dir>/applied.json`` (the plan's key ``record``, see _plan.py) (``/var/lib/podnet/applied.json`` by default), written
by the converge as its last step, after everything else of the plan is in place:

    {"format": 1, "plan": {... the plan as the action host_plan made it ...}}

It is what the verify role checks against (what is deployed, not what the inventory says today), and
what a repair on the host would apply again. The file is root's only (directory 0700, file 0600),
replaced atomically (written beside, fsynced, renamed), and removed with ``podnet_state=absent``. A
record that cannot be read as one of ours (corrupt, another format) is replaced by a run: the run is the
source of truth.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource
from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError

FORMAT = 1
LOCK_WAIT = 300  # seconds a converge and the repair runner (_repair.py) wait for each other
#: keys a task result adds to a plan that travelled through a registered variable or set_fact
RESULT_KEYS = ('changed', 'failed', 'skipped', 'msg', 'invocation', 'warnings', 'deprecations', '_ansible_no_log')
#: plan keys that describe the way from the last applied plan, not the state: what the collection made to remove
#: (they differ between a run that removes them and the next one, which must change nothing)
TRANSIENT_KEYS = ('absent_pods', 'absent_bridge', 'absent_cni')

ARGSPEC = dict(
    dict((k, spec) for k, spec in COMMON_ARGSPEC.items() if k != 'netns'),
    path=dict(type='path', required=True),
    plan=dict(type='dict'),
)


def content_of(plan: Dict[str, Any]) -> Dict[str, Any]:
    """The document stored for ``plan``: the plan without what a task result added to it."""
    return dict(format=FORMAT, plan=dict((k, val) for k, val in plan.items() if k not in RESULT_KEYS + TRANSIENT_KEYS))


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    path = params['path']
    v.state_dir('path', path)
    if params.get('state', 'present') == 'present' and not params.get('plan'):
        raise ValidationError('plan: a record needs the plan to store (state present)')
    return [dict(path=path, content=content_of(params['plan']) if params.get('plan') else None)]


def read_record(path: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(document, problem): the stored document, or None and why it cannot be used."""
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None, 'there is no %s' % path
    except OSError as exc:
        return None, 'cannot read %s: %s' % (path, exc.strerror or exc)
    return parse_record(text, path)


def parse_record(text: str, path: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        return None, '%s is not JSON (%s)' % (path, exc)
    if not isinstance(document, dict) or not isinstance(document.get('plan'), dict):
        return None, '%s is not a record of openkube.podnet (no plan in it)' % path
    if document.get('format') != FORMAT:
        return None, '%s has record format %r; this collection reads format %d' % (path, document.get('format'), FORMAT)
    return document, None


def write_atomically(path: str, text: str, mode: int) -> None:
    """Replace ``path`` with ``text`` atomically (written beside, fsynced, renamed), with ``mode`` from the start."""
    tmp = '%s.podnet-%d' % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            with os.fdopen(fd, 'w') as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            os.rename(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise PodnetError('cannot write %s: %s' % (path, exc.strerror or exc))


def makedirs(folder: str, mode: int) -> None:
    """Every missing folder of ``folder`` with ``mode`` (os.makedirs gives the intermediate ones 0777 - umask)."""
    if os.path.isdir(folder):
        return
    makedirs(os.path.dirname(folder), mode)
    try:
        os.mkdir(folder, mode)
    except FileExistsError:
        pass
    except OSError as exc:
        raise PodnetError('cannot create %s: %s' % (folder, exc.strerror or exc))
    os.chmod(folder, mode)


def remove(path: str, remover: Callable[[str], None] = os.unlink) -> None:
    """Remove ``path`` with ``remover`` (os.unlink, os.rmdir, shutil.rmtree); gone already is fine."""
    try:
        remover(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PodnetError('cannot remove %s: %s' % (path, exc.strerror or exc))


def lock(folder: str, wait: float = LOCK_WAIT) -> Optional[int]:
    """Hold the lock of the record's folder, which a converge and the repair runner take for their whole
    run (flock on the folder itself: no file of its own). None when the folder does not exist yet."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                os.close(fd)
                raise PodnetError('cannot lock %s within %d s (another converge or podnet-apply holds it): %s'
                                  % (folder, wait, exc.strerror or exc))
            time.sleep(0.2)


def unlock(fd: Optional[int]) -> None:
    if fd is not None:
        os.close(fd)


class Record(Resource):
    """The record file: present with the wanted content, or absent."""

    result_key = 'records'
    compared = ('content',)

    def read(self):
        entries = []
        for entry in self.wanted:
            if not os.path.lexists(entry['path']):
                continue
            document, problem = read_record(entry['path'])
            # a record we cannot use is still there: it compares unequal and is replaced (or removed)
            entries.append(dict(path=entry['path'], content=document if document else dict(unreadable=problem)))
        return entries

    def key(self, entry):
        return entry['path']

    def differences(self, current, wanted):
        if wanted.get('content') is None:
            return {}
        if current.get('content') != wanted['content']:
            return dict(content=(_summary(current.get('content')), _summary(wanted['content'])))
        return {}

    def add(self, entry):
        path = entry['path']
        makedirs(os.path.dirname(path), 0o700)
        write_atomically(path, json.dumps(entry['content'], indent=1, sort_keys=True) + '\n', 0o600)

    def update(self, current, wanted, fields):
        self.add(wanted)

    def delete(self, entry):
        remove(entry['path'])

    def describe(self, entry):
        return 'record %s (%s)' % (entry['path'], _summary(entry.get('content')))

    def merged(self, current, wanted):
        return dict(wanted)


def _summary(content: Optional[Dict[str, Any]]) -> str:
    """A record in a few words: what the actions print (the diff shows the whole plan)."""
    if not content:
        return 'nothing'
    if 'unreadable' in content:
        return 'unreadable: %s' % content['unreadable']
    plan = content['plan']
    return 'mode %s, %d peer%s, %d pod%s' % (plan.get('mode'), len(plan.get('peers') or []),
                                             '' if len(plan.get('peers') or []) == 1 else 's',
                                             len(plan.get('pods') or []), '' if len(plan.get('pods') or []) == 1 else 's')
