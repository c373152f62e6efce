# -*- coding: utf-8 -*-
"""The collection on booted Debian machines (inventories/lab-machines), managed as real hosts are:
over SSH as an unprivileged user with sudo, with the distribution's Python and pyroute2.

One lab for the whole file (built once: the image is cached, each boot takes seconds), removed at the
end, also when a test fails, and checked to leave no process, namespace, disk or key behind. The
machines' state is read back over SSH with `ip -j`, never through the collection's own code.
On this machine's kernel the machines run host-gw and vxlan (it has no ipip: test_machines_uml.py).
"""

from __future__ import annotations

import copy
import json
import re

from lab import inventory_copy, recap, with_ipv6_pod_ranges

PROTO = '57'
CODE_CACHE = '/var/lib/podnet/lib/ansible_collections/openkube/podnet/plugins/module_utils/__pycache__'
MATRIX = {'host-gw': 'ok plain IP', 'vxlan': 'ok vxlan vni 1 udp 8472'}


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


def test_machines_are_hosts_of_their_own(machines):
    """systemd is PID 1 and the system is running; sshd let the lab's user in, sudo makes it root; the
    machine configured its own eth0 (systemd-networkd); worker2 has Debian's pyroute2 0.7.2 and nftables, worker3
    neither."""
    for name, machine in machines.machines.items():
        out = machine.run('cat /proc/1/comm; systemctl is-system-running --wait; id -un; sudo -n id -u; hostname; '
                          # networkd can still be configuring eth0 once the system is running: wait for it (60 s)
                          '/lib/systemd/systemd-networkd-wait-online -i eth0 --timeout=60 >/dev/null 2>&1; '
                          'networkctl status eth0 --no-pager | grep -i "state:"').split('\n')
        assert out[:5] == ['systemd', 'running', 'podnet', '0', name], out
        assert 'configured' in out[5], out
        addrs = [a['local'] for a in machine.ipj('-4', 'addr', 'show', 'eth0')[0]['addr_info']]
        assert addrs == [machine.node_ip]
        probe = machine.run('/usr/bin/python3 -c "import pyroute2" 2>&1; dpkg-query -W -f="\\${Version}" python3-pyroute2',
                            check=False)
        nft = machine.run('ls /usr/sbin/nft 2>/dev/null; true').strip()
        if name == 'worker2':
            assert probe.strip() == '0.7.2-2', probe
            assert nft == '/usr/sbin/nft', nft
        else:
            assert 'No module named' in probe, probe
            assert nft == '', nft
    w2, w3 = machines.machines['worker2'], machines.machines['worker3']
    assert w2.run('cat /etc/machine-id') != w3.run('cat /etc/machine-id')  # each its own disk and /etc


