# -*- coding: utf-8 -*-
"""Writes docs/benchmarks/RESULTS.md, the PNG plots and results.json from the benchmark's results."""

from __future__ import annotations

import json
import os
import statistics

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs', 'benchmarks')


def _f(value, fmt='%.1f'):
    return '—' if value is None else fmt % value


def _goal(ok):
    return 'met' if ok else '**not met**'


def control_plane_md(rows):
    lines = ['## Control plane', '',
             'Wall time of `ansible-playbook playbooks/site.yml -e mode=M` on a fresh lab-scale lab of N hosts, and the '
             'baseline (`benchmarks/playbooks/baseline.yml`: one `ansible.builtin.ping` task per host) on the same hosts '
             'in the same run (median of the baselines taken before and between the re-runs; after the host is added, '
             'a baseline on the N+1 hosts). Ratios are to that baseline. Invocations: module executions per host '
             '(tests/callback_plugins/podnet_invocations). Settings: ansible.cfg (forks 20, pipelining on, gathering explicit, '
             'facts not injected as variables).', '',
             '| N | mode | baseline s | first converge s (×) | no-change re-run s (×) | +1 host s (×) '
             '| invocations/host first / re-run / +1 | changed on re-run | peak RSS MB |',
             '| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |']
    for r in rows:
        if 'error' in r and 'r_add' not in r:
            lines.append('| %d | %s | failed: %s |' % (r['n'], r['mode'], r['error'][:80]))
            continue
        lines.append('| %d | %s | %s | %s (%s) | %s (%s) | %s (%s) | %s / %s / %s | %s | %s |' % (
            r['n'], r['mode'], _f(r.get('baseline')), _f(r.get('first')), _f(r.get('r_first'), '%.2f'),
            _f(r.get('rerun')), _f(r.get('r_rerun'), '%.2f'), _f(r.get('add')), _f(r.get('r_add'), '%.2f'),
            _f(r.get('inv_first'), '%g'), _f(r.get('inv_rerun'), '%g'), _f(r.get('inv_add'), '%g'),
            r.get('rerun_changed', '—'), _f(r.get('maxrss_mb'), '%.0f')))
    cpu = [r for r in rows if r.get('rc_add') is not None]
    if cpu:
        lines += ['', 'The same runs in controller CPU seconds (user+sys of ansible-playbook and every process it started, from '
                  '`wait4`): on a machine shared with other work, wall time stretches with the load, CPU time much less.', '',
                  '| N | mode | baseline CPU s | first converge CPU s (×) | re-run CPU s (×) | +1 host CPU s (×) |',
                  '| ---: | --- | ---: | ---: | ---: | ---: |']
        for r in cpu:
            lines.append('| %d | %s | %s | %s (%s) | %s (%s) | %s (%s) |' % (
                r['n'], r['mode'], _f(r.get('baseline_cpu')), _f(r.get('first_cpu')), _f(r.get('rc_first'), '%.2f'),
                _f(r.get('rerun_cpu')), _f(r.get('rc_rerun'), '%.2f'), _f(r.get('add_cpu')), _f(r.get('rc_add'), '%.2f')))
    mem = [r for r in rows if r.get('meminfo_kb')]
    if mem:
        lines += ['', 'Lab build and teardown per case (`playbooks/lab.yml`; kernel memory from /proc/meminfo, change in MB '
                  'against before the build; other work on the machine moves these numbers too):', '',
                  '| N | mode | build s | peak RSS of the build MB | teardown s | MemAvailable after build | Slab after build '
                  '| SUnreclaim after build | MemAvailable after teardown | Slab after teardown |',
                  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
        for r in mem:
            mi = r['meminfo_kb']

            def d(key, i, mi=mi):
                v = mi.get(key) or []
                return '%+.1f' % ((v[i] - v[0]) / 1024.0) if len(v) > i else '—'
            lines.append('| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                r['n'], r['mode'], _f(r.get('lab_build')), _f(r.get('lab_build_maxrss_mb'), '%.0f'), _f(r.get('lab_teardown')),
                d('MemAvailable', 1), d('Slab', 1), d('SUnreclaim', 1), d('MemAvailable', 2), d('Slab', 2)))
    ok = [r for r in rows if 'r_add' in r]
    if ok:
        invs = set((r['inv_first'], r['inv_rerun']) for r in ok)
        lines += ['', 'Goals (reported, never asserted):', '',
                  '- module invocations per host constant in N: %s (first/re-run per host seen: %s)' % (
                      _goal(len(set(r['inv_first'] for r in ok)) == 1 and len(set(r['inv_rerun'] for r in ok)) == 1),
                      ', '.join('%g/%g' % x for x in sorted(invs))),
                  '- no-change re-run within 3 × baseline: %s (worst %.2f×)' % (
                      _goal(all(r['r_rerun'] <= 3 for r in ok)), max(r['r_rerun'] for r in ok)),
                  '- first converge within 5 × baseline: %s (worst %.2f×)' % (
                      _goal(all(r['r_first'] <= 5 for r in ok)), max(r['r_first'] for r in ok))]
        if cpu:
            lines += ['- in controller CPU: re-run within 3 ×: %s (worst %.2f×); first converge within 5 ×: %s (worst %.2f×)' % (
                _goal(all(r['rc_rerun'] <= 3 for r in cpu)), max(r['rc_rerun'] for r in cpu),
                _goal(all(r['rc_first'] <= 5 for r in cpu)), max(r['rc_first'] for r in cpu))]
        big = max(ok, key=lambda r: (r['n'], r['mode']))
        for key, what, wall, cpu_key in (('first_tasks', 'the first converge', 'first', 'first_cpu'),
                                         ('rerun_tasks', 'the no-change re-run', 'rerun', 'rerun_cpu')):
            lines += task_breakdown(big, key, what, wall, cpu_key)
    return lines


