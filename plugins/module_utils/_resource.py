# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compare-and-apply core that every module uses.

A *resource* is a set of kernel objects of one kind in one namespace: the
routes of a table, the permanent neighbours of a device, one vxlan device.
Each resource class says how to read the current entries, how to key and
compare them, which entries it owns, and how to add, update and delete one.
``converge`` does the rest the same way for all of them:

1. read the current entries;
2. compare them with the wanted ones (and, with ``purge``, find owned entries
   that are not wanted);
3. unless in check mode, apply the changes (deletes, then updates, then adds);
4. report ``changed``, the actions, and a before/after diff (after a real run,
   ``after`` is read back from the kernel; in check mode it is predicted).

Check mode runs steps 1, 2 and 4 only, so its prediction is exact by
construction: the same comparison decides both.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional, Tuple, Type

from ansible_collections.openkube.podnet.plugins.module_utils._netlink import (
    HAS_PYROUTE2,
    pyroute2_problem,
    PYROUTE2_IMPORT_ERROR,
    Netlink,
    PodnetError,
)
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError

# Options every module has; documented once in the doc fragment openkube.podnet.common.
COMMON_ARGSPEC = dict(
    netns=dict(type='str'),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)


class NoKernel(object):
    """What a resource that touches no kernel object (files: the record, the repair units) gets instead of a
    netlink socket: converge() only asks whether it is open, requires it and has it forget its links."""
    ipr = True
    where = 'the host'
    ns_missing = False

    def require(self) -> None:
        pass

    def forget_links(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> 'NoKernel':
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class Change(object):
    __slots__ = ('op', 'before', 'after', 'fields')

    def __init__(self, op: str, before: Optional[Dict[str, Any]] = None, after: Optional[Dict[str, Any]] = None,
                 fields: Optional[Dict[str, Tuple[Any, Any]]] = None) -> None:
        self.op = op  # 'add', 'update' or 'delete'
        self.before: Any = before
        self.after: Any = after
        self.fields = fields or {}


class Resource(object):
    """Base class: subclasses implement read/key and the three writes."""

    #: key in the module result under which the entries after the run are returned
    result_key = 'entries'
    #: fields that cannot change in place: a difference there means delete and re-add
    immutable: Tuple[str, ...] = ()
    #: fields compared between current and wanted entries (None in wanted = do not care)
    compared: Tuple[str, ...] = ()
    #: set by converge: a read in check mode may predict what earlier steps would create
    check_mode = False

    def __init__(self, nl: Any, params: Dict[str, Any], wanted: List[Dict[str, Any]]) -> None:
        self.nl = nl
        self.params = params
        self.wanted = wanted

    # ---- to implement -------------------------------------------------
    def read(self) -> List[Dict[str, Any]]:
        """Current entries in scope, as normalised dicts."""
        raise NotImplementedError

    def key(self, entry: Dict[str, Any]) -> Hashable:
        raise NotImplementedError

    def add(self, entry: Dict[str, Any]) -> None:
        raise NotImplementedError

    def delete(self, entry: Dict[str, Any]) -> None:
        raise NotImplementedError

    def update(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        """Change ``fields`` of ``current`` in place; by default delete and add."""
        self.delete(current)
        self.add(self.merged(current, wanted))

    def describe(self, entry: Dict[str, Any]) -> str:
        return ' '.join('%s %s' % (k, v) for k, v in sorted(entry.items()) if v not in (None, False))

    def tidy(self) -> None:
        """Bookkeeping after a real run, changed or not (the sysctl ledger forgets what is done with)."""

    # ---- overridable policy ------------------------------------------
    def owned(self, entry: Dict[str, Any]) -> bool:
        """May the collection change or delete this entry? (purge and absent act only on owned ones)"""
        return True

    def differences(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Tuple[Any, Any]]:
        return dict(
            (field, (current.get(field), wanted[field]))
            for field in self.compared
            if wanted.get(field) is not None and current.get(field) != wanted[field]
        )

    def merged(self, current: Dict[str, Any], wanted: Dict[str, Any]) -> Dict[str, Any]:
        entry = dict(current)
        entry.update((k, v) for k, v in wanted.items() if v is not None)
        return entry

    def conflict(self, current: Dict[str, Any], wanted: Dict[str, Any], fields: Dict[str, Tuple[Any, Any]]) -> None:
        raise PodnetError(
            '%s exists in %s but is not owned by openkube.podnet (%s); refusing to change it'
            % (self.describe(current), self.nl.where,
               ', '.join('%s is %r, wanted %r' % (f, c, w) for f, (c, w) in sorted(fields.items())))
        )

    # ---- the shared comparison ---------------------------------------
    def compare(self, current: List[Dict[str, Any]], wanted: List[Dict[str, Any]], state: str, purge: bool) -> List[Change]:
        by_key = dict((self.key(entry), entry) for entry in current)
        wanted_keys = set()
        deletes, updates, adds = [], [], []
        for entry in wanted:
            key = self.key(entry)
            wanted_keys.add(key)
            have = by_key.get(key)
            if state == 'absent':
                if have is not None and self.owned(have):
                    deletes.append(Change('delete', before=have))
                continue
            if have is None:
                adds.append(Change('add', after=entry))
                continue
            fields = self.differences(have, entry)
            if fields:
                if not self.owned(have):
                    self.conflict(have, entry, fields)
                updates.append(Change('update', before=have, after=self.merged(have, entry), fields=fields))
        if purge and state == 'present':
            for key, have in by_key.items():
                if key not in wanted_keys and self.owned(have):
                    deletes.append(Change('delete', before=have))
        return deletes + updates + adds

    def recreates(self, change: Change) -> bool:
        """Must this update delete and re-add the entry? (by default: an immutable field differs)"""
        return bool(set(change.fields) & set(self.immutable))

    def apply(self, changes: List[Change]) -> None:
        for change in changes:
            if change.op == 'delete':
                self.delete(change.before)
            elif change.op == 'add':
                self.add(change.after)
            elif self.recreates(change):
                self.delete(change.before)
                self.add(change.after)
            else:
                self.update(change.before, change.after, change.fields)

    def action_text(self, change: Change) -> str:
        if change.op == 'delete':
            return 'delete %s' % self.describe(change.before)
        if change.op == 'add':
            return 'add %s' % self.describe(change.after)
        how = 'recreate' if self.recreates(change) else 'update'
        return '%s %s (%s)' % (how, self.describe(change.after), ', '.join(
            '%s: %s -> %s' % (f, c, w) for f, (c, w) in sorted(change.fields.items())))


def predicted(resource: Resource, current: List[Dict[str, Any]], changes: List[Change]) -> List[Dict[str, Any]]:
    """The entries as they will be after ``changes``: the diff's 'after'.

    Entries are taken out one by one (the very ``before`` of a change), not by key: the kernel
    can hold several entries with one key (IPv6 routes to fe80::/64 on two devices, with the
    same table and metric), and collapsing them by key would drop untouched ones from the diff.
    """
    after = list(current)
    for change in changes:
        if change.before is not None:
            for i, entry in enumerate(after):
                if entry is change.before:
                    del after[i]
                    break
            else:
                after = [e for e in after if e != change.before]
        if change.op != 'delete':
            after.append(change.after)
    return after


def _sorted(entries: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return sorted(entries, key=lambda e: repr(sorted(e.items())))


def converge(resource: Resource, wanted: List[Dict[str, Any]], state: str = 'present', purge: bool = False,
             check_mode: bool = False) -> Dict[str, Any]:
    """Compare and apply; return the module result (without 'diff' formatting)."""
    resource.check_mode = check_mode
    current = resource.read() if resource.nl.ipr is not None else []
    changes = resource.compare(current, wanted, state, purge)
    after = predicted(resource, current, changes)
    if changes and not check_mode:
        resource.nl.require()
        resource.apply(changes)
        # Report what the kernel really has now (it fills in values nobody asked for: MTU, MAC, ...).
        resource.nl.forget_links()
        after = resource.read()
    if not check_mode and resource.nl.ipr is not None:
        resource.tidy()
    return dict(
        changed=bool(changes),
        actions=[resource.action_text(c) for c in changes],
        # before/after as mappings ({result_key: [objects]}): Ansible's callbacks render a mapping, one object
        # per block, and fail on a bare list ("'list' object has no attribute 'splitlines'")
        diff=dict(before={resource.result_key: _sorted(current)}, after={resource.result_key: _sorted(after)}),
        **{resource.result_key: _sorted(after)}
    )


def require_pyroute2(module: Any) -> None:
    """Fail the module, before anything is read or changed, unless a supported pyroute2 is importable."""
    problem = pyroute2_problem()
    if problem:
        module.fail_json(msg=problem)
    if not HAS_PYROUTE2:
        from ansible.module_utils.basic import missing_required_lib
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)


def run_module(module: Any, resource_cls: Type[Resource], wanted_from_params: Callable[[Dict[str, Any]], List[Dict[str, Any]]],
               purge_option: bool = True, nl: Any = None) -> None:
    """The whole life of a module run: validate, open netlink, converge, report.

    ``wanted_from_params(params)`` validates every option and returns the list
    of wanted entries; it raises ValidationError before anything is opened.
    ``nl``: a stand-in for netlink (NoKernel) for a resource that is a file, which needs no pyroute2.
    """
    if nl is None:
        require_pyroute2(module)
    params = module.params
    try:
        wanted = wanted_from_params(params)
    except ValidationError as exc:
        module.fail_json(msg=str(exc))
    try:
        with (Netlink(params.get('netns')) if nl is None else nl) as handle:
            result = converge(
                resource_cls(handle, params, wanted), wanted,
                state=params.get('state', 'present'),
                purge=bool(params.get('purge')) if purge_option else False,
                check_mode=module.check_mode,
            )
    except (PodnetError, ValidationError) as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)
