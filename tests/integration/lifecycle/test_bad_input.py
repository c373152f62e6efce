# -*- coding: utf-8 -*-
"""Issue 6, point 8: bad input, on this machine's kernel, against ONE lab (the cases of CASES;
the plan's refusals, one row each, are unit tests: tests/unit/plugins/module_utils/test__plan_bad_input.py).

The lab is converged in host-gw mode (with the hand-made objects); every case then runs
``site.yml`` (mode vxlan unless the case says otherwise: a run that got through would change a
lot) with ``-e`` overrides or a temporary inventory. A case of what the inventory says must, on the default
path (one execution per host), and a case that needs the host (``host_specific``) must with
``podnet_two_phase=true``:

* fail (rc != 0),
* fail in the preflight: no task result reports a change, and no task after the preflight
  (the converge module, the pod and mode roles, cleanup) even starts,
* say what is wrong: one failure message names the host (or the failure is that host's), the
  variable, and the value,
* leave the normalised dump of every host exactly as it was before the run.

A host-specific case on the default path (issue 19) must fail naming host, variable and value, and leave the
failing host exactly as it was; the other hosts converge in the same task (what the role's documentation of
podnet_two_phase says), unless the case fails them too.

Cases that need something on the host (an underlay MTU, a device in the way) prepare it before
the "before" dump and undo it afterwards; when a case did change the kernel (a defect, or the other hosts on the
default path), the lab is converged back to host-gw so that the next case starts from the same state.
"""

from __future__ import annotations

import copy
import json
import os
import shutil

import pytest
import yaml

import kit
from kit import lab_name
from lab import REPO, built_lab

DELETE = object()

#: actions that belong to the preflight (they read, compute and assert; they change nothing)
#: (include_tasks: the entry role's choice between one execution per host and two phases, which changes nothing)
PREFLIGHT_ACTIONS = ('validate_argument_spec', 'assert', 'node_facts', 'host_plan', 'set_fact', 'fail', 'include_tasks')


#: the default path's actions beyond the preflight in a host-specific case: the converge that failed on one host and
#: ran on the others, and their report
ONE_EXECUTION_ACTIONS = ('converge', 'debug')


def case(cid, expect, args=(), hostvars=None, setup=None, undo=None, host_specific=None):
    """expect: (host, variable, value); value None when there is none (a missing variable).
    host_specific: what fails is found on the host (its facts), not in the inventory: 'one' when only the host of
    ``expect`` fails, 'all' when every host does."""
    return dict(id=cid, args=list(args), hostvars=hostvars or {}, setup=setup or {}, undo=undo or {}, expect=expect,
                host_specific=host_specific)


def pods(value):
    return ['-e', json.dumps(dict(podnet_pods=value))]


