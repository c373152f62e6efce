# -*- coding: utf-8 -*-
"""Issue 6, point 5: interrupted runs, on this machine's kernel.

``ansible-playbook`` runs in a session of its own and its whole process tree (the controller, its
workers, and the module processes they started inside the lab hosts) gets SIGKILL at a chosen
moment: a time after the start, or a delay after a given task header appears in its output.
Kill points cover both ways of applying the plan (podnet_apply=one_call: inside the converge
module; podnet_apply=roles: between the module calls of the pod and mode roles), a fresh
deployment, mode switches and the teardown. After each kill the same command is run again: it
must succeed, and every host's dump must equal a fresh deployment of the target mode (or, for
the teardown, the lab before the first converge). Verify runs once the last switch is repaired.

Each kill point prints what the kill left behind: ``unchanged`` (killed before any write),
``partial`` (the interesting case), or ``complete`` (the run had already finished its writes).
"""

from __future__ import annotations

import pytest

import kit
from kit import lab_name
from lab import built_lab

APPLY_TASK = 'TASK [openkube.podnet.podnet : Apply the plan in one execution'

#: (id, target, extra args, kill after seconds, kill pattern, delay after the pattern)
KILLS = [
    ('fresh-vxlan-one_call-after-2s', 'vxlan', (), 2.0, None, 0),
    ('vxlan-to-host-gw-roles-in-host_gw-role', 'host-gw', ('-e', 'podnet_apply=roles'), None,
     'TASK [openkube.podnet.host_gw', 0.2),
    ('host-gw-to-vxlan-roles-in-vxlan-role', 'vxlan', ('-e', 'podnet_apply=roles'), None,
     'TASK [openkube.podnet.vxlan : ', 1.0),
    ('vxlan-to-host-gw-one_call-in-module', 'host-gw', (), None, APPLY_TASK, 0.15),
    ('host-gw-to-vxlan-one_call-after-4s', 'vxlan', (), 4.0, None, 0),
    ('teardown-roles-removing-pods', 'absent', ('-e', 'podnet_apply=roles'), None,
     "TASK [openkube.podnet.podnet : Veth pair veth-ns1 absent", 0.0),
]


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab', name=lab_name('kill')) as lab:
        kit.handmade(lab)
        lab.before_converge = kit.dump(lab)
        yield lab


def _args(target, extra):
    if target == 'absent':
        return ('-e', 'podnet_state=absent') + tuple(extra)
    return ('-e', 'mode=' + target) + tuple(extra)


def _no_sysctl(state):
    state = kit.copy(state)
    for s in state.values():
        s.pop('sysctl')
    return state


@pytest.mark.parametrize('kill', KILLS, ids=[k[0] for k in KILLS])
def test_killed_run_then_next_run_converges(lab, fresh, kill, capsys):
    name, target, extra, after, pattern, delay = kill
    args = _args(target, extra)
    want = _no_sysctl(lab.before_converge) if target == 'absent' else fresh[target]
    before = kit.dump(lab)
    run, killed_it = kit.killed(lab, 'playbooks/site.yml', *args, after=after, pattern=pattern, delay=delay)
    if pattern:
        assert pattern in run.stdout, 'the run never reached %r:\n%s' % (pattern, run.stdout[-3000:])
    left = kit.dump(lab)
    compare = _no_sysctl(left) if target == 'absent' else left
    outcome = 'unchanged' if left == before else 'complete' if compare == want else 'partial'
    tasks = [line.strip() for line in run.stdout.splitlines() if line.startswith('TASK [')]
    with capsys.disabled():
        print('\n  kill %s: killed=%s after %.1f s, last task %s -> left %s'
              % (name, killed_it, run.seconds, tasks[-1] if tasks else '(none)', outcome))

    again = kit.play(lab, 'playbooks/site.yml', *args, what='site %s (after the kill %s)' % (' '.join(args), name))
    if outcome == 'partial':
        assert any(n > 0 for n in again.changed().values()), again.tail()
    now = kit.dump(lab)
    kit.assert_handmade(now)
    if target == 'absent':
        now = _no_sysctl(now)
    kit.assert_same(now, want, 'after the kill %s and a new run (first: now, second: %s)'
                    % (name, 'before the first converge' if target == 'absent' else 'a fresh %s deployment' % target))
    if name == 'host-gw-to-vxlan-one_call-after-4s':
        kit.verify(lab, 'vxlan')
