# -*- coding: utf-8 -*-
"""openkube.podnet.netns against the real kernel; every namespace made here is removed."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh


def namespaces():
    return sorted(ns['name'] for ns in ipj(None, 'netns', 'list'))


def made_since(before, *names):
    """Which of ``names`` appeared since ``before`` (other engineers' tests make namespaces meanwhile)."""
    return set(namespaces()) - set(before) & set(n for n in names if n)


@pytest.fixture
def fresh():
    """Factory of unused namespace names (not created); all are removed at teardown."""
    names = []

    def make(suffix=''):
        name = 'pnt-%s%s' % (uuid.uuid4().hex[:8], suffix)
        names.append(name)
        return name

    yield make
    for name in names:
        for variant in (name, name + 'd', name[:-1]):
            if os.path.exists('/run/netns/' + variant) and variant.startswith('pnt-'):
                subprocess.run(['ip', 'netns', 'del', variant], capture_output=True, check=False)


def test_four_runs_create(fresh):
    name = fresh()
    first_check, applied, second_check, again = four_runs('netns', dict(name=name))
    assert first_check['changed'] is True
    assert name in namespaces()
    assert diff_lists(applied) == dict(before=[], after=[dict(name=name)])
    assert diff_lists(again) == dict(before=[dict(name=name)], after=[dict(name=name)])
    assert applied['namespaces'] == [dict(name=name)]
    # it is a real network namespace: iproute2 can list its links
    assert [link['ifname'] for link in ipj(name, 'link', 'show')] == ['lo']


def test_a_mount_point_left_by_an_interrupted_creation_is_not_a_namespace(fresh):
    """A plain file at /run/netns/NAME (what a creation killed half-way leaves) is not taken for the
    namespace: the module makes the namespace there, and iproute2 can use it."""
    name = fresh()
    with open('/run/netns/' + name, 'w'):
        pass
    result = run_module('netns', dict(name=name))
    assert result['changed'] is True and result['actions'] == ['add network namespace %s' % name]
    assert os.path.ismount('/run/netns/' + name)
    assert [link['ifname'] for link in ipj(name, 'link', 'show')] == ['lo']
    assert run_module('netns', dict(name=name))['changed'] is False


def test_check_mode_creates_nothing(fresh):
    name = fresh()
    before = namespaces()
    result = run_module('netns', dict(name=name), check=True)
    assert result['changed'] is True
    assert result['actions'] == ['add network namespace %s' % name]
    assert not made_since(before, name)
    assert not os.path.exists('/run/netns/' + name)


def test_four_runs_absent(fresh):
    name = fresh()
    sh('ip', 'netns', 'add', name)
    first_check, applied, second_check, again = four_runs('netns', dict(name=name, state='absent'))
    assert first_check['changed'] is True
    assert name not in namespaces()
    assert diff_lists(applied) == dict(before=[dict(name=name)], after=[])
    assert applied['namespaces'] == []


def test_longer_name_is_not_taken_for_the_wanted_one(fresh):
    """pnt-abc is not present just because pnt-abcd exists (community.general.ip_netns's substring bug)."""
    short = fresh()
    longer = short + 'd'
    sh('ip', 'netns', 'add', longer)
    checked = run_module('netns', dict(name=short), check=True)
    assert checked['changed'] is True, checked
    gone = run_module('netns', dict(name=short, state='absent'))
    assert gone['changed'] is False, gone
    assert longer in namespaces()
    made = run_module('netns', dict(name=short))
    assert made['changed'] is True
    assert short in namespaces() and longer in namespaces()
    # and the other way round: removing the short one leaves the longer one alone
    assert run_module('netns', dict(name=short, state='absent'))['changed'] is True
    assert short not in namespaces() and longer in namespaces()


def test_shorter_name_is_not_taken_for_the_wanted_one(fresh):
    longer = fresh('d')
    short = longer[:-1]
    sh('ip', 'netns', 'add', short)
    result = run_module('netns', dict(name=longer, state='absent'), check=True)
    assert result['changed'] is False
    result = run_module('netns', dict(name=longer), check=True)
    assert result['changed'] is True
    assert longer not in namespaces()


def test_netns_option_is_refused(fresh):
    name = fresh()
    result = run_module('netns', dict(name=name, netns='elsewhere'))
    assert result.get('failed') is True
    assert 'netns' in result['msg']
    assert not os.path.exists('/run/netns/' + name)


@pytest.mark.parametrize('name, why', [
    ('', 'non-empty'),
    ('a/b', 'not a valid namespace name'),
    ('.', 'not a valid namespace name'),
    ('..', 'not a valid namespace name'),
    ('x' * 256, 'at most 255 bytes'),
])
def test_bad_input(name, why):
    before = namespaces()
    result = run_module('netns', dict(name=name))
    assert result.get('failed') is True, result
    assert result['msg'].startswith('name: %r' % name), result['msg']
    assert why in result['msg']
    assert not made_since(before, name, name.split('/')[0], name[:255])


def test_missing_name_is_refused():
    before = namespaces()
    result = run_module('netns', dict(state='present'))
    assert result.get('failed') is True
    assert 'name' in result['msg']
    assert not made_since(before, 'None', 'null')