def task_breakdown(row, key, what, wall, cpu_key):
    """Per-task wall time of one run (benchmarks/callback_plugins/bench_tasks), largest first."""
    tasks, actions = {}, {}
    for name, action, secs in row.get(key) or []:
        tasks[name] = tasks.get(name, 0) + secs
        actions[name] = action.split('.')[-1]
    if not tasks or not row.get(wall):
        return []
    total = sum(tasks.values())
    lines = ['', 'Where %s at N=%d (%s) spends its %.1f s (per task, wall time; `benchmarks/callback_plugins/bench_tasks`; '
             '%d tasks in the play):' % (what, row['n'], row['mode'], row[wall], len(tasks)), '',
             '| task | action | s | share |', '| --- | --- | ---: | ---: |']
    for name, secs in sorted(tasks.items(), key=lambda x: -x[1])[:8]:
        lines.append('| %s | %s | %.2f | %.0f%% |' % (name.replace('|', '/'), actions[name], secs, 100.0 * secs / total if total else 0))
    lines.append('| (playbook start-up, inventory, end) | | %.2f | |' % max(0.0, row[wall] - total))
    lines += ['', 'Controller CPU of that run: %.1f s (user+sys of ansible-playbook and its workers, which include the lab '
              'hosts\' module processes) for %.1f s of wall time (the machine has 2 cores); baseline CPU %.1f s.' % (
                  row.get(cpu_key) or 0, row[wall], row.get('baseline_cpu') or 0)]
    return lines


