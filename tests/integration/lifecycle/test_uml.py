# -*- coding: utf-8 -*-
"""Issue 6 for ipip, under User-Mode Linux (this machine's kernel has no ipip), in ONE boot.

Inside the guest, two labs of inventories/lab: ``u1`` goes through the switches and faults,
``u2`` gets one fresh ipip deployment (the reference), made by the roles path (podnet_apply=roles):
the switches of u1, all made by the converge module, are compared with it, so ipip is proven to
program the same kernel state on both paths. Both carry the hand-made objects of
kit.handmade(), plus a hand-made ipip device ``tun99`` (local = node IP, a remote; ours has no
remote). In order, on u1:

1. fresh host-gw;
2. (``--check`` ipip is not run here: check mode predicting a mode switch task by task and action by action is
   proven on this kernel, test_check_mode.py, and the ipip module's check mode under this kernel by its
   four runs, tests/integration/modules/test_ipip.py);
3. host-gw -> ipip: equals the fresh ipip deployment of u2;
4. drift: the ipip device deleted on worker2, its MTU changed on worker3: the next run reports a
   change on both, names the repair, and the dump equals the fresh ipip deployment again; pods reach
   each other (ping; verify.yml with its capture of IP protocol 4 runs on the booted machines,
   test_machines_uml.py, which also reruns ipip and finds nothing to change);
5. ipip -> vxlan: no ipip device, no route through it is left (and the hand-made objects stay).
   (vxlan -> host-gw equalling the fresh host-gw deployment is proven on this kernel, test_switches.py,
   where no ipip is involved.)

Then on u2 (issue 16, ipip): the bridge layout with the collection's CNI configuration
(``podnet_attach=bridge``, ``podnet_cni=true``); a pod attached on each host with that file through
Debian's CNI plugins (tests/cni.py: ADD, CHECK), every pod pings every other (the matrix); CHECK
passes again and DEL removes the pods.

Every dump is taken inside the guest with kit.py (``python kit.py dump``) and compared here.
The labs vanish with the guest (their mounts live in the guest's tmpfs /run), so no lab
teardown is run inside it.
"""

from __future__ import annotations

import json
import textwrap

import pytest

import kit
from lab import REPO

pytestmark = pytest.mark.uml

SCRIPT = textwrap.dedent('''\
    export PATH={repo}/.venv/bin:$PATH ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
    export ANSIBLE_CALLBACK_PLUGINS={callbacks} ANSIBLE_CALLBACKS_ENABLED=podnet_events
    cd {repo}
    KIT="python tests/integration/lifecycle/kit.py"
    # this UML kernel has no nf_tables for IPv4: the legacy iptables backend, for the collection and the kit
    export PODNET_TEST_IPTABLES=iptables-legacy
    EXTRA="-e podnet_iptables=iptables-legacy"
    now() {{ date +%s.%N; }}
    run() {{  # run NAME LAB ARGS...: one ansible-playbook, its events, recap and time as marker lines
      local name=$1 lab=$2; shift 2
      local start=$(now)
      PODNET_EVENTS_FILE=$TMPDIR/ev-$name.jsonl ansible-playbook -e podnet_lab_name=$lab $EXTRA "$@" > $TMPDIR/run-$name.log 2>&1
      local rc=$?
      echo "@@RUN $name $rc $(echo "$(now) - $start" | bc)"
      grep -E '^worker[0-9]+ +:' $TMPDIR/run-$name.log | sed "s/^/@@RECAP $name /"
      echo "@@EVENTS $name $(python -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' \\
        $TMPDIR/ev-$name.jsonl 2>/dev/null || echo '[]')"
      if [ $rc != 0 ]; then echo "@@LOG $name"; tail -40 $TMPDIR/run-$name.log; fi
      return $rc
    }}
    dump() {{ echo "@@DUMP $1 $($KIT dump $2 worker2 worker3)"; }}
    on() {{ local lab=$1 host=$2; shift 2
           nsenter --net=/run/podnet/$lab/$host/net --mount=/run/podnet/$lab/$host/mnt --uts=/run/podnet/$lab/$host/uts -- "$@"; }}

    run build-u1 u1 playbooks/lab.yml || exit 1
    run build-u2 u2 playbooks/lab.yml || exit 1
    $KIT handmade u1 ipip && $KIT handmade u2 ipip || exit 1
    dump 0-pristine u1
    run 1-host-gw u1 playbooks/site.yml -e mode=host-gw || exit 1
    dump 1-host-gw u1
    run 3-ipip u1 playbooks/site.yml -e mode=ipip || exit 1
    dump 3-ipip u1
    run ref-ipip u2 playbooks/site.yml -e mode=ipip -e podnet_apply=roles || exit 1
    dump ref-ipip u2
    on u1 worker2 ip link del podnet.ipip && on u1 worker3 ip link set podnet.ipip mtu 1300 || exit 1
    dump 4-broken u1
    run 4-repair u1 playbooks/site.yml -e mode=ipip || exit 1
    dump 4-repaired u1
    echo "@@PING $(on u1 worker2 ip netns exec ns1 ping -c 3 -W 2 192.168.11.10 | grep transmitted)"
    run 5-vxlan u1 playbooks/site.yml -e mode=vxlan || exit 1
    dump 5-vxlan u1
    # issue 16 in ipip: runtime pods attached with the collection's CNI configuration (u2: the reference is dumped)
    run 7-ipip-cni u2 playbooks/site.yml -e mode=ipip -e podnet_attach=bridge -e podnet_cni=true || exit 1
    python tests/integration/lifecycle/uml_cni.py add u2 $TMPDIR/cni.json || exit 1
    python tests/integration/lifecycle/uml_cni.py del u2 $TMPDIR/cni.json || exit 1
''')


