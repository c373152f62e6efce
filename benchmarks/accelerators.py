#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Issue 19, item 4: Ansible's own accelerators on the booted machines (inventories/lab-machines, over SSH and sudo).

One lab of N booted Debian machines (a copy of inventories/lab-machines with worker2 .. worker<N+1>), then, round after
round, for every setting (the order rotates each round): the floor (one ping task per host,
benchmarks/playbooks/baseline.yml), an unmeasured ``podnet_state=absent``, a first converge of ``playbooks/site.yml``
and a no-change re-run. Settings are chosen as a user would, through Ansible's environment: strategy ``linear`` (the
baseline), ``free``, mitogen's ``mitogen_linear`` and ``mitogen_free`` (``ANSIBLE_STRATEGY_PLUGINS`` pointing into
the installed mitogen, ``ANSIBLE_STRATEGY``), and ``linear`` with pipelining off. Medians of wall time and of
controller CPU (ansible-playbook and every process it started and reaped: workers, ssh, mitogen's multiplexer;
os.wait4), each as a ratio to linear's median of the same kind. The machines' own CPU is not counted.

    .venv/bin/python benchmarks/accelerators.py --hosts 4 --rounds 5 [--mitogen DIR] [--json FILE]

mitogen is a controller-side package: ``pip install mitogen`` into the Python that runs Ansible, or ``--mitogen DIR``
for a folder holding ``ansible_mitogen`` (``pip install --target DIR mitogen``). Reports, never asserts speed: the
machine is shared and noisy; a run whose result is wrong (a failure, a first converge that changed nothing, a re-run
that changed something) is marked NOT OK in the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import uuid

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402  (benchmarks/run.py)

MACHINES_INV = os.path.join(run.REPO, 'inventories', 'lab-machines')


def mitogen_strategy_dir(folder=None):
    """The folder of mitogen's strategy plugins (what ansible.cfg's strategy_plugins names)."""
    if folder:
        sys.path.insert(0, folder)
    try:
        import ansible_mitogen
    except ImportError:
        return None
    return os.path.join(os.path.dirname(ansible_mitogen.__file__), 'plugins', 'strategy')


def settings(strategy_dir, names, timeout=None):
    table = {
        'linear': {'ANSIBLE_STRATEGY': 'linear'},
        'free': {'ANSIBLE_STRATEGY': 'free'},
        'linear_nopipe': {'ANSIBLE_STRATEGY': 'linear', 'ANSIBLE_PIPELINING': 'False'},
    }
    if strategy_dir:
        for s in ('mitogen_linear', 'mitogen_free'):
            table[s] = {'ANSIBLE_STRATEGY_PLUGINS': strategy_dir, 'ANSIBLE_STRATEGY': s}
    if timeout:  # Ansible's connection timeout (default 10 s), the same for every setting
        for env in table.values():
            env['ANSIBLE_TIMEOUT'] = str(timeout)
    missing = [n for n in names if n not in table]
    if missing:
        raise SystemExit('unknown or unavailable settings: %s (mitogen found: %s)' % (', '.join(missing), bool(strategy_dir)))
    return [(n, table[n]) for n in names]


def machines_inventory(path, n):
    """A copy of inventories/lab-machines with N machines worker2 .. worker<N+1> on its segment; every machine but
    worker3 has Debian's python3-pyroute2 (worker3 gets it from the role's rescue, as in the original)."""
    shutil.copytree(MACHINES_INV, path)
    hosts = {}
    for i in range(n):
        name = 'worker%d' % (i + 2)
        hosts[name] = dict(podnet_node_ip='10.57.4.%d' % (20 + i), podnet_node_ip6='fd57:4::%d' % (20 + i),
                           podnet_pod_cidr='192.168.%d.0/24' % (10 + i))
        if name != 'worker3':
            hosts[name]['podnet_lab_pyroute2'] = True
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        yaml.safe_dump({'podnet_lab': {'children': {'podnet_nodes': {'hosts': hosts}}}}, f)
    return path


def loadavg():
    return ' '.join(run.dataplane.loadavg())


class MachinesLab(object):
    def __init__(self, ans, name, inventory):
        self.ans, self.name, self.inventory = ans, name, inventory

    def build(self):
        res = self.ans.playbook(run.LAB_PLAYBOOK, self.inventory, self.name)
        if res['rc'] != 0:
            raise RuntimeError('lab %s: build failed' % self.name)

    def teardown(self):
        res = self.ans.playbook(run.LAB_PLAYBOOK, self.inventory, self.name, extra=['-e', 'lab_state=absent'])
        if res['rc'] != 0:
            run.log('lab %s: teardown failed (rc %d); remove it with playbooks/lab.yml -e lab_state=absent'
                    % (self.name, res['rc']))
        return res

    def site(self, mode, extra=(), env=None):
        return self.ans.playbook(run.SITE, self.inventory, self.name, extra=['-e', 'mode=' + mode] + list(extra), env=env)

    def floor(self, env=None):
        return self.ans.playbook(run.BASELINE, self.inventory, self.name, env=env)


