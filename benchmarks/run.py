#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmarks of openkube.podnet: control-plane cost as the cluster grows, data-plane throughput per mode.

    .venv/bin/python benchmarks/run.py            # the full run (make bench), 20-40 minutes
    .venv/bin/python benchmarks/run.py --smoke    # a short smoke (make bench-smoke), about 2-3 minutes

Writes docs/benchmarks/RESULTS.md (tables), docs/benchmarks/*.png (plots) and
docs/benchmarks/results.json (every raw number). Sections (``--sections``):

* ``cp``       control plane: for each N and mode, a fresh lab-scale lab of N hosts; the first converge
               of playbooks/site.yml, a no-change re-run, one host added (lab rebuilt with N+1 hosts, then
               converge); module executions per host (tests/callback_plugins/podnet_invocations); and a
               baseline playbook (one ansible.builtin.ping task) on the same hosts in the same run.
* ``settings`` forks, pipelining, strategy, fact gathering and the apply path, at one N (32).
* ``mem``      time and memory of building and removing a large lab (64 hosts).
* ``dp``       data plane on this machine's kernel (benchmarks/dataplane.py): iperf3 TCP and 64-byte UDP
               between the pods of two hosts, interleaved repetitions, medians, as ratios to the underlay and
               to the same mode configured by hand with iproute2, and the collection's configuration again with
               its firewall chains off (what they cost).
* ``uml``      the same inside User-Mode Linux (Debian 6.1 kernel: host-gw, vxlan and ipip).

Nothing is asserted about speed: the machine is shared and noisy; numbers are reported, with ratios
measured side by side in the same run. Every lab is removed again (try/finally). Lab traffic stays
between lab namespaces; the machine's own network namespace is never changed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
VENV_BIN = os.path.join(REPO, '.venv', 'bin')
sys.path.insert(0, BENCH)

import dataplane  # noqa: E402
import report  # noqa: E402

SCALE_INV = os.path.join(REPO, 'inventories', 'lab-scale')
LAB_PLAYBOOK = os.path.join(REPO, 'playbooks', 'lab.yml')
SITE = os.path.join(REPO, 'playbooks', 'site.yml')
SITE_FACTS = os.path.join(BENCH, 'playbooks', 'site_facts.yml')
BASELINE = os.path.join(BENCH, 'playbooks', 'baseline.yml')


def log(msg):
    sys.stderr.write('[bench %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log('installing benchmarks/requirements.txt into .venv (matplotlib)')
        subprocess.check_call([os.path.join(VENV_BIN, 'python'), '-m', 'pip', 'install', '-q', '-r',
                               os.path.join(BENCH, 'requirements.txt')])


def meminfo():
    out = {}
    with open('/proc/meminfo') as f:
        for line in f:
            key, value = line.split(':', 1)
            out[key] = int(value.split()[0])
    return out


def recap(output):
    result = {}
    for line in output.split('PLAY RECAP', 1)[-1].splitlines()[1:]:
        if ':' not in line or '=' not in line:
            continue
        host, counts = line.split(':', 1)
        try:
            result[host.strip()] = dict((k, int(v)) for k, v in (item.split('=') for item in counts.split()))
        except ValueError:
            continue
    return result


INTERPRETER_HELP = ('the lab hosts\' Python for every run, the floor\'s too (default: the inventory\'s, the controller\'s venv '
                    'with pyroute2 0.9); /usr/bin/python3 runs the modules with the distribution\'s Python and pyroute2')


class Ansible(object):
    """Runs ansible-playbook, measuring wall time, CPU and peak RSS (os.wait4) and reading the callbacks."""

    def __init__(self, workdir, interpreter=None):
        self.workdir = workdir
        self.n = 0
        #: the lab hosts' Python (-e ansible_python_interpreter) for every playbook, floor included; None: the
        #: inventory's (the controller's venv, with its pyroute2)
        self.interpreter = interpreter

    def playbook(self, playbook, inventory, lab_name, hosts=None, extra=(), env=None, timeout=3600):
        self.n += 1
        inv_file = os.path.join(self.workdir, 'inv-%d.json' % self.n)
        tasks_file = os.path.join(self.workdir, 'tasks-%d.json' % self.n)
        e = dict(os.environ)
        e.update({
            'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'),
            'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_CALLBACK_PLUGINS': '%s:%s' % (os.path.join(REPO, 'tests', 'callback_plugins'),
                                                   os.path.join(BENCH, 'callback_plugins')),
            'ANSIBLE_CALLBACKS_ENABLED': 'podnet_invocations,bench_tasks',
            'PODNET_INVOCATIONS_FILE': inv_file, 'BENCH_TASKS_FILE': tasks_file,
            'PATH': VENV_BIN + os.pathsep + os.environ.get('PATH', ''),
        })
        if hosts is not None:
            e['PODNET_LAB_HOSTS'] = str(hosts)
        e.update(env or {})
        cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, playbook,
               '-e', 'podnet_lab_name=' + lab_name] + list(extra)
        if self.interpreter:
            cmd += ['-e', 'ansible_python_interpreter=' + self.interpreter]
        out_path = os.path.join(self.workdir, 'out-%d.log' % self.n)
        start = time.monotonic()
        with open(out_path, 'w') as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=e)
            deadline = start + timeout
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                time.sleep(0.05)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        with open(out_path) as f:
            output = f.read()
        res = dict(wall=round(wall, 3), cpu=round(ru.ru_utime + ru.ru_stime, 3), maxrss_mb=round(ru.ru_maxrss / 1024.0, 1),
                   rc=proc.returncode, recap=recap(output))
        res['changed'] = sum(h.get('changed', 0) for h in res['recap'].values())
        res['failed'] = sum(h.get('failed', 0) + h.get('unreachable', 0) for h in res['recap'].values())
        try:
            with open(inv_file) as f:
                res['invocations'] = json.load(f)
        except (OSError, ValueError):
            res['invocations'] = {}
        try:
            with open(tasks_file) as f:
                res['tasks'] = json.load(f)
        except (OSError, ValueError):
            res['tasks'] = []
        if proc.returncode != 0:
            res['error'] = output[-3000:]
            log('%s failed (rc %d): %s' % (os.path.basename(playbook), proc.returncode, output[-1500:]))
        return res


MEMKEYS = ('MemAvailable', 'MemFree', 'Slab', 'SUnreclaim', 'KernelStack')


def per_host(invocations, hosts):
    vals = [invocations.get(h, 0) for h in hosts]
    return round(sum(vals) / float(len(vals)), 2) if vals else None


def scale_names(n):
    return ['node%03d' % (i + 1) for i in range(n)]


class ScaleLab(object):
    """A lab-scale lab of N hosts, built and removed with playbooks/lab.yml."""

    def __init__(self, ans, name):
        self.ans = ans
        self.name = name
        self.hosts = 0

    def build(self, n):
        res = self.ans.playbook(LAB_PLAYBOOK, SCALE_INV, self.name, hosts=n)
        if res['rc'] != 0:
            raise RuntimeError('lab build of %d hosts failed' % n)
        self.hosts = n
        return res

    def teardown(self):
        res = self.ans.playbook(LAB_PLAYBOOK, SCALE_INV, self.name, hosts=max(self.hosts, 1), extra=['-e', 'lab_state=absent'])
        if res['rc'] != 0 or os.path.exists(os.path.join('/run/podnet', self.name)):
            log('lab %s: teardown by playbook failed, removing it directly' % self.name)
            dataplane.force_teardown(self.name)
        return res

    def site(self, mode, extra=(), env=None, playbook=SITE):
        return self.ans.playbook(playbook, SCALE_INV, self.name, hosts=self.hosts, extra=['-e', 'mode=' + mode] + list(extra), env=env)

    def baseline(self, env=None):
        return self.ans.playbook(BASELINE, SCALE_INV, self.name, hosts=self.hosts, env=env)


def size_arguments(doc, sizes, rounds, lab_prefix):
    """The command line of a benchmark that measures one lab per N (oneexec.py, pertask.py)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sizes', default=sizes)
    p.add_argument('--mode', default='vxlan')
    p.add_argument('--rounds', type=int, default=rounds)
    p.add_argument('--lab-prefix', default=lab_prefix)
    p.add_argument('--json', default=None, help='write the rows (with every sample) to this file')
    p.add_argument('--interpreter', default=None, help=INTERPRETER_HELP)
    return p


def over_sizes(args, measure):
    """measure(n, workdir) for every N of ``args.sizes``, in a scratch folder removed afterwards; the rows are
    written to ``args.json`` after every N, so that a stopped run still reports what it measured."""
    work = tempfile.mkdtemp(prefix='podnet-%s-' % args.lab_prefix, dir='/var/tmp')
    rows = []
    try:
        for n in [int(x) for x in args.sizes.split(',')]:
            rows.append(measure(n, work))
            if args.json:
                with open(args.json, 'w') as f:
                    json.dump(rows, f, indent=1, sort_keys=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def med(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def control_plane(ans, sizes, modes, reruns, results, lab_prefix):
    rows = results.setdefault('control_plane', [])
    for n in sizes:
        for mode in modes:
            lab = ScaleLab(ans, '%s-cp' % lab_prefix)
            row = dict(n=n, mode=mode)
            rows.append(row)  # written after every step, so that a stopped run still reports what it measured
            log('control plane: N=%d mode=%s' % (n, mode))
            try:
                m0 = meminfo()
                b = lab.build(n)
                row['lab_build'] = b['wall']
                row['lab_build_maxrss_mb'] = b['maxrss_mb']
                row['meminfo_kb'] = dict((k, [m0[k], meminfo()[k]]) for k in MEMKEYS)
                base = [lab.baseline()]
                first = lab.site(mode)
                row['first'] = first['wall']
                row['first_cpu'] = first['cpu']
                row['first_changed'] = first['changed']
                row['first_failed'] = first['failed'] + (first['rc'] != 0)
                row['first_tasks'] = first['tasks']
                report.write_all(results)
                row['inv_first'] = per_host(first['invocations'], scale_names(n))
                reruns_res = []
                for i in range(reruns):
                    reruns_res.append(lab.site(mode))
                    base.append(lab.baseline())
                row['rerun'] = med([r['wall'] for r in reruns_res])
                row['rerun_cpu'] = med([r['cpu'] for r in reruns_res])
                row['rerun_changed'] = max(r['changed'] for r in reruns_res)
                row['rerun_tasks'] = reruns_res[0]['tasks']
                report.write_all(results)
                row['inv_rerun'] = per_host(reruns_res[0]['invocations'], scale_names(n))
                row['baseline'] = med([x['wall'] for x in base])
                row['baseline_cpu'] = med([x['cpu'] for x in base])
                row['baseline_all'] = [x['wall'] for x in base]
                grow = lab.build(n + 1)
                row['lab_grow'] = grow['wall']
                report.write_all(results)
                add = lab.site(mode)
                base_add = lab.baseline()
                row['add'] = add['wall']
                row['add_cpu'] = add['cpu']
                row['baseline_add_cpu'] = base_add['cpu']
                row['add_changed'] = add['changed']
                row['inv_add'] = per_host(add['invocations'], scale_names(n + 1))
                row['baseline_add'] = base_add['wall']
                row['maxrss_mb'] = max(first['maxrss_mb'], add['maxrss_mb'])
                row['r_first'] = round(row['first'] / row['baseline'], 2)
                row['r_rerun'] = round(row['rerun'] / row['baseline'], 2)
                row['r_add'] = round(row['add'] / row['baseline_add'], 2)
                row['rc_first'] = round(row['first_cpu'] / row['baseline_cpu'], 2)
                row['rc_rerun'] = round(row['rerun_cpu'] / row['baseline_cpu'], 2)
                row['rc_add'] = round(row['add_cpu'] / row['baseline_add_cpu'], 2)
                row['ok'] = all(r['rc'] == 0 for r in [first, add] + reruns_res + base)
            except Exception as exc:  # report what was measured; go on with the next case
                row['error'] = str(exc)
                log('control plane N=%d %s: %s' % (n, mode, exc))
            finally:
                t = lab.teardown()
                row['lab_teardown'] = t['wall']
                if 'meminfo_kb' in row:
                    m3 = meminfo()
                    for k in MEMKEYS:
                        row['meminfo_kb'][k].append(m3[k])
                report.write_all(results)


SETTINGS = [
    # name, env, extra, playbook
    ('forks=5', {'ANSIBLE_FORKS': '5'}, [], SITE),
    ('forks=20 (default)', {'ANSIBLE_FORKS': '20'}, [], SITE),
    ('forks=64', {'ANSIBLE_FORKS': '64'}, [], SITE),
    ('forks=20, pipelining off', {'ANSIBLE_FORKS': '20', 'ANSIBLE_PIPELINING': 'False'}, [], SITE),
    ('forks=64, pipelining off', {'ANSIBLE_FORKS': '64', 'ANSIBLE_PIPELINING': 'False'}, [], SITE),
    ('forks=20, strategy free', {'ANSIBLE_FORKS': '20', 'ANSIBLE_STRATEGY': 'free'}, [], SITE),
    ('forks=20, facts gathered (min)', {'ANSIBLE_FORKS': '20'}, [], SITE_FACTS),
    ('forks=20, podnet_apply=roles', {'ANSIBLE_FORKS': '20'}, ['-e', 'podnet_apply=roles'], SITE),
    # ansible.cfg sets inject_facts_as_vars = False; this is Ansible's default (until 2.24)
    ('forks=20, facts injected as variables', {'ANSIBLE_FORKS': '20', 'ANSIBLE_INJECT_FACT_VARS': 'True'}, [], SITE),
]


def settings_sweep(ans, n, mode, reps, results, lab_prefix, settings=None):
    settings = SETTINGS if settings is None else settings
    out = results.setdefault('settings', {'n': n, 'mode': mode, 'rows': []})
    out.update(n=n, mode=mode)
    lab = ScaleLab(ans, '%s-set' % lab_prefix)
    log('settings: N=%d mode=%s' % (n, mode))
    samples = dict((s[0], dict(rerun=[], baseline=[], rc=[], changed=[])) for s in settings)
    try:
        lab.build(n)
        first = lab.site(mode)
        out['first'] = first['wall']
        for rep in range(reps):
            order = settings if rep % 2 == 0 else list(reversed(settings))
            for name, env, extra, playbook in order:
                env = dict(env)
                r = lab.site(mode, extra=extra, env=env, playbook=playbook)
                benv = dict((k, v) for k, v in env.items())
                b = lab.baseline(env=benv)
                s = samples[name]
                s['rerun'].append(r['wall'])
                s.setdefault('baseline_cpu', []).append(b['cpu'])
                s['baseline'].append(b['wall'])
                s['rc'].append(r['rc'])
                s['changed'].append(r['changed'])
                s.setdefault('cpu', []).append(r['cpu'])
                s.setdefault('maxrss_mb', []).append(r['maxrss_mb'])
                s['inv'] = per_host(r['invocations'], scale_names(n))
        rows = []
        for name, _env, _extra, _pb in settings:
            s = samples[name]
            rows.append(dict(name=name, rerun=med(s['rerun']), baseline=med(s['baseline']),
                             ratio=round(med(s['rerun']) / med(s['baseline']), 2) if s['rerun'] else None,
                             cpu=med(s.get('cpu', [])), baseline_cpu=med(s.get('baseline_cpu', [])), maxrss_mb=max(s.get('maxrss_mb', [0])),
                             ok=all(rc == 0 for rc in s['rc']) and not any(s['changed']), inv=s.get('inv')))
        out['rows'] = rows
    except Exception as exc:
        out['error'] = str(exc)
        log('settings: %s' % exc)
    finally:
        lab.teardown()
    report.write_all(results)


def memory(ans, n, results, lab_prefix):
    log('memory: lab of %d hosts' % n)
    lab = ScaleLab(ans, '%s-mem' % lab_prefix)
    out = dict(n=n)
    try:
        m0 = meminfo()
        b = lab.build(n)
        time.sleep(1)
        m1 = meminfo()
        out.update(build=b['wall'], build_cpu=b['cpu'], build_maxrss_mb=b['maxrss_mb'])
        s = lab.site('vxlan')
        time.sleep(1)
        m2 = meminfo()
        out.update(converge=s['wall'], converge_cpu=s['cpu'], converge_maxrss_mb=s['maxrss_mb'],
                   converge_changed=s['changed'], converge_failed=s['failed'] + (s['rc'] != 0))
        report.write_all(dict(results, memory=out))
        # a no-change re-run beside Ansible's floor (one ping task per host), each twice, alternating
        for i in range(2):
            for what in (('floor', 'rerun') if i % 2 == 0 else ('rerun', 'floor')):
                res = lab.baseline() if what == 'floor' else lab.site('vxlan')
                out.setdefault(what, []).append(dict(wall=res['wall'], cpu=res['cpu'], maxrss_mb=res['maxrss_mb'],
                                                     changed=res['changed'], failed=res['failed'] + (res['rc'] != 0)))
                log('memory: %s %.1f s wall, %.1f s CPU' % (what, res['wall'], res['cpu']))
    finally:
        t = lab.teardown()
        time.sleep(1)
        m3 = meminfo()
    out.update(teardown=t['wall'], teardown_maxrss_mb=t['maxrss_mb'])
    keys = ('MemAvailable', 'MemFree', 'Slab', 'SUnreclaim', 'KernelStack', 'Percpu')
    out['meminfo_kb'] = dict((k, [m0.get(k), m1.get(k), m2.get(k), m3.get(k)]) for k in keys)
    results['memory'] = out
    report.write_all(results)


def run_uml(results, args, workdir):
    sys.path.insert(0, os.path.join(REPO, 'tests'))
    try:
        from uml.harness import UmlError, run_in_uml, second_kernel
    except Exception as exc:
        results['uml'] = dict(error='cannot import the second-kernel harness: %s' % exc)
        return
    try:
        kernel, why = second_kernel()
    except UmlError as exc:
        results['uml'] = dict(error=str(exc))
        return
    out = os.path.join(workdir, 'uml.json')
    # pyroute2 gives a namespace helper process 2 s to answer: too short in UML on a busy machine
    script = ('export PYTHONDONTWRITEBYTECODE=1 PATH=%s:$PATH PYTHONPATH=%s\n'
              'exec %s %s --guest --modes host-gw,vxlan,ipip --reps %d --tcp-seconds %d --udp-seconds %d --out %s %s\n'
              % (VENV_BIN, os.path.join(BENCH, 'uml_site'), os.path.join(VENV_BIN, 'python'),
                 os.path.join(BENCH, 'dataplane.py'),
                 args.uml_reps, args.uml_tcp_seconds, args.uml_udp_seconds, out, '--hand-only' if args.uml_hand_only else ''))
    log('uml: %s; booting it for the data plane (host-gw, vxlan, ipip)' % why)
    try:
        res = run_in_uml(script, timeout=args.uml_timeout, mem='2G')
        data = {}
        if os.path.exists(out):
            with open(out) as f:
                data = json.load(f)
        data['guest_seconds'] = round(res.seconds, 1)
        data['kernel'] = kernel
        data['guest_rc'] = res.rc
        if res.rc != 0:
            data['error'] = res.output[-3000:]
        results['uml'] = data
    except Exception as exc:
        results['uml'] = dict(error='%s: %s' % (type(exc).__name__, str(exc)[-2000:]))
    report.write_all(results)


SECTION_KEYS = {'cp': 'control_plane', 'settings': 'settings', 'mem': 'memory', 'dp': 'dataplane', 'uml': 'uml'}


def source_runs(meta, data):
    """The runs a results.json holds numbers of: itself, or for a combined one the runs it was combined from
    whose sections it still holds (a section can be left out of a results.json before combining it again)."""
    runs = meta.get('combined_from') or [meta]
    return [m for m in runs if any(SECTION_KEYS.get(s) in data for s in (m.get('sections') or SECTION_KEYS))]


def combine(dirs, out):
    ensure_matplotlib()
    merged = {'meta': {'combined_from': [], 'seconds': 0.0}}
    for d in dirs:
        with open(os.path.join(d, 'results.json')) as f:
            data = json.load(f)
        meta = data.pop('meta', {})
        for run in source_runs(meta, data):
            merged['meta']['combined_from'].append(run)
            merged['meta']['seconds'] += run.get('seconds') or 0
        for key, value in data.items():
            if key == 'control_plane':
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    first = merged['meta']['combined_from'][0] if merged['meta']['combined_from'] else {}
    for key in ('date', 'kernel', 'cpus', 'python', 'ansible', 'iperf3', 'loadavg'):
        merged['meta'][key] = first.get(key)
    merged['meta']['loadavg_end'] = merged['meta']['combined_from'][-1].get('loadavg_end', [])
    merged['meta']['seconds'] = round(merged['meta']['seconds'], 1)
    if merged.get('control_plane'):
        merged['control_plane'].sort(key=lambda r: (r['n'], r['mode']))
    os.makedirs(out, exist_ok=True)
    report.OUT = out
    report.write_all(merged)
    log('combined %d result folders into %s' % (len(dirs), os.path.join(out, 'RESULTS.md')))
    return 0


def _terminate(signum, frame):
    raise SystemExit('stopped by signal %d' % signum)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--smoke', action='store_true', help='a short run (about 2-3 minutes) for CI')
    p.add_argument('--sections', default=None, help='comma list of cp,settings,mem,dp,uml (default: all; smoke: cp,dp)')
    p.add_argument('--sizes', default=None, help='N values for the control plane (default 2,8,32,64; smoke 2,4)')
    p.add_argument('--modes', default=None, help='modes for the control plane (default host-gw,vxlan; smoke vxlan)')
    p.add_argument('--reruns', type=int, default=None, help='no-change re-runs per case (default 2; smoke 1)')
    p.add_argument('--settings-n', type=int, default=None, help='N for the settings sweep (default 32)')
    p.add_argument('--settings-reps', type=int, default=None)
    p.add_argument('--settings-only', default=None, help='comma list of indexes into SETTINGS (default: all)')
    p.add_argument('--mem-n', type=int, default=None, help='hosts of the memory/time lab (default 64; smoke 4)')
    p.add_argument('--dp-modes', default=None, help='data-plane modes on this kernel (default host-gw,vxlan; smoke vxlan)')
    p.add_argument('--dp-reps', type=int, default=None, help='interleaved repetitions (default 5; smoke 1)')
    p.add_argument('--dp-tcp-seconds', type=int, default=None, help='seconds per TCP run (default 5; smoke 1)')
    p.add_argument('--dp-udp-seconds', type=int, default=None, help='seconds per UDP run (default 3; smoke 1)')
    p.add_argument('--uml-reps', type=int, default=3)
    p.add_argument('--uml-tcp-seconds', type=int, default=3)
    p.add_argument('--uml-udp-seconds', type=int, default=2)
    p.add_argument('--uml-timeout', type=int, default=900)
    p.add_argument('--uml-hand-only', action='store_true', help='under UML only the hand-configured modes (no Ansible in the guest)')
    p.add_argument('--out', default=os.path.join(REPO, 'docs', 'benchmarks'), help='output folder')
    p.add_argument('--merge', action='store_true', help='keep sections of an earlier results.json not run now')
    p.add_argument('--lab-prefix', default='bench', help='prefix of the lab names')
    p.add_argument('--interpreter', default=None, help=INTERPRETER_HELP)
    p.add_argument('--combine', nargs='+', metavar='DIR', help='measure nothing: merge the results.json of these '
                   'folders (runs of separate sections) and write the tables and plots into --out')
    args = p.parse_args(argv)
    if args.combine:
        return combine(args.combine, args.out)
    signal.signal(signal.SIGTERM, _terminate)  # so that every lab is removed (finally) when stopped
    smoke = args.smoke

    def pick(value, full, small):
        return value if value is not None else (small if smoke else full)

    sections = pick(args.sections, 'cp,settings,mem,dp,uml', 'cp,dp').split(',')
    sizes = [int(x) for x in pick(args.sizes, '2,8,32,64', '2,4').split(',')]
    modes = pick(args.modes, 'host-gw,vxlan', 'vxlan').split(',')
    reruns = pick(args.reruns, 2, 1)
    dp_modes = pick(args.dp_modes, 'host-gw,vxlan', 'vxlan').split(',')

    if os.geteuid() != 0:
        sys.exit('benchmarks/run.py needs root (the lab builds network namespaces)')
    ensure_matplotlib()
    os.makedirs(args.out, exist_ok=True)
    report.OUT = args.out
    results = {}
    earlier = None  # with --merge: the meta of the results.json merged into (the runs whose sections are kept)
    results_path = os.path.join(args.out, 'results.json')
    if args.merge and os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
        for key in ('control_plane',) if 'cp' in sections else ():
            results.pop(key, None)
        earlier = results.pop('meta', None)
    results['meta'] = dict(
        date=datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), smoke=smoke, sections=sections,
        kernel=platform.release(), cpus=os.cpu_count(), python=platform.python_version(),
        ansible=subprocess.run([os.path.join(VENV_BIN, 'ansible'), '--version'], capture_output=True, text=True, check=False).stdout.splitlines()[0],
        iperf3=subprocess.run(['iperf3', '--version'], capture_output=True, text=True, check=False).stdout.splitlines()[0] if shutil.which('iperf3') else None,
        loadavg=dataplane.loadavg(),
        command=' '.join(['benchmarks/run.py'] + (argv if argv is not None else sys.argv[1:])),
    )
    workdir = tempfile.mkdtemp(prefix='podnet-bench-', dir='/var/tmp')
    ans = Ansible(workdir, interpreter=args.interpreter)
    start = time.monotonic()
    try:
        if 'cp' in sections:
            results['control_plane'] = []
            control_plane(ans, sizes, modes, reruns, results, args.lab_prefix)
        if 'settings' in sections:
            results.pop('settings', None)
            settings_sweep(ans, pick(args.settings_n, 32, 4), 'vxlan', pick(args.settings_reps, 1, 1), results, args.lab_prefix,
                           settings=[SETTINGS[int(i)] for i in args.settings_only.split(',')] if args.settings_only else SETTINGS)
        if 'mem' in sections:
            memory(ans, pick(args.mem_n, 64, 4), results, args.lab_prefix)
        if 'dp' in sections:
            results['dataplane'] = dataplane.run_host(
                ans, modes=dp_modes, reps=pick(args.dp_reps, 5, 1), tcp_seconds=pick(args.dp_tcp_seconds, 5, 1),
                udp_seconds=pick(args.dp_udp_seconds, 3, 1), lab_prefix=args.lab_prefix, log=log,
                variants=('collection', 'hand') if args.smoke else ('collection', 'collection, no firewall', 'hand'))
            report.write_all(results)
        if 'uml' in sections:
            run_uml(results, args, workdir)
    finally:
        results['meta']['seconds'] = round(time.monotonic() - start, 1)
        results['meta']['loadavg_end'] = dataplane.loadavg()
        if earlier:
            # the sections kept from earlier runs keep their provenance: RESULTS.md lists every run it holds
            kept = dict((k, v) for k, v in results.items() if k != 'meta' and k not in [SECTION_KEYS.get(x) for x in sections])
            runs = source_runs(earlier, kept) + [dict(results['meta'])]
            results['meta'] = dict(results['meta'], combined_from=runs, seconds=round(sum(r.get('seconds') or 0 for r in runs), 1))
        report.write_all(results)
        shutil.rmtree(workdir, ignore_errors=True)
    log('done in %.0f s: %s' % (time.monotonic() - start, os.path.join(args.out, 'RESULTS.md')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