def test_every_mode_over_ssh(machines, capsys):
    """site.yml over SSH and sudo: the first run installs Debian's python3-pyroute2 on worker3 from the
    machines' local repository (they are offline), then each mode converges, verify.yml sees every pair
    'ok' with the mode's encapsulation, a second run changes nothing, and a mode switch leaves no residue. The
    encapsulation filter is what each host can hold: worker2 (nftables installed) the table ip podnet, worker3
    (none) the iptables chain PODNET-INPUT with its ip set; host-gw has neither."""
    w3 = machines.machines['worker3']
    lines = []
    for mode in ('vxlan', 'host-gw', 'vxlan'):
        first = machines.playbook('playbooks/site.yml', '-e', 'mode=' + mode)
        assert all(n > 0 for n in changed(first).values()), changed(first)
        verify = machines.playbook('playbooks/verify.yml', '-e', 'mode=' + mode)
        out = verify.stdout
        matrix = [line.strip().strip('",') for line in out[out.index('"mode '):].splitlines()[:4]]
        assert sum(line.count(MATRIX[mode]) for line in matrix) == 2, matrix
        lines += matrix
        again = machines.playbook('playbooks/site.yml', '-e', 'mode=' + mode, '-v')
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
        # Debian's Python over SSH and sudo runs the collection's code compiled once, from the host's cache beside
        # the repair runner's copy of the code (_codecache.py): compiled by the first run that found the copy
        caches = [json.loads(m) for m in re.findall(r'"code_cache": (\{[^{}]*\})', again.stdout)]
        assert [c['folder'] for c in caches] == [CODE_CACHE] * 2, caches
        assert all(c['loaded'] + c['compiled'] >= 25 and c['written'] == c['compiled'] for c in caches), caches
        if len(lines) == 12:  # the third mode: every module of the converge from the cache
            assert [(c['compiled'], c['written']) for c in caches] == [(0, 0)] * 2, caches
        for machine in machines.machines.values():
            links = set(link['ifname'] for link in machine.ipj('link', 'show'))
            assert ('podnet.vxlan' in links) == (mode == 'vxlan'), links
            routes = machine.ipj('route', 'show', 'proto', PROTO)
            peer_range = '192.168.11.0/24' if machine.name == 'worker2' else '192.168.10.0/24'
            peer_dev = {'vxlan': 'podnet.vxlan', 'host-gw': 'eth0'}[mode]
            assert [r['dev'] for r in routes if r['dst'] == peer_range] == [peer_dev], routes
            rules = machine.run('sudo iptables-save -t filter')
            if machine.name == 'worker2':
                tables = machine.run('sudo nft list tables')
                assert ('table ip podnet' in tables) == (mode == 'vxlan'), tables
                if mode == 'vxlan':
                    chain = machine.run('sudo nft list table ip podnet')
                    assert 'udp dport 8472 ip saddr != @peers drop' in chain and '10.57.4.21' in chain, chain
                assert 'PODNET-INPUT' not in rules, rules
            else:
                want = '-A PODNET-INPUT -p udp -m udp --dport 8472 -m set --match-set podnet-peers src -j RETURN'
                assert (want in rules) == (mode == 'vxlan'), rules
    assert w3.run('dpkg-query -W -f="\\${Version}" python3-pyroute2') == '0.7.2-2'
    with capsys.disabled():
        print('\n' + '\n'.join(lines))


def test_dual_stack_pods_over_ssh(machines, tmp_path, capsys):
    """Issue 18 on the booted machines: their networkd gave eth0 its IPv6 address too (inventories/lab-machines has
    a dual-stack underlay); with an IPv6 pod range per host (a copy of the inventory), vxlan with the IPv6 pods
    over the IPv6 underlay, then host-gw, each pinged with ping -6 from pod to pod, verify's IPv6 matrix, a rerun
    with no change; back to IPv4 only, no IPv6 route of the collection is left."""
    w2 = machines.machines['worker2']
    for machine in machines.machines.values():
        addrs = [a['local'] for a in machine.ipj('-6', 'addr', 'show', 'eth0')[0]['addr_info'] if a['scope'] == 'global']
        assert addrs == [machines.hostvars[machine.name]['podnet_node_ip6']], addrs
    dual = copy.copy(machines)
    dual.inventory = inventory_copy(machines.inventory, str(tmp_path / 'inventory'), with_ipv6_pod_ranges)
    lines = []
    for mode, extra, route, cell in (
            ('vxlan', ['-e', 'podnet_vxlan_underlay=ipv6'], ('fd00:10:244:11::', 'podnet.vxlan6'),
             'ok vxlan vni 1 udp 8472 over IPv6'),
            ('host-gw', [], ('fd57:4::21', 'eth0'), 'ok plain IP over IPv6')):
        first = dual.playbook('playbooks/site.yml', '-e', 'mode=' + mode, *extra)
        assert all(n > 0 for n in changed(first).values()), changed(first)
        routes = [(r.get('gateway'), r['dev']) for r in w2.ipj('-6', 'route', 'show', 'proto', PROTO)
                  if r['dst'] == 'fd00:10:244:11::/64']
        assert routes == [route], (routes, first.stdout[-6000:])
        ping = w2.run('sudo ip netns exec ns1 ping -6 -c 2 -W 2 -q fd00:10:244:11::a')
        assert '2 received' in ping, ping
        verify = dual.playbook('playbooks/verify.yml', '-e', 'mode=' + mode, *extra)
        assert verify.stdout.count(cell) == 2 and 'FAIL' not in verify.stdout, verify.stdout[-3000:]
        lines += [line.strip().strip('",') for line in verify.stdout.splitlines() if 'over IPv6' in line][:2]
        again = dual.playbook('playbooks/site.yml', '-e', 'mode=' + mode, *extra)
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
    back = machines.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert all(n > 0 for n in changed(back).values()), changed(back)
    for machine in machines.machines.values():
        assert machine.ipj('-6', 'route', 'show', 'proto', PROTO) == []
        assert 'PODNET' not in machine.run('sudo ip6tables-save')
    with capsys.disabled():
        print('\n' + '\n'.join(lines))