#: What runs end to end: what needs Ansible (the role's variables, the cluster check) or the host (facts
#: read there, devices in the way), and a few plan refusals that prove a refused run changes nothing on any
#: host. Every refusal of the plan is a row of tests/unit/plugins/module_utils/test__plan_bad_input.py.
CASES = [
    # unknown choices
    case('mode-unknown', ('worker2', 'podnet_mode', 'bogus'), ['-e', 'mode=bogus']),
    # pod ranges
    case('pod-cidrs-overlap', ('worker3', 'podnet_pod_cidr', '192.168.10.128/25'),
         hostvars=dict(worker3=dict(podnet_pod_cidr='192.168.10.128/25'))),
    # node IPs
    case('node-ip-not-on-host', ('worker3', 'podnet_node_ip', '10.57.4.77'),
         hostvars=dict(worker3=dict(podnet_node_ip='10.57.4.77')), host_specific='one'),
    case('node-ip-wrong-type-list', ('worker3', 'podnet_node_ip', '10.57.4.21'),
         hostvars=dict(worker3=dict(podnet_node_ip=['10.57.4.21']))),
    case('node-ip-missing', ('worker3', 'podnet_node_ip', None), hostvars=dict(worker3=dict(podnet_node_ip=DELETE))),
    # pods
    # one host's pod only: the controller's host_check refuses worker3, and worker2's input is right
    case('pod-ip-is-gateway-one-host', ('worker3', 'podnet_pods[0].ip', '192.168.11.1'),
         hostvars=dict(worker3=dict(podnet_pods=[dict(name='ns1', ip='192.168.11.1')]))),
    case('pods-wrong-type-string', ('worker2', 'podnet_pods', 'ns1'), ['-e', 'podnet_pods=ns1']),
    case('pod-ip-is-gateway', ('worker2', 'podnet_pods[0].ip', '192.168.10.1'),
         pods([dict(name='ns1', ip='192.168.10.1')])),
    # numbers
    case('vni-not-a-number', ('worker2', 'podnet_vxlan_vni', 'abc'), ['-e', 'podnet_vxlan_vni=abc']),
    case('mtu-too-large-for-vxlan', ('worker2', 'podnet_mtu', '1480'), ['-e', 'podnet_mtu=1480'], host_specific='all'),
    case('underlay-mtu-too-small-for-vxlan', ('worker3', 'MTU', '600'),
         setup=dict(worker3='ip link set eth0 mtu 600'), undo=dict(worker3='ip link set eth0 mtu 1500'), host_specific='one'),
    case('underlay-dev-wrong', ('worker3', 'podnet_underlay_dev', 'eth9'),
         hostvars=dict(worker3=dict(podnet_underlay_dev='eth9')), host_specific='one'),
    case('install-pyroute2-not-a-bool', ('worker2', 'podnet_install_pyroute2', 'maybe'),
         ['-e', 'podnet_install_pyroute2=maybe']),
    # what Ansible's check of the role's argument specification refused before site.yml ran the role without it
    # (host_check checks the role's variables beside the settings)
    # (podnet_two_phase: the unit tests; every run here sets it)
    case('masquerade-not-a-bool', ('worker2', 'podnet_masquerade', 'sometimes'), ['-e', 'podnet_masquerade=sometimes']),
    case('apply-unknown', ('worker2', 'podnet_apply', 'both'), ['-e', 'podnet_apply=both']),
    # clashes with what is already on the host (the preflight should see them before any change)
    case('vxlan-dev-name-taken-by-a-veth', ('worker2', 'podnet_vxlan_dev', 'podnet.test0'),
         ['-e', 'podnet_vxlan_dev=podnet.test0'], host_specific='all'),
    case('vni-clashes-with-existing-device', ('worker3', 'podnet_vxlan_vni', '1'),
         setup=dict(worker3='ip link add clash1 type vxlan id 1 dstport 8472 dev eth0 nolearning'),
         undo=dict(worker3='ip link del clash1'), host_specific='one'),
    case('port-clashes-with-existing-device', ('worker3', 'podnet_vxlan_port', '4790'), ['-e', 'podnet_vxlan_port=4790'],
         setup=dict(worker3='ip link add clash2 type vxlan dstport 4790 external && ip link set clash2 up'),
         undo=dict(worker3='ip link del clash2'), host_specific='one'),
]
#: every case on the default path; the host-specific ones also with podnet_two_phase (the strict run)
RUNS = ([pytest.param(c, 'one_execution', id=c['id']) for c in CASES]
        + [pytest.param(c, 'two_phase', id=c['id'] + '-two-phase') for c in CASES if c['host_specific']]
        # issue 19, item 4: with ANSIBLE_STRATEGY=free (or mitogen_free) Ansible runs the run_once cluster check on
        # every host and ignores any_errors_fatal, so worker2 would converge while worker3 fails: site.yml pins linear
        + [pytest.param(c, 'strategy_free', id=c['id'] + '-strategy-free') for c in CASES
           if c['id'] == 'pod-ip-is-gateway-one-host'])


def write_inventory(path, overrides):
    """A copy of inventories/lab whose host variables get ``overrides`` ({host: {var: value|DELETE}})."""
    src = os.path.join(REPO, 'inventories', 'lab')
    shutil.copytree(src, path)
    with open(os.path.join(path, 'hosts.yml')) as f:
        inv = yaml.safe_load(f)
    hosts = inv['podnet_lab']['children']['podnet_nodes']['hosts']
    for host, changes in overrides.items():
        for var, value in changes.items():
            if value is DELETE:
                hosts[host].pop(var, None)
            else:
                hosts[host][var] = value
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        yaml.safe_dump(inv, f)
    return path


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab', name=lab_name('bad')) as lab:
        kit.handmade(lab)
        kit.site(lab, 'host-gw')
        yield lab


RESULTS = []


def check_failure(run, expect, stage):
    """The failure names host, variable and value; returns the message that does."""
    host, var, value = expect
    failed = run.failures()
    assert failed, '%s: no task failed (rc %s):\n%s' % (stage, run.rc, run.tail())
    for event in failed:
        msg = event['msg']
        if var in msg and (value is None or value in msg) and (host in msg or event['host'] == host):
            return msg
    raise AssertionError('%s: no failure message names host %s, variable %s and value %r:\n  %s'
                         % (stage, host, var, value, '\n  '.join('[%s] %s' % (e['host'], e['msg'][:600]) for e in failed)))


