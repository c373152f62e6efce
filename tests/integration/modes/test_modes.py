# -*- coding: utf-8 -*-
"""The modes on the embedded lab, on this machine's kernel (host-gw, vxlan; ipip needs the second
kernel: tests/integration/lifecycle/test_uml.py, hardening/test_uml_hardening.py and, over SSH with
verify.yml, machines/test_machines_uml.py): converge, verify, a second converge with
no change, --check with no change, the kernel state read back with `ip -j` / `bridge -j`,
preflight on the routed lab, and module invocations per host that do not grow with N."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid

import pytest

from lab import REPO, built_lab, matrix_lines, recap
from dumps import assert_same, dump  # the one normalised dump of every suite (tests/dumps.py)

MODES_HERE = ('host-gw', 'vxlan')  # this machine's kernel has no ipip: see the module docstring
PROTO = '57'


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab', name='modes-' + uuid.uuid4().hex[:4]) as lab:
        yield lab


OTHER = {'one_call': 'roles', 'roles': 'one_call'}


@pytest.mark.parametrize('mode,apply', [('host-gw', 'one_call'), ('vxlan', 'roles')])
def test_mode_on_the_lab(lab, mode, apply, capsys):
    """Converge with one way of applying the plan (podnet_apply), then the other way must find
    nothing to change: the converge module and the roles program the same kernel state."""
    first = lab.playbook('playbooks/site.yml', '-e', 'mode=' + mode, '-e', 'podnet_apply=' + apply)
    assert all(n > 0 for n in changed(first).values()), changed(first)

    verify = lab.playbook('playbooks/verify.yml', '-e', 'mode=' + mode)
    lines = matrix_lines(verify)
    expected = {'host-gw': 'ok plain IP', 'vxlan': 'ok vxlan vni 1 udp 8472'}[mode]
    assert lines[0].startswith('mode %s' % mode)
    assert sum(line.count(expected) for line in lines) == 2, lines
    with capsys.disabled():
        print('\n' + '\n'.join(lines))

    again = lab.playbook('playbooks/site.yml', '-e', 'mode=' + mode, '-e', 'podnet_apply=' + OTHER[apply])
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    before = dump(lab)
    check = lab.playbook('playbooks/site.yml', '-e', 'mode=' + mode, '--check', '--diff')
    assert set(changed(check).values()) == {0}, check.stdout[-3000:]
    assert_same(dump(lab), before, '--check changed the kernel')
    # the report of what changed is a handler of the default path: printed after a converge that changed something,
    # and on a run that changes nothing not even a skipped task (issue 19)
    report = 'openkube.podnet.podnet : Report what the run changed'
    if apply == 'one_call':
        assert 'RUNNING HANDLER [%s' % report in first.stdout, first.stdout[-3000:]
    assert report not in check.stdout, check.stdout[-3000:]

    w2, w3 = lab['worker2'], lab['worker3']
    routes = dict((r['dst'], r) for r in w2.ipj('route', 'show', 'proto', PROTO))
    assert routes['192.168.10.10'] == dict(routes['192.168.10.10'], dev='veth-ns1', scope='link')
    peer = routes['192.168.11.0/24']
    if mode == 'host-gw':
        assert (peer['gateway'], peer['dev']) == ('10.57.4.21', 'eth0')
        assert 'onlink' not in peer.get('flags', [])
        assert not [link for link in w2.ipj('link', 'show') if link['ifname'].startswith('podnet.')]
    else:
        assert (peer['gateway'], peer['dev'], 'onlink' in peer.get('flags', [])) == ('192.168.11.0', 'podnet.vxlan', True)
        link = w2.ipj('-d', 'link', 'show', 'podnet.vxlan')[0]
        info = link['linkinfo']['info_data']
        assert (info['id'], info['port'], info['learning'], info['local'], link['mtu']) == (1, 8472, False, '10.57.4.20', 1450)
        w3_mac = w3.ipj('link', 'show', 'podnet.vxlan')[0]['address']
        assert [(n['dst'], n['lladdr']) for n in w2.ipj('neigh', 'show', 'dev', 'podnet.vxlan')] == [('192.168.11.0', w3_mac)]
        fdb = [(f['mac'], f.get('dst')) for f in w2.bridgej('fdb', 'show', 'dev', 'podnet.vxlan') if f.get('dst')]
        assert fdb == [(w3_mac, '10.57.4.21')]
    pod_routes = json.loads(w2.ns_run('ns1', 'ip -j route show', check=True).stdout)
    assert pod_routes[0]['dst'] == 'default' and pod_routes[0]['gateway'] == '192.168.10.1'
    assert w2.run('cat /proc/sys/net/ipv4/ip_forward', check=True).stdout.strip() == '1'


def test_verify_reads_what_is_deployed(lab):
    """verify.yml checks each host against its record of what is deployed (/var/lib/podnet/applied.json,
    root's only, written last by the converge), not against the inventory: after host-gw it passes
    without -e mode, refuses -e mode=vxlan before any ping naming host and modes, and after
    podnet_state=absent (which removes the record) says that nothing is deployed."""
    lab.playbook('playbooks/site.yml', '-e', 'mode=host-gw')
    w2 = lab['worker2']
    record = json.loads(w2.run('cat /var/lib/podnet/applied.json', check=True).stdout)
    assert (record['format'], record['plan']['mode'], record['plan']['host']) == (1, 'host-gw', 'worker2')
    assert 'changed' not in record['plan'] and 'failed' not in record['plan']
    assert w2.run('stat -c %a /var/lib/podnet /var/lib/podnet/applied.json', check=True).stdout.split() == ['700', '600']
    # each lab host keeps its own: worker3's record is its plan, not worker2's
    assert json.loads(lab['worker3'].run('cat /var/lib/podnet/applied.json', check=True).stdout)['plan']['host'] == 'worker3'
    # the next runs take the collection's compiled code from each host's cache, beside the repair runner's copy of the
    # code (_codecache.py), instead of compiling the sources in Ansible's zip again; check mode reads it, writes nothing
    code = '/var/lib/podnet/lib/ansible_collections/openkube/podnet/plugins/module_utils'
    for args in (('-v',), ('--check', '-v')):
        out = lab.playbook('playbooks/site.yml', '-e', 'mode=host-gw', *args).stdout
        caches = [json.loads(m) for m in re.findall(r'"code_cache": (\{[^{}]*\})', out)]
        assert [c['folder'] for c in caches] == [code + '/__pycache__'] * 2, caches
        assert all(c['loaded'] + c['compiled'] >= 25 and c['written'] == c['compiled'] for c in caches), caches
    assert [(c['compiled'], c['written']) for c in caches] == [(0, 0)] * 2, caches
    pycs = w2.run('stat -c "%%a %%n" %s/__pycache__ %s/__pycache__/_converge.*.pyc' % (code, code), check=True).stdout.split()
    assert pycs[0::2] == ['700', '600'], pycs

    lines = matrix_lines(lab.playbook('playbooks/verify.yml'))  # no -e mode: the inventory says vxlan
    assert lines[0].startswith('mode host-gw') and sum(line.count('ok plain IP') for line in lines) == 2, lines

    other = lab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan', check=False)
    assert other.returncode != 0
    assert "worker2: mode 'vxlan' was asked for (-e mode=vxlan), but what is deployed is mode 'host-gw'" in other.stdout
    assert 'Ping every peer' not in other.stdout, other.stdout[-3000:]

    lab.playbook('playbooks/site.yml', '-e', 'mode=host-gw', '-e', 'podnet_state=absent')
    assert w2.run('ls -A /var/lib/podnet', check=True).stdout.strip() == ''
    gone = lab.playbook('playbooks/verify.yml', check=False)
    assert gone.returncode != 0
    assert ('worker3: nothing is deployed (there is no /var/lib/podnet/applied.json): run site.yml first, '
            'or check podnet_state_dir') in gone.stdout, gone.stdout[-3000:]


def test_verify_reports_a_miss_and_the_host_stays_reachable(lab):
    """A pod that gets no answer is a miss in the matrix and a failed verify, not an unreachable host;
    --check --diff shows the repair. pod_ping's result once carried a key `unreachable`:
    Ansible reads it as the host's own state
    (ansible-core 2.17 even crashed on it). The lab holds vxlan from test_mode_on_the_lab."""
    lab.playbook('site.yml', '-e', 'mode=vxlan')  # the repository root's site.yml, as the usage line says
    lab['worker2'].run('ip route del 192.168.11.0/24', check=True)
    try:
        verify = lab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan', '-e', 'podnet_verify_count=1',
                              check=False)
        assert verify.returncode != 0
        counts = recap(verify.stdout)
        assert counts['worker2']['unreachable'] == 0 and counts['worker3']['unreachable'] == 0, counts
        w2_row = [line for line in matrix_lines(verify) if line.startswith('worker2')][0]
        assert 'ok' not in w2_row.split('|')[2], w2_row
        assert 'Fail on any miss' in verify.stdout
        # --check --diff shows the missing route as Ansible's own callback prints a diff, without a warning
        check = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '--check', '--diff')
        assert 'WARNING' not in check.stdout + check.stderr, (check.stdout + check.stderr)[-3000:]
        assert changed(check) == {'worker2': 1, 'worker3': 0}, check.stdout[-3000:]
        added = [line for line in check.stdout.splitlines() if line.startswith('+') and '192.168.11.0/24' in line]
        assert added, check.stdout[-3000:]
        assert '+++ after: route' in check.stdout, check.stdout[-3000:]
    finally:
        again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert changed(again) == {'worker2': 1, 'worker3': 0}, again.stdout[-3000:]


def test_routed_lab_refuses_host_gw_and_runs_vxlan():
    with built_lab('inventories/lab-routed', name='routed-' + uuid.uuid4().hex[:4]) as lab:
        before = dump(lab)
        refused = lab.playbook('playbooks/site.yml', '-e', 'mode=host-gw', check=False)
        assert refused.returncode != 0
        assert "podnet_mode 'host-gw' cannot reach" in refused.stdout
        assert 'ipip or vxlan' in refused.stdout
        assert_same(dump(lab), before, 'a refused run changed the kernel')

        lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        verify = lab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan')
        lines = matrix_lines(verify)
        assert sum(line.count('ok vxlan vni 1') for line in lines) == 12, lines  # 4 hosts: 4 x 3 pairs


def _invocations(lab, mode, apply, tmp_path, *args):
    """Module executions per host of one site.yml run, counted twice: by the callback podnet_invocations (tasks
    whose action runs something on the host) and by the commands the connection plugin lab_host runs in each host
    (its -vvvv line 'LAB <host>: nsenter ...'; with pipelining, one per module execution)."""
    out = tmp_path / ('count-%s-%s-%s.json' % (mode, apply, len(list(tmp_path.iterdir()))))
    env_before = dict(lab.env)
    lab.env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO, 'tests', 'callback_plugins'),
                   ANSIBLE_CALLBACKS_ENABLED='podnet_invocations', PODNET_INVOCATIONS_FILE=str(out))
    try:
        proc = lab.playbook('playbooks/site.yml', '-vvvv', '-e', 'mode=' + mode, '-e', 'podnet_apply=' + apply, *args)
    finally:
        lab.env = env_before
    commands = {}
    for host in re.findall(r'^<[^>]+> LAB (\S+): nsenter ', proc.stdout, re.M):
        commands[host] = commands.get(host, 0) + 1
    return json.loads(out.read_text()), commands, changed(proc)


#: (podnet_apply, podnet_two_phase): the default, the strict two-phase run, the roles path
PATHS = (('one_call', 'false'), ('one_call', 'true'), ('roles', 'false'))


def test_invocations_per_host_do_not_grow_with_hosts(tmp_path, capsys):
    """Module executions per host: the default path runs exactly one per host, on a first converge and on a
    no-change re-run (issue 19), at 2 and at 4 hosts; the two-phase run two and the roles path its fixed number, at
    2 hosts (benchmarks/oneexec.py counts both paths at 2-64 hosts; the suite keeps to the default's growth)."""
    counts = {}
    for n in (2, 4):
        name = 'scale%d-%s' % (n, uuid.uuid4().hex[:4])  # unique: never a lab someone else runs
        with built_lab('inventories/lab-scale', name=name, env={'PODNET_LAB_HOSTS': str(n)}) as lab:
            for apply, two_phase in (PATHS if n == 2 else PATHS[:1]):
                for run in ('first', 'again'):  # the roles path finds the default path's kernel state: nothing to do
                    if run == 'first' and apply == 'one_call' and two_phase == 'true':
                        lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_state=absent')
                    per_host, commands, changes = _invocations(lab, 'vxlan', apply, tmp_path, '-e',
                                                               'podnet_two_phase=' + two_phase)
                    assert len(per_host) == n and sorted(commands) == sorted(per_host), (per_host, commands)
                    assert set(changes.values()) == ({1} if run == 'first' and apply == 'one_call' else {0}), changes
                    counts[(n, apply, two_phase, run)] = (sorted(set(per_host.values())), sorted(set(commands.values())))
    with capsys.disabled():
        print('\nmodule executions per host (callback, commands run in the host): ' + ', '.join(
            '%s hosts %s two_phase=%s %s: %s' % (key + (value,)) for key, value in sorted(counts.items())))
    for key, value in counts.items():
        n, apply, two_phase, run = key
        assert value == counts[(2, apply, two_phase, run)] and len(value[0]) == 1, counts
        if apply == 'one_call':
            assert value == (([2], [2]) if two_phase == 'true' else ([1], [1])), (key, value)


def test_mixed_pyroute2_versions_during_an_upgrade(tmp_path, capsys):
    """A cluster in the middle of an upgrade: worker2's modules run with the system Python and Debian's
    pyroute2 0.7.2 (as a Debian 12 host has it), worker3's with the venv's 0.9.7. vxlan converges, verify
    sees both pairs 'ok', a second run changes nothing, and worker2's vxlan route and neighbour are there."""
    inventory = tmp_path / 'inventory'
    shutil.copytree(os.path.join(REPO, 'inventories', 'lab'), str(inventory))
    (inventory / 'host_vars').mkdir()
    (inventory / 'host_vars' / 'worker2.yml').write_text('---\nansible_python_interpreter: /usr/bin/python3\n')
    with built_lab(str(inventory), name='mixed-' + uuid.uuid4().hex[:4]) as lab:
        first = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        assert all(n > 0 for n in changed(first).values()), changed(first)
        versions = lab.ansible('worker2:worker3', '-m', 'ansible.builtin.command', '-a',
                               '{{ ansible_python_interpreter }} -c "from importlib import metadata; '
                               'print(metadata.version(\'pyroute2\'))"', '-o')
        found = dict((line.split(' | ')[0], line.split('(stdout) ')[-1].strip())
                     for line in versions.stdout.splitlines() if ' | ' in line)
        assert found == {'worker2': '0.7.2', 'worker3': '0.9.7'}, versions.stdout
        lines = matrix_lines(lab.playbook('playbooks/verify.yml', '-e', 'mode=vxlan'))
        assert sum(line.count('ok vxlan vni 1 udp 8472') for line in lines) == 2, lines
        again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
        w2 = lab.hosts['worker2']
        assert [r['dev'] for r in w2.ipj('route', 'show', 'proto', PROTO) if r['dst'] == '192.168.11.0/24'] == ['podnet.vxlan']
        assert len(w2.ipj('neigh', 'show', 'dev', 'podnet.vxlan', 'nud', 'permanent')) == 1
        with capsys.disabled():
            print('\npyroute2 per host: %s\n%s' % (found, '\n'.join(lines)))
