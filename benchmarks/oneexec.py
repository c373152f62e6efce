#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Issue 19: one module execution per host (the default) against the strict two-phase run (podnet_two_phase=true),
side by side, beside Ansible's floor (one ping task per host), as the cluster grows.

For every N, one lab-scale lab of N hosts; then, round after round, the ping baseline and, for each path (the order
alternates every round), a first converge of ``playbooks/site.yml`` (after ``podnet_state=absent`` has removed
everything, not measured) and a no-change re-run. Medians over the rounds of wall time and of controller CPU
(ansible-playbook and every process it started, the lab hosts' module processes included), each as a ratio to the
baseline's median of the same lab; module executions per host from tests/callback_plugins/podnet_invocations.

    .venv/bin/python benchmarks/oneexec.py --sizes 2,16,64 --rounds 2 --mode vxlan [--json FILE]

Reports, never asserts: the machine is shared and noisy, so only what runs side by side is compared.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402  (benchmarks/run.py)

PATHS = (('strict', ['-e', 'podnet_two_phase=true']), ('one', ['-e', 'podnet_two_phase=false']))


def loadavg():
    return ' '.join(run.dataplane.loadavg())


def measure(ans, n, mode, rounds, lab_prefix):
    lab = run.ScaleLab(ans, '%s-%d' % (lab_prefix, n))
    row = dict(n=n, mode=mode, load_start=loadavg())
    samples = dict(base=[], base_cpu=[])
    try:
        lab.build(n)
        for r in range(rounds):
            base = lab.baseline()
            samples['base'].append(base['wall'])
            samples['base_cpu'].append(base['cpu'])
            for name, extra in (PATHS if r % 2 == 0 else PATHS[::-1]):
                lab.site(mode, extra + ['-e', 'podnet_state=absent'])
                for what in ('first', 'rerun'):
                    res = lab.site(mode, extra)
                    ok = res['rc'] == 0 and (res['changed'] == 0) == (what == 'rerun')
                    samples.setdefault('%s_%s' % (name, what), []).append(res['wall'])
                    samples.setdefault('%s_%s_cpu' % (name, what), []).append(res['cpu'])
                    samples.setdefault('%s_%s_inv' % (name, what), []).append(run.per_host(res['invocations'], run.scale_names(n)))
                    samples.setdefault('%s_%s_ok' % (name, what), []).append(ok)
                    row['%s_%s_tasks' % (name, what)] = res['tasks']  # wall time per task, of the last round
                    run.log('N=%d %s %s: %.1f s wall, %.1f s CPU (baseline %.1f / %.1f)%s' % (
                        n, name, what, res['wall'], res['cpu'], base['wall'], base['cpu'], '' if ok else ' NOT OK'))
    finally:
        lab.teardown()
    row['load_end'] = loadavg()
    row['samples'] = samples
    for key, values in samples.items():
        if not key.endswith(('_ok', '_inv')):
            row[key] = run.med(values)
    for name, _extra in PATHS:
        for what in ('first', 'rerun'):
            key = '%s_%s' % (name, what)
            if row.get(key) is not None and row.get('base'):
                row['r_' + key] = round(row[key] / row['base'], 2)
                row['rc_' + key] = round(row[key + '_cpu'] / row['base_cpu'], 2)
            row[key + '_inv'] = sorted(set(samples.get(key + '_inv', [])))
            row[key + '_ok'] = all(samples.get(key + '_ok', [False]))
    return row


def table(rows):
    lines = ['| N | floor s / CPU s | strict first × (CPU ×) | one first × (CPU ×) | strict re-run × (CPU ×) | '
             'one re-run × (CPU ×) | executions/host strict / one | load start → end |',
             '| ---: | ---: | --- | --- | --- | --- | --- | --- |']
    for r in rows:
        def cell(key):
            return '%.1f s %.2f (%.1f s %.2f)' % (r[key], r['r_' + key], r[key + '_cpu'], r['rc_' + key]) \
                if r.get('r_' + key) is not None else 'n/a'
        lines.append('| %d | %.1f / %.1f | %s | %s | %s | %s | %s / %s | %s → %s |' % (
            r['n'], r['base'], r['base_cpu'], cell('strict_first'), cell('one_first'), cell('strict_rerun'),
            cell('one_rerun'), r['strict_rerun_inv'], r['one_rerun_inv'], r['load_start'], r['load_end']))
    return '\n'.join(lines)


def main(argv=None):
    args = run.size_arguments(__doc__, '2,8,16,32,64', 2, 'oneexec').parse_args(argv)

    def one(n, work):
        row = measure(run.Ansible(work, interpreter=args.interpreter), n, args.mode, args.rounds, args.lab_prefix)
        print(table([row]).splitlines()[-1], flush=True)
        return row
    print(table(run.over_sizes(args, one)))


if __name__ == '__main__':
    main()