@pytest.mark.parametrize('bad,path', RUNS)
def test_bad_input_fails_in_preflight_and_changes_nothing(lab, bad, path, tmp_path, request):
    cid = request.node.callspec.id
    target = lab
    if bad['hostvars'] or path == 'strategy_free':
        target = copy.copy(lab)
    if bad['hostvars']:
        target.inventory = write_inventory(str(tmp_path / 'inventory'), bad['hostvars'])
    if path == 'strategy_free':  # as a user's ansible.cfg (strategy = free) would choose it
        target.env = dict(lab.env, ANSIBLE_STRATEGY='free')
    for host, script in bad['setup'].items():
        lab.hosts[host].run(['bash', '-ec', script], check=True)
    try:
        before = kit.dump(lab)
        args = bad['args'] if any(a.startswith('mode=') for a in bad['args']) else ['-e', 'mode=vxlan'] + bad['args']
        args += ['-e', 'podnet_two_phase=%s' % (path == 'two_phase')]
        run = kit.play(target, 'playbooks/site.yml', *args, ok=False, what='bad input %s' % cid)
        after = kit.dump(lab)
        outcome = dict(case=cid, rc=run.rc, seconds=run.seconds,
                       changed=sorted(set(e['task'] for e in run.events if e['changed'])),
                       changed_hosts=sorted(set(e['host'] for e in run.events if e['changed'])),
                       # what ran (a skipped task ran nothing: the one-execution path's tasks under two phases)
                       beyond_preflight=sorted(set(e['task'] for e in run.events if e['status'] != 'skipped'
                                                   and e['action'].split('.')[-1] not in PREFLIGHT_ACTIONS)),
                       beyond_one_execution=sorted(set(e['task'] for e in run.events if e['status'] != 'skipped'
                                                       and e['action'].split('.')[-1]
                                                       not in PREFLIGHT_ACTIONS + ONE_EXECUTION_ACTIONS)),
                       kernel_changed=after != before,
                       messages=[('[%s] %s' % (e['host'], e['msg']))[:300] for e in run.failures()])
        RESULTS.append(outcome)
        print(json.dumps(outcome, indent=1))
        assert run.rc not in (0, None), 'the run succeeded:\n%s' % run.tail()
        message = check_failure(run, bad['expect'], cid)
        outcome['message'] = message[:300]
        if bad['host_specific'] == 'one' and path == 'one_execution':
            failing = bad['expect'][0]
            others = sorted(set(lab.hosts) - {failing})
            kit.assert_same(after[failing], before[failing], '%s: the failed run changed the failing host' % failing)
            assert failing not in outcome['changed_hosts'], outcome
            assert not outcome['beyond_one_execution'], outcome
            # documented (podnet_two_phase): the other hosts converged in the same task
            assert outcome['changed_hosts'] == others, outcome
            return
        assert not outcome['changed'], 'tasks reported changes: %s' % outcome['changed']
        if bad['host_specific'] and path == 'one_execution':  # every host failed in its own converge
            assert not outcome['beyond_one_execution'], outcome
        else:
            assert not outcome['beyond_preflight'], ('the run got past the preflight before failing: %s\n%s'
                                                     % (outcome['beyond_preflight'], '\n'.join(outcome['messages'])))
        kit.assert_same(after, before, 'the failed run changed the kernel (first: after, second: before)')
    finally:
        for host, script in bad['undo'].items():
            lab.hosts[host].run(['bash', '-c', script])
        if RESULTS and RESULTS[-1]['case'] == cid and RESULTS[-1]['kernel_changed']:
            kit.site(lab, 'host-gw', what='restore host-gw after %s' % cid)


def test_host_gw_across_subnets_fails_in_preflight():
    """inventories/lab-routed: worker2/3 on 10.57.4.0/24, worker4/5 on 10.57.5.0/24, a router between."""
    with built_lab('inventories/lab-routed', name=lab_name('routed')) as lab:
        before = kit.dump(lab)
        run = kit.play(lab, 'playbooks/site.yml', '-e', 'mode=host-gw', ok=False, what='bad input host-gw across subnets')
        assert run.rc not in (0, None), run.tail()
        check_failure(run, ('worker2', 'podnet_mode', 'host-gw'), 'host-gw across subnets')
        # every host fails; worker2's own message names a peer across the router
        mine = [e['msg'] for e in run.failures() if e['msg'].startswith('worker2: ')]
        assert mine and any(('worker4' in m and '10.57.5.20' in m) or ('worker5' in m and '10.57.5.21' in m)
                            for m in mine), mine
        message = mine[0]
        assert not [e for e in run.events if e['changed']], run.tail()
        kit.assert_same(kit.dump(lab), before, 'the refused host-gw run changed the kernel')
        RESULTS.append(dict(case='host-gw-across-subnets', rc=run.rc, seconds=run.seconds, kernel_changed=False,
                            message=message[:300]))


def test_zz_print_bad_input_table(capsys):
    with capsys.disabled():
        print('\nbad-input table:')
        for r in RESULTS:
            print('  %-46s rc=%s %5.1fs kernel_changed=%s changed on %s past_preflight=%s\n      %s' % (
                r['case'], r['rc'], r['seconds'], r['kernel_changed'], r.get('changed_hosts'), r.get('beyond_preflight'),
                (r.get('message') or ' | '.join(r.get('messages', [])))[:240]))
