#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""A/B of the control plane: the collection at another revision (A) against the working tree (B).

One lab-scale lab of N hosts is built and converged once; then, round after round, a ping baseline,
a no-change re-run of ``playbooks/site.yml`` with A and one with B (the order alternates every round),
all on the same hosts. Medians of wall time and of controller CPU (ansible-playbook and every process
it started, the lab hosts' module processes included), each as a ratio to the baseline's median, and
B against A. A is ``git archive REV`` unpacked into a scratch collection path; its own
``playbooks/site.yml`` runs with ``ANSIBLE_COLLECTIONS_PATH`` pointing there.

    .venv/bin/python benchmarks/ab.py --base HEAD~2 --n 32 --mode vxlan --rounds 6

Reports, never asserts: the machine is shared and noisy, so only what runs side by side is compared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402  (benchmarks/run.py)


def export(rev, dest):
    """The collection as it was at ``rev``, under dest/ansible_collections/openkube/podnet."""
    tree = os.path.join(dest, 'ansible_collections', 'openkube', 'podnet')
    os.makedirs(tree)
    archive = subprocess.run(['git', '-C', run.REPO, 'archive', rev], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', tree], input=archive, check=True)
    return tree


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--base', required=True, help='git revision of A')
    p.add_argument('--n', type=int, default=32, help='lab hosts (default 32)')
    p.add_argument('--mode', default='vxlan')
    p.add_argument('--rounds', type=int, default=6)
    p.add_argument('--lab-prefix', default='ab')
    args = p.parse_args(argv)

    work = tempfile.mkdtemp(prefix='podnet-ab-', dir='/var/tmp')
    ans = run.Ansible(work)
    lab = run.ScaleLab(ans, '%s-%d' % (args.lab_prefix, args.n))
    samples = dict(baseline=[], A=[], B=[])
    try:
        tree_a = export(args.base, os.path.join(work, 'a'))
        env_a = {'ANSIBLE_COLLECTIONS_PATH': os.path.join(work, 'a')}
        site_a = os.path.join(tree_a, 'playbooks', 'site.yml')
        lab.build(args.n)
        first = lab.site(args.mode)
        if first['rc'] != 0:
            raise RuntimeError('first converge with B failed')
        check = lab.site(args.mode, env=env_a, playbook=site_a)
        run.log('A after B converged: changed=%d failed=%d' % (check['changed'], check['failed']))
        for r in range(args.rounds):
            order = ('A', 'B') if r % 2 == 0 else ('B', 'A')
            samples['baseline'].append(lab.baseline())
            for which in order:
                res = lab.site(args.mode, env=env_a, playbook=site_a) if which == 'A' else lab.site(args.mode)
                if res['rc'] != 0 or res['changed']:
                    raise RuntimeError('%s re-run: rc %d, changed %d' % (which, res['rc'], res['changed']))
                samples[which].append(res)
            run.log('round %d: baseline %.1f s, A %.1f s, B %.1f s' % (
                r + 1, samples['baseline'][-1]['wall'], samples['A'][-1]['wall'], samples['B'][-1]['wall']))
    finally:
        lab.teardown()
        shutil.rmtree(work, ignore_errors=True)

    print('\nA = %s, B = working tree; %d hosts, mode %s, %d rounds (load average now %s)\n'
          % (args.base, args.n, args.mode, args.rounds, ' '.join('%.2f' % x for x in os.getloadavg())))
    print('| run | wall s (median) | × baseline | CPU s (median) | × baseline |')
    print('| --- | ---: | ---: | ---: | ---: |')
    base = dict((k, run.med([s[k] for s in samples['baseline']])) for k in ('wall', 'cpu'))
    for which in ('baseline', 'A', 'B'):
        m = dict((k, run.med([s[k] for s in samples[which]])) for k in ('wall', 'cpu'))
        print('| %s | %.1f | %.2f | %.1f | %.2f |' % (which, m['wall'], m['wall'] / base['wall'], m['cpu'], m['cpu'] / base['cpu']))
    a = dict((k, run.med([s[k] for s in samples['A']])) for k in ('wall', 'cpu'))
    b = dict((k, run.med([s[k] for s in samples['B']])) for k in ('wall', 'cpu'))
    print('\nB / A: wall %.2f, CPU %.2f' % (b['wall'] / a['wall'], b['cpu'] / a['cpu']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
