# -*- coding: utf-8 -*-
"""Issue 6, point 6: check-mode fidelity, on this machine's kernel.

On a fresh lab, and on a lab converged in another mode (both switch directions and the
teardown), ``site.yml --check --diff`` must change nothing (dumps before and after identical)
and must report, task by task and host by host, exactly what the real run that follows then
reports: the same status (ok / changed / skipped) for every (task, host), and, for the converge
module (podnet_apply=one_call), the same list of actions and the same changed flag per step.
Both ways of applying the plan are covered (the roles path has one task per table).
"""

from __future__ import annotations

import pytest

import kit
from kit import lab_name
from lab import built_lab

#: (id, args) in order, on one lab: each step starts from the state the previous one left
STEPS = [
    ('fresh-to-vxlan-roles', ('-e', 'mode=vxlan', '-e', 'podnet_apply=roles')),
    ('vxlan-to-host-gw-one_call', ('-e', 'mode=host-gw')),
    ('host-gw-to-vxlan-one_call', ('-e', 'mode=vxlan')),
    ('vxlan-to-host-gw-roles', ('-e', 'mode=host-gw', '-e', 'podnet_apply=roles')),
    ('host-gw-to-teardown-one_call', ('-e', 'podnet_state=absent')),
]


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab', name=lab_name('check')) as lab:
        kit.handmade(lab)
        yield lab


def _statuses(run):
    """{(task, host): status, plus the changed flag of every loop item}."""
    return dict(((e['task'], e['host']), e['status'] + ('' if e['items'] is None else ' items %s' % e['items']))
                for e in run.events)


@pytest.mark.parametrize('step', STEPS, ids=[s[0] for s in STEPS])
def test_check_mode_predicts_the_real_run(lab, step, capsys):
    name, args = step
    before = kit.dump(lab)
    check = kit.play(lab, 'playbooks/site.yml', '--check', '--diff', *args, what='site --check %s' % ' '.join(args))
    kit.assert_same(kit.dump(lab), before, '--check changed the kernel (%s)' % name)
    real = kit.play(lab, 'playbooks/site.yml', *args, what='site %s (after --check)' % ' '.join(args))

    predicted, happened = _statuses(check), _statuses(real)
    wrong = ['%s on %s: --check %s, real run %s' % (task, host, predicted.get((task, host)), happened.get((task, host)))
             for task, host in sorted(set(predicted) | set(happened))
             if predicted.get((task, host)) != happened.get((task, host))]
    assert not wrong, '%s: check mode mispredicted:\n  %s' % (name, '\n  '.join(wrong))
    assert check.changed() == real.changed(), (check.changed(), real.changed())
    assert any(n > 0 for n in real.changed().values()), real.tail()

    for host, event in real.converge().items():
        predicted_event = check.converge()[host]
        assert predicted_event['actions'] == event['actions'], (host, predicted_event['actions'], event['actions'])
        assert predicted_event['steps'] == event['steps'], (host, predicted_event['steps'], event['steps'])
    with capsys.disabled():
        changed_tasks = sorted(set(task for (task, _h), status in happened.items() if status == 'changed'))
        print('\n  %s: %d task results compared, changed tasks: %s' % (name, len(happened), '; '.join(changed_tasks)))
