# -*- coding: utf-8 -*-
"""The shared compare-and-apply logic, with a fake resource over an in-memory 'kernel' (no netlink)."""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import Change, Resource, converge, predicted


class FakeNetlink(object):
    def __init__(self, missing=False):
        self.ipr = None if missing else object()
        self.ns_missing = missing
        self.where = 'namespace fake'

    def require(self):
        if self.ns_missing:
            raise PodnetError('network namespace %r does not exist on this host' % 'fake')

    def forget_links(self):
        pass


class Things(Resource):
    """Entries {name, color, size, owner}; size cannot change in place; owner 'us' marks ours."""

    result_key = 'things'
    compared = ('color', 'size')
    immutable = ('size',)

    def __init__(self, kernel, wanted, missing=False):
        super(Things, self).__init__(FakeNetlink(missing), {}, wanted)
        self.kernel = kernel  # name -> entry
        self.calls = []

    def read(self):
        return [dict(e) for e in self.kernel.values()]

    def key(self, entry):
        return entry['name']

    def owned(self, entry):
        return entry.get('owner') == 'us'

    def add(self, entry):
        self.calls.append(('add', entry['name']))
        self.kernel[entry['name']] = dict(entry)

    def delete(self, entry):
        self.calls.append(('delete', entry['name']))
        del self.kernel[entry['name']]

    def update(self, current, wanted, fields):
        self.calls.append(('update', wanted['name'], tuple(sorted(fields))))
        self.kernel[wanted['name']] = dict(wanted)


def thing(name, color='red', size=1, owner='us'):
    return dict(name=name, color=color, size=size, owner=owner)


def ops(changes):
    return [(c.op, (c.after or c.before)['name']) for c in changes]


def run(kernel, wanted, state='present', purge=False, check_mode=False, missing=False):
    resource = Things(kernel, wanted, missing=missing)
    return resource, converge(resource, wanted, state=state, purge=purge, check_mode=check_mode)


@pytest.mark.parametrize('kernel, wanted, state, purge, expected', [
    # add, nothing to do, update
    ([], [thing('a')], 'present', False, [('add', 'a')]),
    ([thing('a')], [thing('a')], 'present', False, []),
    ([thing('a')], [thing('a', color='blue')], 'present', False, [('update', 'a')]),
    # None in wanted: do not care
    ([thing('a', color='blue')], [thing('a', color=None)], 'present', False, []),
    # purge: owned unlisted entries go, foreign ones stay
    ([thing('a'), thing('b'), thing('c', owner='them')], [thing('a')], 'present', True, [('delete', 'b')]),
    ([thing('a'), thing('b')], [thing('a')], 'present', False, []),
    # absent: listed owned entries go; missing or foreign ones are left alone; purge does not apply
    ([thing('a'), thing('b')], [thing('a')], 'absent', True, [('delete', 'a')]),
    ([], [thing('a')], 'absent', False, []),
    ([thing('a', owner='them')], [thing('a')], 'absent', False, []),
    # a foreign entry that already matches is fine
    ([thing('a', owner='them')], [thing('a', owner=None)], 'present', False, []),
    # order: deletes, then updates, then adds
    ([thing('b'), thing('c')], [thing('a'), thing('c', color='blue')], 'present', True,
     [('delete', 'b'), ('update', 'c'), ('add', 'a')]),
])
def test_compare(kernel, wanted, state, purge, expected):
    resource = Things(dict((e['name'], e) for e in kernel), wanted)
    assert ops(resource.compare(resource.read(), wanted, state, purge)) == expected


def test_foreign_conflict_names_entry_and_fields():
    resource = Things({'a': thing('a', owner='them')}, [thing('a', color='blue')])
    with pytest.raises(PodnetError) as caught:
        resource.compare(resource.read(), resource.wanted, 'present', False)
    message = str(caught.value)
    assert 'not owned by openkube.podnet' in message
    assert "color is 'red', wanted 'blue'" in message
    assert 'namespace fake' in message


