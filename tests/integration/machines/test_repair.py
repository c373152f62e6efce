# -*- coding: utf-8 -*-
"""Reboot survival and drift repair on the booted machines (issue 17), without any Ansible run between.

The converge installs podnet-apply.service (the recorded plan applied at boot) and podnet-repair.timer
(applied again every podnet_repair_interval; 5 s here). On worker3, in this order:

1. the units pass ``systemd-analyze verify``; ``systemd-analyze security`` gives their exposure (printed);
2. a reboot (a new boot id; the disk, its files and packages kept): without Ansible, worker2's pod reaches
   worker3's within 60 s; the time from the boot's first journal line to the unit's summary line is
   printed; a rerun of site.yml then changes nothing;
3. a route and an FDB entry deleted by hand come back within one interval (plus the run's own time),
   and the journal names both repairs; so does worker2's nftables table of the encapsulation filter;
4. a record that is not ours: the unit refuses it with one journal line and changes nothing;
5. a switch to host-gw, then a reboot: host-gw comes back, not vxlan;
6. podnet_repair=false removes the units and keeps the network; podnet_state=absent, then a reboot: nothing
   of the collection comes back (no unit, no device, no route), and the machine is as it booted (lo, eth0).

Every check reads the machine over SSH with ip, bridge, systemctl and journalctl.
"""

from __future__ import annotations

import json
import re
import time

from lab import recap

INTERVAL = 5
REPAIR = ('-e', 'podnet_repair_interval=%d' % INTERVAL)
PEER = {'worker2': '192.168.11.0/24', 'worker3': '192.168.10.0/24'}


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


