#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Where a no-change re-run's controller CPU goes, task by task, as the cluster grows (issue 19: the ratio to the
floor flat in N).

For every N, one lab-scale lab (vxlan, converged once, not measured); then, round after round, Ansible's floor
(one ping task per host) and a no-change re-run of ``playbooks/site.yml``. ansible-playbook runs with
``benchmarks/pertask`` on PYTHONPATH, whose sitecustomize records, for every task worker Ansible forks, its own CPU
and that of the processes it waited for (the connection and the module on the host), and the main process's CPU.
Prints milliseconds of CPU per host for each task (median over the rounds), so that a task whose cost per host
grows with N shows itself.

    .venv/bin/python benchmarks/pertask.py --sizes 16,64 --rounds 3 [--json FILE]

Reports, never asserts: the machine is shared and noisy; CPU time is the steadier measure.
"""

from __future__ import annotations

import collections
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402  (benchmarks/run.py)

HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pertask')


def accounted(lab, what, mode, log):
    if os.path.exists(log):
        os.unlink(log)
    env = {'PYTHONPATH': HOOK, 'PODNET_PERTASK_LOG': log}
    res = lab.baseline(env=env) if what == 'floor' else lab.site(mode, env=env)
    tasks = collections.OrderedDict()
    with open(log) as handle:
        for line in handle:
            kind, name, own, children = line.rstrip('\n').split('\t')
            entry = tasks.setdefault(name if kind == 'worker' else '(main process)', [0.0, 0.0, 0])
            entry[0] += float(own)
            entry[1] += float(children)
            entry[2] += 1
    return res, tasks


def measure(n, mode, rounds, lab_prefix, work, interpreter=None):
    lab = run.ScaleLab(run.Ansible(work, interpreter=interpreter), '%s-%d' % (lab_prefix, n))
    per = dict(floor=collections.defaultdict(list), rerun=collections.defaultdict(list))
    totals = dict(floor=[], rerun=[])
    try:
        lab.build(n)
        lab.site(mode)
        for r in range(rounds):
            for what in (('floor', 'rerun') if r % 2 == 0 else ('rerun', 'floor')):
                res, tasks = accounted(lab, what, mode, os.path.join(work, 'pertask.log'))
                totals[what].append(res['cpu'])
                for name, (own, children, _count) in tasks.items():
                    per[what][name].append((own * 1000.0 / n, children * 1000.0 / n))
                run.log('N=%d %s: %.1f s CPU, changed %d' % (n, what, res['cpu'], res['changed']))
    finally:
        lab.teardown()
    row = dict(n=n, mode=mode, rounds=rounds, interpreter=interpreter or '(inventory: the venv)',
               cpu=dict((k, statistics.median(v)) for k, v in totals.items()))
    row['tasks'] = dict((what, dict((name, [round(statistics.median(s[0] for s in v), 1),
                                            round(statistics.median(s[1] for s in v), 1)])
                                    for name, v in per[what].items())) for what in per)
    return row


def table(rows):
    names = []
    for row in rows:
        for what in ('floor', 'rerun'):
            for name in row['tasks'][what]:
                if (what, name) not in names:
                    names.append((what, name))
    lines = ['| run | task | ' + ' | '.join('N=%d own + host (ms per host)' % r['n'] for r in rows) + ' |',
             '| --- | --- |' + ' ---: |' * len(rows)]
    for what, name in names:
        cells = []
        for row in rows:
            v = row['tasks'][what].get(name)
            cells.append('%.0f + %.0f' % tuple(v) if v else '—')
        lines.append('| %s | %s | %s |' % (what, name[:60], ' | '.join(cells)))
    lines.append('| re-run / floor | (controller CPU, whole run) | %s |' % ' | '.join(
        '%.2f' % (r['cpu']['rerun'] / r['cpu']['floor']) for r in rows))
    return '\n'.join(lines)


def main(argv=None):
    args = run.size_arguments(__doc__, '16,64', 3, 'pertask').parse_args(argv)
    print(table(run.over_sizes(args, lambda n, work: measure(n, args.mode, args.rounds, args.lab_prefix, work, args.interpreter))))


if __name__ == '__main__':
    main()