def settings_md(s):
    lines = ['## Ansible settings (N=%s, mode %s, no-change re-run)' % (s.get('n'), s.get('mode')), '']
    if s.get('error') and not s.get('rows'):
        return lines + ['Failed: %s' % s['error']]
    lines += ['Each setting: a no-change re-run of site.yml and the ping baseline under the same setting '
              '(ANSIBLE_FORKS, ANSIBLE_PIPELINING, ANSIBLE_STRATEGY; "facts gathered" runs '
              '`benchmarks/playbooks/site_facts.yml`, a min-subset fact gathering play before site.yml; '
              '`podnet_apply=roles` applies the plan with the per-object modules instead of one `converge` execution).', '',
              '| setting | re-run s | baseline s | ratio | re-run CPU s | baseline CPU s | peak RSS MB | invocations/host '
              '| ok (rc 0, no change) |',
              '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    rows = s.get('rows', [])
    for r in rows:
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            r['name'], _f(r['rerun']), _f(r['baseline']), _f(r['ratio'], '%.2f'), _f(r.get('cpu')), _f(r.get('baseline_cpu')),
            _f(r.get('maxrss_mb'), '%.0f'), _f(r.get('inv'), '%g'), 'yes' if r['ok'] else '**no**'))
    good = [r for r in rows if r['ok'] and r['rerun']]
    if good:
        best = min(good, key=lambda r: r['rerun'])
        cheap = min((r for r in good if r.get('cpu')), key=lambda r: r['cpu'], default=best)
        lines += ['', 'Fastest wall time that worked: **%s** (%.1f s); least controller CPU: **%s** (%.1f s). With one '
                  'repetition per setting on a loaded machine, wall-time differences under about 2× are within the noise '
                  '(compare each setting\'s own baseline); CPU time is the steadier measure.' % (
                      best['name'], best['rerun'], cheap['name'], cheap['cpu'])]
    return lines


def _rerun_md(m):
    """The no-change re-runs beside the ping floor (medians), when the run measured them."""
    if not m.get('rerun') or not m.get('floor'):
        return []
    med = dict((what, dict((k, statistics.median(r[k] for r in m[what])) for k in ('wall', 'cpu', 'maxrss_mb')))
               for what in ('floor', 'rerun'))
    rerun, floor = med['rerun'], med['floor']
    summary = ('Controller CPU (ansible-playbook and every process it started): first converge %s s, no-change re-run '
               '%s s, floor %s s; re-run / floor **%.2f** (CPU), %.2f (wall); first converge / floor %.2f (CPU). '
               'Re-runs changed %s.' % (_f(m.get('converge_cpu')), _f(rerun['cpu']), _f(floor['cpu']),
                                        rerun['cpu'] / floor['cpu'], rerun['wall'] / floor['wall'],
                                        (m.get('converge_cpu') or 0) / floor['cpu'],
                                        sorted(set(r['changed'] for r in m['rerun']))))
    return ['| no-change re-run (median of %d) | %s | %s |' % (len(m['rerun']), _f(rerun['wall']), _f(rerun['maxrss_mb'], '%.0f')),
            '| Ansible\'s floor, one ping task per host (median of %d) | %s | %s |' % (
                len(m['floor']), _f(floor['wall']), _f(floor['maxrss_mb'], '%.0f')),
            '', summary]


def memory_md(m):
    mi = m.get('meminfo_kb', {})

    def d(key, a, b):
        v = mi.get(key)
        if not v or v[a] is None or v[b] is None:
            return '—'
        return '%+.1f' % ((v[b] - v[a]) / 1024.0)
    return ['## A %d-host lab: time and memory' % m['n'], '',
            '| step | wall s | peak RSS of ansible-playbook MB |', '| --- | ---: | ---: |',
            '| build (playbooks/lab.yml) | %s | %s |' % (_f(m.get('build')), _f(m.get('build_maxrss_mb'), '%.0f')),
            '| first converge (site.yml, vxlan) | %s | %s |' % (_f(m.get('converge')), _f(m.get('converge_maxrss_mb'), '%.0f')),
            '| teardown (lab_state=absent) | %s | %s |' % (_f(m.get('teardown')), _f(m.get('teardown_maxrss_mb'), '%.0f'))
            ] + _rerun_md(m) + [
        '', 'Kernel memory from /proc/meminfo, change in MB:', '',
            '| field | after build | after converge | after teardown (vs before) |', '| --- | ---: | ---: | ---: |'] + [
        '| %s | %s | %s | %s |' % (k, d(k, 0, 1), d(k, 0, 2), d(k, 0, 3)) for k in sorted(mi)]