def pods_reach(w2, timeout):
    """Seconds until worker2's pod ns1 gets an answer from worker3's pod (ping once per try), or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if 'rc=0' in w2.run('sudo ip netns exec ns1 ping -c 1 -W 1 192.168.11.10 >/dev/null 2>&1; echo rc=$?', check=False):
            return time.monotonic() - start
        time.sleep(0.5)
    return None


def journal(machine, since_boot=True):
    return machine.run('sudo journalctl --no-pager -o cat -u podnet-apply.service%s' % (' -b' if since_boot else ''), check=False)


def test_the_host_repairs_itself(machines, capsys):
    w2, w3 = machines.machines['worker2'], machines.machines['worker3']
    report = []
    first = machines.playbook('playbooks/site.yml', '-e', 'mode=vxlan', *REPAIR)
    assert 'podnet-repair.timer' in first.stdout
    for machine in (w2, w3):
        state = machine.run('systemctl is-enabled podnet-apply.service podnet-repair.timer; systemctl is-active podnet-repair.timer')
        assert state.split() == ['enabled', 'enabled', 'active'], (machine.name, state)

    # 1. the units as systemd reads them
    verify = w3.run('sudo systemd-analyze verify /etc/systemd/system/podnet-apply.service '
                    '/etc/systemd/system/podnet-repair.timer 2>&1; echo rc=$?', check=False)
    assert verify.strip().endswith('rc=0') and 'podnet' not in verify.replace('rc=0', ''), verify
    security = w3.run('sudo systemd-analyze security --no-pager podnet-apply.service 2>&1', check=False)
    exposure = re.search(r'Overall exposure level for podnet-apply.service: ([0-9.]+) (\w+)', security)
    assert exposure, security[-2000:]
    report.append('systemd-analyze security podnet-apply.service: %s %s' % exposure.groups())

    # 2. reboot, no Ansible: the pods reach each other again. A real reboot: a new boot id, the disk kept (a file,
    #    the package the first run installed), eth0 configured again by the machine itself.
    boot_id = w3.run('cat /proc/sys/kernel/random/boot_id')
    w3.run('echo kept | sudo tee /var/tmp/podnet-reboot-marker')
    start = time.monotonic()
    machines.playbook('playbooks/lab.yml', '-e', 'lab_reboot=worker3')
    rebooted = time.monotonic() - start
    assert w3.run('cat /proc/sys/kernel/random/boot_id') != boot_id
    assert w3.run('cat /var/tmp/podnet-reboot-marker').strip() == 'kept'
    assert w3.run('dpkg-query -W -f="\\${Version}" python3-pyroute2') == '0.7.2-2'
    assert [a['local'] for a in w3.ipj('-4', 'addr', 'show', 'eth0')[0]['addr_info']] == [w3.node_ip]
    waited = pods_reach(w2, 60)
    assert waited is not None, 'pods cut off 60 s after the reboot; journal:\n%s' % journal(w3)
    lines = w3.run('sudo journalctl --no-pager -b -o short-unix -u podnet-apply.service | grep " changes* (mode"; '
                   'sudo journalctl --no-pager -b -o short-unix | head -n 1')
    stamps = [float(line.split()[0]) for line in lines.strip().splitlines()]
    report.append('reboot: lab.yml returned after %.1f s, pods reached each other %.1f s later; '
                  'first journal line of the boot -> podnet-apply applied the plan: %.1f s'
                  % (rebooted, waited, stamps[0] - stamps[-1]))
    applied = journal(w3)
    assert 'vxlan: add' in applied and 'route: add' in applied, applied
    again = machines.playbook('playbooks/site.yml', '-e', 'mode=vxlan', *REPAIR)
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]

    # 3. drift: a route and an FDB entry deleted by hand come back within one interval
    w2_mac = w2.ipj('link', 'show', 'podnet.vxlan')[0]['address']
    w3.run('sudo ip route del 192.168.10.0/24 proto 57 && sudo /sbin/bridge fdb del %s dev podnet.vxlan dst 10.57.4.20' % w2_mac)
    # and on worker2 (nftables installed), the encapsulation filter's table deleted by hand
    w2.run('sudo nft delete table ip podnet')
    start = time.monotonic()
    while time.monotonic() - start < 3 * INTERVAL + 10:
        routes = [r['dst'] for r in w3.ipj('route', 'show', 'proto', '57')]
        fdb = [f['mac'] for f in json.loads(w3.run('/sbin/bridge -j fdb show dev podnet.vxlan') or '[]') if f.get('dst')]
        table = 'table ip podnet' in w2.run('sudo nft list tables')
        if '192.168.10.0/24' in routes and w2_mac in fdb and table:
            break
        time.sleep(0.5)
    repaired = time.monotonic() - start
    assert '192.168.10.0/24' in routes and w2_mac in fdb, (routes, fdb, journal(w3)[-2000:])
    assert table, journal(w2)[-2000:]
    assert 'udp dport 8472 ip saddr != @peers drop' in w2.run('sudo nft list table ip podnet')
    assert 'nftables: add table ip podnet' in journal(w2), journal(w2)[-2000:]
    report.append('drift: a route and an FDB entry deleted by hand were back after %.1f s (interval %d s)'
                  % (repaired, INTERVAL))
    tail = journal(w3)
    assert 'fdb: add' in tail and 'route: add' in tail, tail[-2000:]
    # and the next run, with nothing left to repair, says so and changes nothing
    deadline = time.monotonic() + 3 * INTERVAL
    while 'nothing drifted' not in journal(w3).split('route: add')[-1] and time.monotonic() < deadline:
        time.sleep(1)
    assert 'nothing drifted' in journal(w3).split('route: add')[-1], journal(w3)[-2000:]
    # what a run with nothing to repair costs (the interval's price): the runner once more, timed by bash
    timed = w3.run("sudo bash -c 'TIMEFORMAT=\"%R %U %S\"; time /var/lib/podnet/lib/podnet-apply' 2>&1")
    assert 'nothing drifted' in timed, timed
    wall, user, system = (float(x) for x in timed.strip().splitlines()[-1].split())
    report.append('a run with nothing to repair: %.2f s wall, %.2f s CPU' % (wall, user + system))

    # 4. a record that is not ours is refused, and nothing changes
    w3.run('sudo cp /var/lib/podnet/applied.json /var/tmp/applied.json.good && '
           'echo "{not json" | sudo tee /var/lib/podnet/applied.json >/dev/null && '
           'sudo ip route del 192.168.10.0/24 proto 57')
    failed = w3.run('sudo systemctl start podnet-apply.service; echo rc=$?', check=False)
    if 'status=219/CGROUP' in journal(w3).split('refused:')[-1][-600:]:
        # The machine's systemd could not set up the unit's cgroup ("Failed to kill control group ...
        # Input/output error", then status 219/CGROUP: seen once in CI, the runner never started): start it again.
        failed = w3.run('sudo systemctl start podnet-apply.service; echo rc=$?', check=False)
    assert 'rc=0' not in failed, failed
    assert '192.168.10.0/24' not in [r['dst'] for r in w3.ipj('route', 'show', 'proto', '57')]
    refused = journal(w3)
    assert re.search(r'refused: /var/lib/podnet/applied.json is not JSON .*; nothing changed', refused), refused[-2000:]
    w3.run('sudo mv /var/tmp/applied.json.good /var/lib/podnet/applied.json')

    # 5. a mode switch, then a reboot: the new mode comes back
    machines.playbook('playbooks/site.yml', '-e', 'mode=host-gw', *REPAIR)
    machines.playbook('playbooks/lab.yml', '-e', 'lab_reboot=worker3')
    waited = pods_reach(w2, 60)
    assert waited is not None, journal(w3)
    routes = dict((r['dst'], r) for r in w3.ipj('route', 'show', 'proto', '57'))
    assert (routes['192.168.10.0/24']['gateway'], routes['192.168.10.0/24']['dev']) == ('10.57.4.20', 'eth0'), routes
    assert not [link for link in w3.ipj('link', 'show') if link['ifname'] == 'podnet.vxlan']
    report.append('host-gw after a switch and a reboot: pods reached each other %.1f s after lab.yml returned' % waited)

    # 6. podnet_repair=false removes the units and leaves the network; teardown, then a reboot: nothing comes back
    off = machines.playbook('playbooks/site.yml', '-e', 'mode=host-gw', '-e', 'podnet_repair=false')
    assert all(n > 0 for n in changed(off).values()), changed(off)
    assert w3.run('systemctl is-enabled podnet-repair.timer 2>&1', check=False).strip() != 'enabled'
    assert pods_reach(w2, 10) is not None
    gone = machines.playbook('playbooks/site.yml', '-e', 'podnet_state=absent')
    assert all(n > 0 for n in changed(gone).values()), changed(gone)
    machines.playbook('playbooks/lab.yml', '-e', 'lab_reboot=worker3')
    assert set(link['ifname'] for link in w3.ipj('link', 'show')) == {'lo', 'eth0'}
    assert w3.ipj('route', 'show', 'proto', '57') == []
    left = w3.run('sudo ls /etc/systemd/system/podnet-* /var/lib/podnet/lib /var/lib/podnet/applied.json 2>&1; '
                  'systemctl list-units --all --no-legend "podnet*"', check=False)
    assert left.count('No such file') == 3 and 'podnet-' not in left.replace('/etc/systemd/system/podnet-*', ''), left
    with capsys.disabled():
        print('\n' + '\n'.join(report))