def measure(lab, mode, rounds, chosen):
    samples = {}
    for r in range(rounds):
        order = chosen[r % len(chosen):] + chosen[:r % len(chosen)]  # rotate: each setting leads once
        for name, env in order:
            res = {'floor': lab.floor(env)}
            lab.site(mode, ['-e', 'podnet_state=absent'], env)
            res['first'] = lab.site(mode, (), env)
            res['rerun'] = lab.site(mode, (), env)
            for what, x in res.items():
                ok = x['rc'] == 0 and (what == 'floor' or (x['changed'] == 0) == (what == 'rerun'))
                for key, value in (('wall', x['wall']), ('cpu', x['cpu']), ('ok', ok)):
                    samples.setdefault(name, {}).setdefault(what, {}).setdefault(key, []).append(value)
                run.log('round %d %s %s: %.1f s wall, %.1f s CPU%s' % (r + 1, name, what, x['wall'], x['cpu'],
                                                                       '' if ok else ' NOT OK'))
    return samples


def summarise(samples):
    rows = {}
    for name, kinds in samples.items():
        rows[name] = dict((what, dict(wall=run.med(v['wall']), cpu=run.med(v['cpu']), ok=all(v['ok'])))
                          for what, v in kinds.items())
    base = rows.get('linear')
    for name, row in rows.items():
        for what, m in row.items():
            if base:
                m['x_wall'] = round(m['wall'] / base[what]['wall'], 2)
                m['x_cpu'] = round(m['cpu'] / base[what]['cpu'], 2)
            if what != 'floor':  # the ratio: to the floor of the same setting
                m['floor_wall'] = round(m['wall'] / row['floor']['wall'], 2)
                m['floor_cpu'] = round(m['cpu'] / row['floor']['cpu'], 2)
    return rows


def table(rows):
    lines = ['| setting | floor s / CPU s | first converge s / CPU s | re-run s / CPU s | × linear (CPU): floor / first / re-run '
             '| × own floor (CPU): first / re-run |',
             '| --- | ---: | ---: | ---: | --- | --- |']
    for name, row in rows.items():
        def cell(what):
            m = row[what]
            return '%.1f / %.1f%s' % (m['wall'], m['cpu'], '' if m['ok'] else ' NOT OK')
        lines.append('| %s | %s | %s | %s | %s | %s |' % (
            name, cell('floor'), cell('first'), cell('rerun'),
            ' / '.join('%.2f' % row[w].get('x_cpu', 0) for w in ('floor', 'first', 'rerun')),
            ' / '.join('%.2f' % row[w]['floor_cpu'] for w in ('first', 'rerun'))))
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--hosts', type=int, default=4, help='booted machines (default 4)')
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--mode', default='vxlan')
    p.add_argument('--settings', default='linear,free,mitogen_linear,mitogen_free,linear_nopipe')
    p.add_argument('--mitogen', default=None, help='a folder holding ansible_mitogen (pip install --target DIR mitogen)')
    p.add_argument('--timeout', type=int, default=None,
                   help="Ansible's connection timeout for every setting (ANSIBLE_TIMEOUT; Ansible's default is 10 s)")
    p.add_argument('--lab', default=None, help='the lab name (at most 8 characters; default: acc + random)')
    p.add_argument('--json', default=None, help='write the medians and every sample to this file')
    args = p.parse_args(argv)
    # SIGTERM (and SIGINT, which a background shell job ignores) end the run through the finally below: lab removed
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: sys.exit('stopped by signal %d' % signum))
    chosen = settings(mitogen_strategy_dir(args.mitogen), args.settings.split(','), args.timeout)
    name = args.lab or 'acc' + uuid.uuid4().hex[:5]
    work = tempfile.mkdtemp(prefix='podnet-accel-', dir='/var/tmp')
    ans = run.Ansible(work)
    lab = MachinesLab(ans, name, machines_inventory(os.path.join(work, 'inventory'), args.hosts))
    out = dict(hosts=args.hosts, mode=args.mode, rounds=args.rounds, lab=name, timeout=args.timeout, load_start=loadavg())
    try:
        lab.build()
        warm = lab.site(args.mode)  # worker3's pyroute2 through the rescue; not measured
        if warm['rc'] != 0:
            raise RuntimeError('the first converge failed')
        out['samples'] = measure(lab, args.mode, args.rounds, chosen)
    finally:
        lab.teardown()
        out['load_end'] = loadavg()
        shutil.rmtree(work, ignore_errors=True)
    out['rows'] = summarise(out['samples'])
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1, sort_keys=True)
    print('%d machines, %s, %d rounds, connection timeout %s, load %s -> %s' % (
        args.hosts, args.mode, args.rounds, args.timeout or 'default', out['load_start'], out['load_end']))
    print(table(out['rows']))


if __name__ == '__main__':
    main()