def dataplane_md(dp, title, unit_note):
    lines = ['## %s' % title, '']
    if not dp:
        return lines + ['Not run.']
    if dp.get('error') and not dp.get('rows'):
        return lines + ['Failed: %s' % dp['error'][-1500:]]
    lines += [unit_note % dp, '',
              '| path | TCP Gbit/s | × underlay | × by hand | 64-byte UDP kpps received | × underlay | × by hand | pod MTU |',
              '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for r in dp['rows']:
        link = dp.get('links', {}).get(r['config'], {})
        lines.append('| %s | %.3f | %.2f | %s | %.1f | %.2f | %s | %s |' % (
            r['config'], r['tcp'], r['r_tcp_underlay'], _f(r.get('r_tcp_hand'), '%.2f'), r['udp'], r['r_udp_underlay'],
            _f(r.get('r_udp_hand'), '%.2f'), link.get('pod_eth0_mtu', '—' if r['mode'] != 'underlay' else '1500 (eth0)')))
    col = dict((r['mode'], r) for r in dp['rows'] if r.get('kind') == 'collection')
    goals = ['', 'Goals (reported, never asserted):', '']
    if 'host-gw' in col:
        ratio = col['host-gw']['r_tcp_underlay']
        goals.append('- host-gw ≥ 0.95 of the underlay (TCP): %s (%.2f)' % (_goal(ratio >= 0.95), ratio))
    for kind, which, best in (('collection', '', 'its hand-configured best'),
                              ('collection, no firewall', ' with the firewall chains off (the hand configuration has none),', 'hand')):
        for r in sorted((r for r in dp['rows'] if r.get('kind') == kind), key=lambda r: r['mode']):
            goals.append('- %s%s ≥ 0.97 of %s: TCP %s (%.2f), small packets %s (%.2f)' % (
                r['mode'], which, best, _goal(r['r_tcp_hand'] >= 0.97), r['r_tcp_hand'], _goal(r['r_udp_hand'] >= 0.97), r['r_udp_hand']))
    if 'ipip' in col and 'vxlan' in col:
        goals.append('- vxlan / ipip (collection, TCP): %.2f (the reference setup says about 0.8)' % (col['vxlan']['tcp'] / col['ipip']['tcp']))
    hand = dict((r['mode'], r) for r in dp['rows'] if r.get('kind') == 'hand')
    if 'ipip' in hand and 'vxlan' in hand:
        goals.append('- vxlan / ipip (by hand): TCP %.2f, small packets %.2f (the reference setup says about 0.8)' % (
            hand['vxlan']['tcp'] / hand['ipip']['tcp'], hand['vxlan']['udp'] / hand['ipip']['udp']))
    if not col:
        goals.append('- the collection\'s own configuration was not measured in this run (by hand only: '
                     '`--uml-hand-only`), so its goals are not judged here')
    samples = dp.get('samples') or {}
    if samples.get('underlay'):
        import statistics

        def paired(name, ref, kind):
            a, b = samples.get(name, {}).get(kind, []), samples.get(ref, {}).get(kind, [])
            vals = [x / y for x, y in zip(a, b) if y]
            return '%.2f' % statistics.median(vals) if vals else '—'
        goals += ['', 'Paired ratios (median over repetitions of the ratio inside one repetition, which cancels slow changes '
                  'of the machine\'s load):', '',
                  '| path | TCP × underlay | TCP × by hand | UDP × underlay | UDP × by hand |', '| --- | ---: | ---: | ---: | ---: |']
        for r in dp['rows']:
            if r['mode'] == 'underlay':
                continue
            hand = '%s (hand)' % r['mode'] if r.get('kind') not in (None, 'hand') else None
            goals.append('| %s | %s | %s | %s | %s |' % (
                r['config'], paired(r['config'], 'underlay', 'tcp'), paired(r['config'], hand, 'tcp') if hand else '—',
                paired(r['config'], 'underlay', 'udp'), paired(r['config'], hand, 'udp') if hand else '—'))
    spread = []
    for r in dp['rows']:
        if r['tcp_all']:
            spread.append('%s %s' % (r['config'], '/'.join('%.2f' % x for x in r['tcp_all'])))
    return lines + goals + ['', 'Every TCP sample (Gbit/s, in measuring order): ' + '; '.join(spread) + '.']


def markdown(results):
    meta = results.get('meta', {})
    lines = ['# Benchmark results', '',
             'Written by `benchmarks/run.py`%s on %s: kernel %s, %s CPUs, Python %s, %s, %s; load average %s at the start, %s at the end; %s s in all.' % (
                 ' --smoke' if meta.get('smoke') else '', meta.get('date'), meta.get('kernel'), meta.get('cpus'), meta.get('python'),
                 meta.get('ansible'), meta.get('iperf3'), '/'.join(meta.get('loadavg', [])), '/'.join(meta.get('loadavg_end', [])),
                 meta.get('seconds')),
             '', 'Reproduce: `make bench` (the full run, 20-40 minutes) or `make bench-smoke` (about 3 minutes); see '
             '[README.md](README.md). The machine is shared and noisy: every ratio is measured side by side in the same run, '
             'and nothing here is asserted by a test. Raw numbers: [results.json](results.json).', '']
    if meta.get('combined_from'):
        lines += ['Combined (`benchmarks/run.py --combine`) from these runs on the same machine (every ratio comes from within one run):', '']
        for m in meta['combined_from']:
            lines.append('- `%s` at %s, %s s, load average %s → %s' % (
                m.get('command'), m.get('date'), m.get('seconds'), '/'.join(m.get('loadavg', [])), '/'.join(m.get('loadavg_end', []))))
        lines.append('')
    if results.get('control_plane'):
        lines += control_plane_md(results['control_plane']) + ['', '![control plane](control_plane.png)', '']
    if results.get('settings'):
        lines += settings_md(results['settings']) + ['', '![settings](settings.png)', '']
    if results.get('memory'):
        lines += memory_md(results['memory']) + ['']
    if results.get('dataplane') is not None:
        lines += dataplane_md(results['dataplane'], "Data plane on this machine's kernel",
                              'worker2 ns1 → worker3 ns1 (underlay: worker2 eth0 → worker3 eth0), %(reps)d interleaved repetitions of '
                              '`iperf3 -t %(tcp_seconds)d` (TCP) and `iperf3 -u -l 64 -b 0 -t %(udp_seconds)d`; medians. '
                              '"by hand": the same mode configured with iproute2 in a second lab of the same shape; "no firewall": the '
                              'collection with podnet_encap_filter=false podnet_forward_accept=false in a third (the hand '
                              'configuration has no iptables chains).') + \
            ['', '![data plane](dataplane.png)', '']
    if results.get('uml') is not None:
        u = results['uml']
        note = ('Inside User-Mode Linux (kernel %s, one boot, %s s in the guest): the same measurement, %%(reps)d interleaved '
                'repetitions of %%(tcp_seconds)d s TCP and %%(udp_seconds)d s UDP. UML runs the whole guest in one host '
                'process, so absolute numbers are small; compare ratios.' % (u.get('kernel', '?'), u.get('guest_seconds', '?')))
        lines += dataplane_md(u, 'Data plane under User-Mode Linux (host-gw, vxlan, ipip)', note)
        if u.get('rows'):
            lines += ['', '![data plane under UML](dataplane_uml.png)']
        lines.append('')
    return '\n'.join(lines) + '\n'


def plots(results):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    written = []
    rows = [r for r in results.get('control_plane', []) if 'r_add' in r]
    if rows:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
        for mode in sorted(set(r['mode'] for r in rows)):
            rs = sorted((r for r in rows if r['mode'] == mode), key=lambda r: r['n'])
            ns = [r['n'] for r in rs]
            for key, style in (('first', '-o'), ('rerun', '--s'), ('add', ':^')):
                axes[0].plot(ns, [r[key] for r in rs], style, label='%s %s' % (mode, key))
            for key, style in (('r_first', '-o'), ('r_rerun', '--s'), ('r_add', ':^')):
                axes[1].plot(ns, [r[key] for r in rs], style, label='%s %s' % (mode, key[2:]))
            axes[2].plot(ns, [r['inv_first'] for r in rs], '-o', label='%s first' % mode)
            axes[2].plot(ns, [r['inv_rerun'] for r in rs], '--s', label='%s re-run' % mode)
        # the baseline of every N measured (the median over the modes' runs: one ping task per host either way)
        base = {}
        for r in rows:
            base.setdefault(r['n'], []).append(r['baseline'])
        bn = sorted(base)
        axes[0].plot(bn, [sorted(base[n])[len(base[n]) // 2] for n in bn], 'k-', lw=2, label='baseline (ping)')
        axes[0].set(title='wall time', xlabel='hosts N', ylabel='seconds')
        axes[1].axhline(3, color='grey', ls='--', lw=1)
        axes[1].axhline(5, color='grey', ls=':', lw=1)
        axes[1].set(title='ratio to the baseline (goals: re-run 3, first 5)', xlabel='hosts N', ylabel='× baseline')
        axes[2].set(title='module executions per host', xlabel='hosts N', ylim=(0, None))
        for ax in axes:
            ax.set_xscale('log', base=2)
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, 'control_plane.png'), dpi=90)
        plt.close(fig)
        written.append('control_plane.png')
    srows = [r for r in results.get('settings', {}).get('rows', []) if r.get('rerun')]
    if srows:
        fig, ax = plt.subplots(figsize=(10, 4))
        names = [r['name'] for r in srows]
        x = range(len(names))
        ax.barh([i + 0.2 for i in x], [r['rerun'] for r in srows], 0.4, label='site.yml no-change re-run')
        ax.barh([i - 0.2 for i in x], [r['baseline'] for r in srows], 0.4, label='baseline (ping)')
        ax.set_yticks(list(x))
        ax.set_yticklabels(names, fontsize=8)
        ax.set(xlabel='seconds', title='Ansible settings at N=%s' % results['settings'].get('n'))
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, 'settings.png'), dpi=90)
        plt.close(fig)
        written.append('settings.png')
    for key, fname in (('dataplane', 'dataplane.png'), ('uml', 'dataplane_uml.png')):
        dp = results.get(key) or {}
        if not dp.get('rows'):
            continue
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
        names = [r['config'] for r in dp['rows']]
        palette = {'collection': 'tab:blue', 'collection, no firewall': 'tab:green', 'hand': 'tab:orange'}
        colors = ['grey' if r['mode'] == 'underlay' else palette.get(r.get('kind'), 'tab:purple') for r in dp['rows']]
        axes[0].bar(range(len(names)), [r['tcp'] for r in dp['rows']], color=colors)
        axes[0].set(title='TCP throughput (median)', ylabel='Gbit/s')
        axes[1].bar(range(len(names)), [r['udp'] for r in dp['rows']], color=colors)
        axes[1].set(title='64-byte UDP, packets received (median)', ylabel='kpps')
        for ax in axes:
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=30, ha='right', fontsize=8)
            ax.grid(axis='y', alpha=0.3)
        fig.suptitle("this machine's kernel" if key == 'dataplane' else 'User-Mode Linux')
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, fname), dpi=90)
        plt.close(fig)
        written.append(fname)
    return written


def write_all(results):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
    with open(os.path.join(OUT, 'RESULTS.md'), 'w') as f:
        f.write(markdown(results))
    try:
        plots(results)
    except ImportError:
        pass