def parse(output):
    runs, recaps, events, dumps, notes, cni = {}, {}, {}, {}, [], []
    for line in output.splitlines():
        if line.startswith('@@CNI '):
            cni.append(line[6:])  # the matrix, printed; asserted in the guest (uml_cni.py)
            continue
        if line.startswith('@@RUN '):
            name, rc, secs = line.split()[1:]
            runs[name] = (int(rc), float(secs))
        elif line.startswith('@@RECAP '):
            name, host, rest = line.split(None, 3)[1:]
            counts = dict(item.split('=') for item in rest.lstrip(': ').split())
            recaps.setdefault(name, {})[host] = int(counts['changed'])
        elif line.startswith('@@EVENTS '):
            name, data = line.split(' ', 2)[1:]
            events[name] = json.loads(data)
        elif line.startswith('@@DUMP '):
            name, data = line.split(' ', 2)[1:]
            dumps[name] = json.loads(data)
        elif line.startswith('@@NOTE '):
            notes.append(line[7:])
    return runs, recaps, events, dumps, notes, cni


def test_ipip_lifecycle_under_uml(uml, capsys):
    result = uml(SCRIPT.format(repo=REPO, callbacks=kit.CALLBACKS), timeout=1500, mem='2G',
                 modules=('ip_tables', 'iptable_filter', 'xt_tcpudp', 'iptable_nat', 'xt_MASQUERADE'))
    runs, recaps, events, dumps, notes, cni = parse(result.output)
    for name, (rc, secs) in runs.items():
        kit.TIMINGS.append(('UML %s (rc %d)' % (name, rc), secs))
    kit.TIMINGS.append(('UML boot + whole script', result.seconds))
    with capsys.disabled():
        print('\nUML lifecycle: %.0f s; %s' % (result.seconds, ', '.join('%s %.0fs' % (n, s) for n, (_r, s) in runs.items())))
        for note in notes:
            print('  NOTE ' + note)
        for line in cni:
            print('  ' + line)
    assert result.rc == 0, result.output[-6000:]

    # 3: the switch to ipip equals a fresh ipip deployment (made by the roles path); the hand-made objects stay
    for name in ('1-host-gw', '3-ipip', '4-repaired', '5-vxlan'):
        kit.assert_handmade(dumps[name], ipip=True, firewall=not notes)
    kit.assert_same(dumps['3-ipip'], dumps['ref-ipip'], '3-ipip: differs from a fresh ipip deployment (second)')
    link = dumps['3-ipip']['worker2']['links']['podnet.ipip']
    assert (link['linkinfo']['info_kind'], link['mtu']) == ('ipip', 1480), link
    assert link['linkinfo']['info_data'].get('local') == '10.57.4.20', link
    assert link['linkinfo']['info_data'].get('remote', 'any') in ('any', '0.0.0.0'), link

    # 4: drift of the ipip device is repaired, and the pods reach each other
    assert dumps['4-broken'] != dumps['3-ipip']
    assert all(n > 0 for n in recaps['4-repair'].values()), recaps['4-repair']
    actions = dict((e['host'], e['actions'] or []) for e in events['4-repair'] if e['action'].endswith('converge'))
    assert any(a.startswith('ipip: add') for a in actions['worker2']), actions
    assert any(a.startswith('ipip: update') for a in actions['worker3']), actions
    kit.assert_same(dumps['4-repaired'], dumps['ref-ipip'], 'after the repair (first) vs a fresh ipip deployment')
    assert '@@PING 3 packets transmitted, 3 received, 0% packet loss' in result.output, result.output[-3000:]

    # 5: nothing of ipip is left in vxlan mode
    for host, s in dumps['5-vxlan'].items():
        assert 'podnet.ipip' not in s['links'], host
        assert not [r for r in s['routes'] if r.get('dev') == 'podnet.ipip'], (host, s['routes'])
        assert 'podnet.vxlan' in s['links'], host

    # 7: runtime pods in ipip (uml_cni.py asserted the matrix, CHECK and DEL in the guest; the rerun with runtime
    # pods attached is proven on this kernel's modes, tests/integration/cni)
    assert any(line.startswith('matrix') for line in cni) and 'DEL ok' in cni, cni
