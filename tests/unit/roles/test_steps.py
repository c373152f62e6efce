# -*- coding: utf-8 -*-
"""The roles path makes the calls of _converge.steps() through one task file per module
(roles/podnet/tasks/step/<module>.yml): each file must exist for every module a plan calls, call
that module and pass it every option of its argument spec (and nothing else), so that a call's
arguments reach the module unchanged, whatever the plan puts in them."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.openkube.podnet.plugins.module_utils import _converge

STEPS = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'podnet', 'tasks', 'step')


def task_of(module):
    with open(os.path.join(STEPS, module + '.yml')) as handle:
        tasks = yaml.safe_load(handle)
    assert len(tasks) == 1, (module, tasks)
    return tasks[0]


def test_one_file_per_module_a_plan_calls():
    files = sorted(name[:-4] for name in os.listdir(STEPS) if name.endswith('.yml'))
    assert files == sorted(_converge.RESOURCES)


@pytest.mark.parametrize('module', sorted(m for m in _converge.RESOURCES if m not in ('record', 'repair')))
def test_step_file_passes_every_option_of_its_module(module):
    task = task_of(module)
    options = task['openkube.podnet.' + module]
    utils = _converge.RESOURCES[module][0]
    assert sorted(options) == sorted(utils.ARGSPEC), module
    for name, value in options.items():
        # the call's own value, or the module's default when the call has none
        assert value.startswith('{{ __podnet_step.args.%s' % name), (module, name, value)
        required = utils.ARGSPEC[name].get('required')
        assert ('default(omit)' in value) != bool(required), (module, name, value)


@pytest.mark.parametrize('part', ['record', 'repair'])
def test_the_record_and_the_units_are_written_by_the_converge_module(part):
    task = task_of(part)
    assert task['openkube.podnet.converge'] == {'plan': '{{ podnet_preflight.plan }}', 'parts': [part]}
