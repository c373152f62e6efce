#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Data-plane benchmark: pod-to-pod iperf3 between worker2's ns1 and worker3's ns1.

For each mode two labs of the same shape (inventories/lab: worker2 10.57.4.20, worker3 10.57.4.21):
one configured by the collection (playbooks/site.yml -e mode=M), one configured by hand with iproute2
(the reference setup's commands with the right MTU: the best a person could do). The underlay is
host-to-host (eth0 to eth0) in the first lab. Every configuration is measured in turn, repetition
after repetition (the order rotates), and the medians are reported:

* TCP throughput: ``iperf3 -c POD -t S`` (receiver's bits per second);
* small-packet rate: ``iperf3 -u -l 64 -b 0 -t S`` (packets received per second).

``run_host(...)`` runs it on this machine's kernel (labs built with playbooks/lab.yml);
``dataplane.py --guest ...`` runs it inside User-Mode Linux (labs built directly with the lab's
Python code, which is what the lab module runs, because process start-up is slow there).
Traffic stays between lab namespaces.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
VENV_BIN = os.path.join(REPO, '.venv', 'bin')
LAB_ROOT = '/run/podnet'
LAB_INV = os.path.join(REPO, 'inventories', 'lab')
HOSTS = [('worker2', '10.57.4.20', '192.168.10.0/24'), ('worker3', '10.57.4.21', '192.168.11.0/24')]
SEGMENTS = [{'name': 'underlay', 'cidr': '10.57.4.0/24', 'mtu': 1500}]
HAND_MTU = {'host-gw': 1500, 'vxlan': 1450, 'ipip': 1480}
PORT_POD, PORT_UNDERLAY = 5201, 5202


def loadavg():
    """The load average over 1, 5 and 15 minutes, as /proc/loadavg writes it: every benchmark notes it beside its
    numbers (the machine is shared)."""
    with open('/proc/loadavg') as f:
        return f.read().split()[:3]


def _log(msg):
    sys.stderr.write('[dataplane %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def nsenter(lab, host):
    d = os.path.join(LAB_ROOT, lab, host)
    return ['nsenter', '--net=%s/net' % d, '--mount=%s/mnt' % d, '--uts=%s/uts' % d, '--']


def argv_in(lab, host, pod, argv):
    return nsenter(lab, host) + (['ip', 'netns', 'exec', pod] if pod else []) + list(argv)


def sh(lab, host, script, pod=None, check=True, timeout=120):
    proc = subprocess.run(argv_in(lab, host, pod, ['/bin/sh', '-ec', script]), capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('%s/%s: %s failed: %s' % (lab, host, script.strip().splitlines()[-1], proc.stderr.strip()))
    return proc


def force_teardown(name):
    """Remove a lab with the lab's own Python code (no Ansible)."""
    path = os.path.join(REPO, '.tmp', 'collections')
    if path not in sys.path:
        sys.path.insert(0, path)
    from ansible_collections.openkube.podnet.plugins.module_utils import _lab_namespaces
    _lab_namespaces.Lab(_lab_namespaces.Topology(name, {}, [])).teardown()


def build_direct(name):
    """Build a two-host lab with the lab's Python code (what the lab module runs), without Ansible."""
    path = os.path.join(REPO, '.tmp', 'collections')
    if path not in sys.path:
        sys.path.insert(0, path)
    from ansible_collections.openkube.podnet.plugins.module_utils import _lab_namespaces
    topo = _lab_namespaces.topology_from_params({'name': name, 'segments': SEGMENTS,
                                                 'hosts': [{'name': h, 'node_ip': ip} for h, ip, _c in HOSTS]})
    lab = _lab_namespaces.Lab(topo)
    try:
        lab.apply()
    finally:
        close = getattr(lab, 'close', None)
        if close is not None:
            close()


def hand_script(mode, index, hosts=None):
    """iproute2 commands that configure host ``index`` for ``mode`` as a person would (reference setup)."""
    hosts = HOSTS if hosts is None else hosts
    name, node_ip, cidr = hosts[index]
    net = ipaddress.ip_network(cidr)
    mtu = HAND_MTU[mode]
    mac = '0e:00:00:57:00:%02x' % (index + 1)
    lines = [
        'sysctl -qw net.ipv4.ip_forward=1',
        'ip netns add ns1',
        'ip link add veth-ns1 mtu %d type veth peer name eth0 mtu %d netns ns1' % (mtu, mtu),
        'ip addr add %s/%d dev veth-ns1' % (net[1], net.prefixlen),
        'ip link set veth-ns1 up',
        'ip -n ns1 link set lo up',
        'ip -n ns1 addr add %s/%d dev eth0' % (net[10], net.prefixlen),
        'ip -n ns1 link set eth0 up',
        'ip -n ns1 route add default via %s' % net[1],
    ]
    if mode == 'vxlan':
        lines += ['ip link add vxlan0 address %s type vxlan id 1 dstport 8472 local %s dev eth0 nolearning' % (mac, node_ip),
                  'ip link set vxlan0 up',
                  'ip addr add %s/32 dev vxlan0' % net[0]]
    elif mode == 'ipip':
        lines += ['ip link add tun0 type ipip local %s' % node_ip, 'ip link set tun0 up']
    for j, (_peer, peer_ip, peer_cidr) in enumerate(hosts):
        if j == index:
            continue
        pnet = ipaddress.ip_network(peer_cidr)
        if mode == 'host-gw':
            lines.append('ip route add %s via %s dev eth0' % (pnet, peer_ip))
        elif mode == 'vxlan':
            peer_mac = '0e:00:00:57:00:%02x' % (j + 1)
            lines += ['ip route add %s via %s dev vxlan0 onlink' % (pnet, pnet[0]),
                      'ip neigh add %s lladdr %s dev vxlan0 nud permanent' % (pnet[0], peer_mac),
                      'bridge fdb append %s dev vxlan0 dst %s' % (peer_mac, peer_ip)]
        elif mode == 'ipip':
            lines.append('ip route add %s via %s dev tun0 onlink' % (pnet, peer_ip))
    return '\n'.join(lines) + '\n'


def hand_configure(lab, mode):
    for i, (host, _ip, _cidr) in enumerate(HOSTS):
        sh(lab, host, hand_script(mode, i))


def pod_ip(index):
    return str(ipaddress.ip_network(HOSTS[index][2])[10])


def check_path(lab, dst, pod='ns1'):
    """True when worker2's pod (or worker2 itself) reaches ``dst``."""
    for dummy in range(20):
        if sh(lab, 'worker2', 'ping -c1 -W1 -q %s' % dst, pod=pod, check=False).returncode == 0:
            return True
        time.sleep(0.5)
    return False


def link_facts(lab, host='worker2', pod='ns1'):
    """MTUs of the pod's eth0 and of the host's devices (to show the settings compared)."""
    facts = {}
    p = sh(lab, host, 'ip -j link show', check=False)
    try:
        facts['host'] = dict((l['ifname'], l.get('mtu')) for l in json.loads(p.stdout))
    except ValueError:
        pass
    p = sh(lab, host, 'ip -j link show eth0', pod=pod, check=False)
    try:
        facts['pod_eth0_mtu'] = json.loads(p.stdout)[0].get('mtu')
    except (ValueError, IndexError):
        pass
    return facts


class Config(object):
    """One measured path: client and server namespaces, destination address and port."""

    def __init__(self, name, lab, pod, dst, port):
        self.name, self.lab, self.pod, self.dst, self.port = name, lab, pod, dst, port
        self.server = None

    def start_server(self):
        self.server = subprocess.Popen(argv_in(self.lab, 'worker3', self.pod, ['iperf3', '-s', '-p', str(self.port)]),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_server(self):
        if self.server is not None and self.server.poll() is None:
            self.server.kill()  # the nsenter process we started; lab teardown also kills what is left
            try:
                self.server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def client(self, extra, seconds):
        argv = ['iperf3', '-c', self.dst, '-p', str(self.port), '-t', str(seconds), '-J'] + list(extra)
        for attempt in range(10):
            proc = subprocess.run(argv_in(self.lab, 'worker2', self.pod, argv), capture_output=True, text=True,
                                  timeout=seconds + 60, check=False)
            try:
                data = json.loads(proc.stdout)
            except ValueError:
                data = {'error': proc.stderr or 'no output'}
            if 'error' not in data:
                return data
            time.sleep(0.5)
        raise RuntimeError('%s: iperf3 failed: %s' % (self.name, data.get('error')))

    def tcp(self, seconds):
        data = self.client([], seconds)
        return data['end']['sum_received']['bits_per_second'] / 1e9  # Gbit/s

    def udp(self, seconds):
        data = self.client(['-u', '-l', '64', '-b', '0'], seconds)
        s = data['end']['sum']
        secs = s.get('seconds') or seconds
        return (s.get('packets', 0) - s.get('lost_packets', 0)) / float(secs) / 1e3  # kpps received


def measure(configs, reps, tcp_seconds, udp_seconds, log=_log):
    samples = dict((c.name, dict(tcp=[], udp=[])) for c in configs)
    for c in configs:
        c.start_server()
    try:
        time.sleep(0.5)
        for rep in range(reps):
            k = rep % len(configs)
            order = configs[k:] + configs[:k]  # rotate, so no configuration is always first
            for c in order:
                samples[c.name]['tcp'].append(round(c.tcp(tcp_seconds), 3))
            for c in order:
                samples[c.name]['udp'].append(round(c.udp(udp_seconds), 1))
            log('repetition %d/%d: %s' % (rep + 1, reps, ', '.join('%s %.2f Gbit/s %.0f kpps' % (
                c.name, samples[c.name]['tcp'][-1], samples[c.name]['udp'][-1]) for c in configs)))
    finally:
        for c in configs:
            c.stop_server()
    return samples


#: the collection's configurations measured beside the hand-configured one: kind -> (lab name tag, extra
#: variables). "no firewall" turns off the collection's own iptables chains (podnet_encap_filter,
#: podnet_forward_accept), which the hand configuration does not have: it tells the device settings
#: (MTU, vxlan options) from the cost of the chains.
VARIANTS = {
    'collection': ('dp', []),
    'collection, no firewall': ('dpn', ['-e', 'podnet_encap_filter=false', '-e', 'podnet_forward_accept=false']),
}


def summarize(samples, modes, kinds=('collection', 'hand')):
    rows = []
    under = samples['underlay']
    u_tcp, u_udp = statistics.median(under['tcp']), statistics.median(under['udp'])
    rows.append(dict(config='underlay', mode='underlay', tcp=round(u_tcp, 3), udp=round(u_udp, 1),
                     tcp_all=under['tcp'], udp_all=under['udp'], r_tcp_underlay=1.0, r_udp_underlay=1.0))
    for mode in modes:
        for kind in kinds:
            name = '%s (%s)' % (mode, kind)
            s = samples[name]
            tcp, udp = statistics.median(s['tcp']), statistics.median(s['udp'])
            row = dict(config=name, mode=mode, kind=kind, tcp=round(tcp, 3), udp=round(udp, 1), tcp_all=s['tcp'],
                       udp_all=s['udp'], r_tcp_underlay=round(tcp / u_tcp, 3), r_udp_underlay=round(udp / u_udp, 3))
            if kind != 'hand' and 'hand' in kinds:
                h = samples['%s (hand)' % mode]
                row['r_tcp_hand'] = round(tcp / statistics.median(h['tcp']), 3)
                row['r_udp_hand'] = round(udp / statistics.median(h['udp']), 3)
            rows.append(row)
    return rows


def lab_name(prefix, mode, kind):
    tag = 'dph' if kind == 'hand' else VARIANTS[kind][0]
    return '%s-%s-%s' % (prefix, tag, mode.replace('-', ''))


def site_cmd(lab, mode):
    return [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', LAB_INV, os.path.join(REPO, 'playbooks', 'site.yml'),
            '-e', 'podnet_lab_name=' + lab, '-e', 'mode=' + mode]


def ansible_env():
    e = dict(os.environ)
    e.update({'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'), 'ANSIBLE_NOCOLOR': '1',
              'PATH': VENV_BIN + os.pathsep + os.environ.get('PATH', '')})
    return e


def run_configs(modes, reps, tcp_seconds, udp_seconds, prefix, build, converge, teardown, log=_log,
                variants=('collection', 'hand')):
    """Build the labs, configure them, measure interleaved, remove them; -> dict with rows and raw samples.

    variants: 'hand' and keys of VARIANTS; converge(lab, mode, extra) applies the collection."""
    built = []
    kinds = tuple(variants)
    out = dict(modes=modes, reps=reps, tcp_seconds=tcp_seconds, udp_seconds=udp_seconds, links={},
               collection='collection' in kinds, kinds=list(kinds))
    try:
        configs = []
        for mode in modes:
            for kind in kinds:
                lab = lab_name(prefix, mode, kind)
                built.append(lab)
                build(lab)
                if kind == 'hand':
                    hand_configure(lab, mode)
                else:
                    t = time.monotonic()
                    converge(lab, mode, VARIANTS[kind][1])
                    if kind == 'collection':
                        out.setdefault('converge_seconds', {})[mode] = round(time.monotonic() - t, 1)
                if not check_path(lab, pod_ip(1)):
                    raise RuntimeError('%s: no pod-to-pod path in lab %s' % (mode, lab))
                name = '%s (%s)' % (mode, kind)
                out['links'][name] = link_facts(lab)
                configs.append(Config(name, lab, 'ns1', pod_ip(1), PORT_POD))
        configs.insert(0, Config('underlay', lab_name(prefix, modes[0], kinds[0]), None, HOSTS[1][1], PORT_UNDERLAY))
        samples = measure(configs, reps, tcp_seconds, udp_seconds, log=log)
        out['samples'] = samples
        out['rows'] = summarize(samples, modes, kinds)
    except Exception as exc:
        out['error'] = '%s: %s' % (type(exc).__name__, exc)
        log('data plane: %s' % out['error'])
    finally:
        for lab in built:
            try:
                teardown(lab)
            except Exception as exc:
                log('teardown of %s: %s; removing it directly' % (lab, exc))
                force_teardown(lab)
    return out


def run_host(ans, modes, reps, tcp_seconds, udp_seconds, lab_prefix='bench', log=_log,
             variants=('collection', 'collection, no firewall', 'hand')):
    """On this machine's kernel: labs built and converged with Ansible (ans: run.Ansible)."""
    def build(lab):
        r = ans.playbook(os.path.join(REPO, 'playbooks', 'lab.yml'), LAB_INV, lab)
        if r['rc'] != 0:
            raise RuntimeError('lab %s: build failed' % lab)

    def converge(lab, mode, extra):
        r = ans.playbook(os.path.join(REPO, 'playbooks', 'site.yml'), LAB_INV, lab, extra=['-e', 'mode=' + mode] + list(extra))
        if r['rc'] != 0:
            raise RuntimeError('lab %s: site.yml -e mode=%s failed' % (lab, mode))

    def teardown(lab):
        r = ans.playbook(os.path.join(REPO, 'playbooks', 'lab.yml'), LAB_INV, lab, extra=['-e', 'lab_state=absent'])
        if r['rc'] != 0 or os.path.exists(os.path.join(LAB_ROOT, lab)):
            force_teardown(lab)

    log('data plane on this kernel: modes %s, %d x (%d s TCP + %d s UDP)' % (','.join(modes), reps, tcp_seconds, udp_seconds))
    return run_configs(modes, reps, tcp_seconds, udp_seconds, lab_prefix, build, converge, teardown, log=log,
                       variants=variants)


def run_guest(modes, reps, tcp_seconds, udp_seconds, prefix='umlb', collection=True):
    """Inside User-Mode Linux: labs built directly, the collection's modes with ansible-playbook."""
    def converge(lab, mode, extra):
        # iptables-nft cannot write the collection's chains under the UML kernel here ("TABLE_ADD
        # failed (Operation not supported)"); iptables-legacy can, so the chains are on, as on
        # this machine's kernel (the defaults: podnet_encap_filter, podnet_forward_accept).
        cmd = site_cmd(lab, mode) + ['-e', 'podnet_iptables=iptables-legacy'] + list(extra)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), cwd=REPO, check=False)
        if proc.returncode != 0:
            raise RuntimeError('site.yml -e mode=%s failed: %s' % (mode, proc.stdout[-1500:]))

    def teardown(lab):
        force_teardown(lab)

    return run_configs(modes, reps, tcp_seconds, udp_seconds, prefix, build_direct, converge, teardown,
                       variants=('collection', 'hand') if collection else ('hand',))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--guest', action='store_true', help='run inside User-Mode Linux (labs built without Ansible)')
    p.add_argument('--modes', default='host-gw,vxlan,ipip')
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--tcp-seconds', type=int, default=3)
    p.add_argument('--udp-seconds', type=int, default=2)
    p.add_argument('--out', required=True, help='JSON file for the results')
    p.add_argument('--hand-only', action='store_true', help='only the hand-configured modes (no Ansible: fast)')
    args = p.parse_args()
    start = time.monotonic()
    out = run_guest(args.modes.split(','), args.reps, args.tcp_seconds, args.udp_seconds, collection=not args.hand_only)
    out['kernel'] = os.uname().release
    out['seconds'] = round(time.monotonic() - start, 1)
    with open(args.out, 'w') as f:
        json.dump(out, f)
    return 1 if 'error' in out else 0


if __name__ == '__main__':
    sys.exit(main())