def test_update_in_place():
    kernel = {'a': thing('a')}
    resource, result = run(kernel, [thing('a', color='blue')])
    assert resource.calls == [('update', 'a', ('color',))]
    assert result['actions'] == ['update color blue name a owner us size 1 (color: red -> blue)']
    assert kernel['a']['color'] == 'blue'


def test_immutable_field_recreates():
    kernel = {'a': thing('a')}
    resource, result = run(kernel, [thing('a', size=2)])
    assert resource.calls == [('delete', 'a'), ('add', 'a')]
    assert result['actions'][0].startswith('recreate ')
    assert '(size: 1 -> 2)' in result['actions'][0]
    assert kernel['a']['size'] == 2


def test_recreates_hook_can_be_overridden():
    class Movable(Things):
        def recreates(self, change):
            return False

    kernel = {'a': thing('a')}
    resource = Movable(kernel, [thing('a', size=2)])
    result = converge(resource, resource.wanted)
    assert resource.calls == [('update', 'a', ('size',))]
    assert result['actions'][0].startswith('update ')


def test_check_mode_predicts_and_writes_nothing():
    kernel = {'b': thing('b'), 'c': thing('c', owner='them')}
    wanted = [thing('a')]
    resource, checked = run(kernel, wanted, purge=True, check_mode=True)
    assert resource.calls == []
    assert set(kernel) == {'b', 'c'}
    assert checked['changed'] is True
    assert checked['diff']['before'] == {'things': [thing('b'), thing('c', owner='them')]}
    assert checked['diff']['after'] == {'things': [thing('a'), thing('c', owner='them')]}
    assert checked['things'] == checked['diff']['after']['things']
    # the real run does what check mode said, and ends where it predicted
    resource, applied = run(kernel, wanted, purge=True)
    assert applied['changed'] is True and applied['actions'] == checked['actions']
    assert applied['diff'] == checked['diff']
    # and then there is nothing left to do
    resource, again = run(kernel, wanted, purge=True)
    assert again['changed'] is False and again['actions'] == [] and resource.calls == []
    assert again['diff']['before'] == again['diff']['after'] == applied['diff']['after']


def test_missing_namespace_check_mode_predicts_from_nothing():
    resource, checked = run({}, [thing('a')], check_mode=True, missing=True)
    assert checked['changed'] is True
    assert checked['diff'] == dict(before={'things': []}, after={'things': [thing('a')]})
    assert resource.calls == []


def test_missing_namespace_fails_before_any_write():
    resource = Things({}, [thing('a')], missing=True)
    with pytest.raises(PodnetError, match="network namespace 'fake' does not exist"):
        converge(resource, resource.wanted)
    assert resource.calls == []


def test_missing_namespace_nothing_to_do_is_not_an_error():
    resource, result = run({}, [thing('a')], state='absent', missing=True)
    assert result['changed'] is False


def test_predicted_keeps_entries_sharing_a_key():
    """The kernel may hold two entries with one key (IPv6 fe80::/64 on two devices): keep both."""
    resource = Things({}, [])
    one, two = thing('a', color='red'), thing('a', color='blue')
    assert predicted(resource, [one, two], []) == [one, two]
    other = thing('b')
    assert predicted(resource, [one, two, other], [Change('delete', before=other)]) == [one, two]
    assert predicted(resource, [one, two], [Change('delete', before=two)]) == [one]


def test_predicted_removes_exactly_the_changed_entry():
    resource = Things({}, [])
    current = [thing('a'), thing('b')]
    changes = [Change('delete', before=current[0]),
               Change('update', before=current[1], after=thing('b', color='blue')),
               Change('add', after=thing('c'))]
    assert predicted(resource, current, changes) == [thing('b', color='blue'), thing('c')]


def test_describe_and_default_update():
    class Plain(Things):
        update = Resource.update

    kernel = {'a': thing('a')}
    resource = Plain(kernel, [thing('a', color='blue')])
    converge(resource, resource.wanted)
    assert resource.calls == [('delete', 'a'), ('add', 'a')]  # the default update is delete and add
    assert resource.describe(thing('a')) == 'color red name a owner us size 1'