def test_ebpf_filter_refused_where_the_container_forbids_bpf(machines):
    """podnet_encap_filter_backend bpf on the booted machines: systemd-nspawn's containers may not call bpf(2)
    (no CAP_BPF, CAP_SYS_ADMIN in a user namespace of their own, a system call filter), which is what a user meets in a
    container-based host. node_facts' probe, run by the converge over SSH with Debian's Python, says so, and the run
    fails on both hosts before any change, naming the host, the variable and why; nothing of the hosts' network state
    differs afterwards (ip -j, tc -j, read over SSH)."""
    def state(machine):
        return (machine.ipj('-d', 'link', 'show'), machine.ipj('route', 'show', 'table', 'all'),
                machine.run('sudo tc -j qdisc show'), machine.run('sudo iptables -S'))
    before = dict((name, state(m)) for name, m in machines.machines.items())
    proc = machines.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', 'podnet_encap_filter_backend=bpf', check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    # every host whose converge ran: worker3 without pyroute2 (this test alone, before test_every_mode installs it)
    # is sent to the rescue that installs it, and the play stops at worker2's failure first
    ran = [name for name, m in machines.machines.items()
           if 'No module named' not in m.run('/usr/bin/python3 -c "import pyroute2" 2>&1; true')]
    assert 'worker2' in ran
    for name in ran:
        assert ("%s: podnet_encap_filter_backend 'bpf' cannot filter the encapsulation here: this host may not load eBPF "
                "programs (create the eBPF map of the peers failed: Operation not permitted" % name) in proc.stdout, proc.stdout[-3000:]
        assert 'Traceback' not in proc.stdout
    assert dict((name, state(m)) for name, m in machines.machines.items()) == before


VENV = '/opt/podnet/pyroute2'
VENV_VARS = json.dumps({'podnet_pyroute2_venv': VENV,
                        'podnet_pyroute2_pip_args': '--no-index --find-links /opt/podnet-repo/wheels'})


def test_pyroute2_in_a_virtual_environment_of_its_own(machines):
    """The opt-in fallback for a distribution without a usable pyroute2 (podnet_pyroute2_venv): worker3's
    package is removed, then site.yml installs python3-venv from the local repository, makes the environment,
    installs pyroute2 into it with its own pip from the repository's wheel (offline), and runs worker3's
    modules with its Python; the system Python stays without pyroute2. verify is ok, a rerun changes nothing."""
    w3 = machines.machines['worker3']
    w3.run('sudo DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq python3-pyroute2 >/dev/null')
    assert 'No module named' in w3.run('/usr/bin/python3 -c "import pyroute2" 2>&1', check=False)
    first = machines.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', VENV_VARS)
    assert changed(first)['worker3'] > 0 and changed(first)['worker2'] == 0, changed(first)
    assert "Install pyroute2 into a virtual environment" in first.stdout
    version = w3.run(VENV + '/bin/python -c "import importlib.metadata as m; print(m.version(\'pyroute2\'))"')
    assert version.strip() == '0.9.7'
    assert 'No module named' in w3.run('/usr/bin/python3 -c "import pyroute2" 2>&1', check=False)
    # the boot and repair runner uses the Python that runs the modules: the environment's
    assert w3.run('sudo head -n 1 /var/lib/podnet/lib/podnet-apply').startswith('#!%s/bin/python' % VENV)
    assert w3.run('dpkg-query -W -f="\\${Status}" python3-pyroute2 2>&1', check=False).find('install ok installed') < 0
    verify = machines.playbook('playbooks/verify.yml', '-e', 'mode=vxlan', '-e', VENV_VARS)
    assert verify.stdout.count(MATRIX['vxlan']) >= 2
    again = machines.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '-e', VENV_VARS)
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
