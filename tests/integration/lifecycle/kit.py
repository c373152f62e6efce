# -*- coding: utf-8 -*-
"""Helpers of the lifecycle tests: hand-made objects, playbook runs with per-task results, and timings.

Normalised dumps of every host's state (``dump(lab)``) are tests/dumps.py's, shared by every suite.

This file also runs as a script inside User-Mode Linux:
``python kit.py dump LAB HOST...`` prints the normalised dump as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(os.path.dirname(HERE))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from lab import REPO, VENV_BIN, LabHost, recap  # noqa: E402  (tests/lab.py)
import dumps  # noqa: E402  (tests/dumps.py)
from uml.harness import processes  # noqa: E402  (tests/uml/harness.py)

CALLBACKS = os.path.join(HERE, 'callback_plugins')

#: (what, seconds) of every playbook run and lab operation, printed at the end of the session
TIMINGS = []


def lab_name(purpose):
    """A unique lab name for this suite (lc-PURPOSE-xxxx): never a lab someone else built."""
    import uuid
    return 'lc-%s-%s' % (purpose, uuid.uuid4().hex[:4])


# normalised dumps: tests/dumps.py, the one dump of every suite (kit.dump etc. for the lifecycle tests)
IPTABLES = dumps.IPTABLES
dump, host_state, differences, assert_same = dumps.dump, dumps.host_state, dumps.differences, dumps.assert_same


def copy(state):
    return json.loads(json.dumps(state))


def without(state, hand):
    """A dump minus the hand-made objects of ``hand`` (see handmade())."""
    state = json.loads(json.dumps(state))
    for host, s in state.items():
        for dev in hand['devices']:
            s['links'].pop(dev, None)
            s['addrs'].pop(dev, None)
        devs = set(hand['devices'])
        s['routes'] = [r for r in s['routes'] if r.get('dev') not in devs and r.get('dst') not in hand['route_dsts']]
        s['neigh'] = [n for n in s['neigh'] if n.get('dev') not in devs and n.get('dst') not in hand['neigh_dsts']]
        s['fdb'] = [f for f in s['fdb'] if f.get('ifname') not in devs]
    return state


# --------------------------------------------------------------------------- hand-made objects
#: Objects a person made by hand, resembling the collection's, on every lab host (ownership).
HANDMADE_SCRIPT = r'''
set -e
peer=$1
ip route add 192.168.99.0/24 via "$peer" dev eth0 proto static
ip neigh add 10.57.4.99 lladdr 0e:00:00:00:00:99 dev eth0 nud permanent
ip link add podnet.test0 type veth peer name podnet.test1
ip link set podnet.test0 up
ip link add vxlan99 type vxlan id 99 dstport 4789 dev eth0 nolearning
ip link set vxlan99 address 0e:00:00:00:99:01 up
ip addr add 192.168.98.0/32 dev vxlan99
bridge fdb append 0e:00:00:00:99:02 dev vxlan99 dst "$peer" self permanent
ip neigh add 192.168.98.2 lladdr 0e:00:00:00:99:02 dev vxlan99 nud permanent
ip route add 192.168.98.0/24 via 192.168.98.2 dev vxlan99 onlink
'''
HANDMADE_IPIP = 'ip link add tun99 type ipip local "$2" remote 10.57.4.99\nip link set tun99 up\n'
#: the iptables program (its -save companion too): iptables-legacy under User-Mode Linux, whose kernel has
#: no nf_tables for IPv4 (the collection then runs with -e podnet_iptables=iptables-legacy)
HANDMADE_FIREWALL = r'''
$IPT -w -N MYFW
$IPT -w -A MYFW -s 10.57.4.99/32 -j ACCEPT
$IPT -w -A INPUT -j MYFW
$IPT -w -A FORWARD -s 192.168.99.0/24 -j ACCEPT
'''.replace('$IPT', IPTABLES)
HANDMADE_RULES = ('-A MYFW -s 10.57.4.99/32 -j ACCEPT', '-A INPUT -j MYFW', '-A FORWARD -s 192.168.99.0/24 -j ACCEPT')
HANDMADE = dict(devices=['podnet.test0', 'podnet.test1', 'vxlan99', 'tun99'],
                route_dsts=['192.168.99.0/24', '192.168.98.0/24'], neigh_dsts=['10.57.4.99'])


def handmade(lab, ipip=False, firewall=True, hosts=None):
    """Add the hand-made objects on ``hosts`` of ``lab`` (default: all): a route via the next host's
    node IP (proto static), a permanent neighbour on eth0, a veth pair named podnet.test0/1, a vxlan
    device vxlan99 with VNI 99 on port 4789 (ours uses VNI 1 on 8472; a foreign device on our port
    is refused by the preflight) holding an address, an FDB entry, a permanent neighbour and an onlink route; with ``firewall``, an iptables chain
    MYFW jumped to from INPUT and an accept rule in FORWARD (the collection's chains hook into the
    same built-in chains); with ``ipip``, an ipip device tun99 with local and remote."""
    names = sorted(hosts or lab.hosts)
    for i, name in enumerate(names):
        peer = lab.hostvars[names[(i + 1) % len(names)]]['podnet_node_ip']
        me = lab.hostvars[name]['podnet_node_ip']
        script = HANDMADE_SCRIPT + (HANDMADE_IPIP if ipip else '') + (HANDMADE_FIREWALL if firewall else '')
        lab.hosts[name].run(['bash', '-c', script, 'handmade', peer, me], check=True)
    return HANDMADE


def assert_handmade(state, ipip=False, firewall=True):
    """Every hand-made object is still there, unchanged."""
    for host, s in state.items():
        for dev in ('podnet.test0', 'podnet.test1', 'vxlan99') + (('tun99',) if ipip else ()):
            assert dev in s['links'], '%s: hand-made device %s is gone' % (host, dev)
        info = s['links']['vxlan99']['linkinfo']['info_data']
        assert (info['id'], info['port'], s['links']['vxlan99']['address']) == (99, 4789, '0e:00:00:00:99:01'), info
        routes = [(r['dst'], r.get('gateway'), r.get('protocol')) for r in s['routes'] if r.get('table') is None]
        assert [r for r in routes if r[0] == '192.168.99.0/24' and r[2] == 'static'], (host, routes)
        assert [r for r in routes if r[0] == '192.168.98.0/24' and r[1] == '192.168.98.2'], (host, routes)
        neigh = [(n['dst'], n['dev'], n.get('lladdr')) for n in s['neigh']]
        assert ('10.57.4.99', 'eth0', '0e:00:00:00:00:99') in neigh, (host, neigh)
        assert ('192.168.98.2', 'vxlan99', '0e:00:00:00:99:02') in neigh, (host, neigh)
        fdb = [(f['mac'], f.get('dst')) for f in s['fdb'] if f.get('ifname') == 'vxlan99' and f.get('dst')]
        assert fdb and fdb[0][0] == '0e:00:00:00:99:02', (host, fdb)
        assert '192.168.98.0' in [a['local'] for a in s['addrs']['vxlan99']], (host, s['addrs']['vxlan99'])
        if firewall:
            rules = s['iptables'].get('filter', '').splitlines()
            for rule in HANDMADE_RULES:
                assert rule in rules, '%s: hand-made iptables rule %r is gone:\n%s' % (host, rule, '\n'.join(rules))


# --------------------------------------------------------------------------- playbook runs
class Run(object):
    """One ansible-playbook run: ``proc`` (CompletedProcess or None when killed), ``events``
    (podnet_events lines), ``seconds``, ``recap``."""

    def __init__(self, proc, events, seconds, stdout):
        self.proc = proc
        self.events = events
        self.seconds = seconds
        self.stdout = stdout
        self.recap = recap(stdout) if 'PLAY RECAP' in stdout else {}

    @property
    def rc(self):
        return self.proc.returncode if self.proc is not None else None

    def changed(self):
        """{host: number of changed tasks} from the recap."""
        return dict((h, c['changed']) for h, c in self.recap.items())

    def per_task(self, include_skipped=False):
        """{(task, host): changed} for every task result (ok/changed/failed)."""
        return dict(((e['task'], e['host']), e['changed']) for e in self.events
                    if include_skipped or e['status'] != 'skipped')

    def converge(self):
        """{host: event} of the converge module (podnet_apply=one_call)."""
        return dict((e['host'], e) for e in self.events if e['action'].endswith('converge') and e['status'] != 'skipped')

    def failures(self):
        return [e for e in self.events if e['status'] == 'failed']

    def tail(self, n=5000):
        return self.stdout[-n:]


def _command(lab, playbook, args):
    path = playbook if os.path.isabs(playbook) else os.path.join(REPO, playbook)
    return [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', lab.inventory, path] + lab.extra + list(args)


def _env(lab, events_file):
    env = dict(lab.env)
    env.update(ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED='podnet_events',
               PODNET_EVENTS_FILE=events_file)
    return env


def _events(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        events = [json.loads(line) for line in f if line.strip()]
    os.unlink(path)
    return events


def _events_file():
    import tempfile
    fd, path = tempfile.mkstemp(prefix='podnet-events-', suffix='.jsonl')
    os.close(fd)
    os.unlink(path)
    return path


def play(lab, playbook, *args, ok=True, what=None, timeout=900):
    """Run a playbook against ``lab`` with the podnet_events callback -> Run; asserts rc 0 when ``ok``."""
    events_file = _events_file()
    start = time.monotonic()
    proc = subprocess.run(_command(lab, playbook, args), capture_output=True, text=True, check=False,
                          env=_env(lab, events_file), cwd=REPO, timeout=timeout)
    seconds = time.monotonic() - start
    TIMINGS.append((what or '%s %s' % (os.path.basename(playbook), ' '.join(args)), seconds))
    run = Run(proc, _events(events_file), seconds, proc.stdout)
    if ok:
        assert proc.returncode == 0, '%s %s failed (rc %d):\n%s\n%s' % (
            playbook, ' '.join(args), proc.returncode, proc.stdout[-6000:], proc.stderr[-2000:])
    return run


def site(lab, mode, *args, **kwargs):
    return play(lab, 'playbooks/site.yml', '-e', 'mode=' + mode, *args, what=kwargs.pop('what', 'site %s %s' % (
        mode, ' '.join(args))), **kwargs)


def teardown(lab, *args, **kwargs):
    return play(lab, 'playbooks/site.yml', '-e', 'podnet_state=absent', *args, what='site podnet_state=absent', **kwargs)


def verify(lab, mode):
    run = play(lab, 'playbooks/verify.yml', '-e', 'mode=' + mode, what='verify %s' % mode)
    return run


def _children():
    """Map of parent pid -> child pids of the processes alive."""
    tree = {}
    for pid, fields in processes():
        tree.setdefault(int(fields[1]), []).append(pid)
    return tree


def _alive(pids):
    """Those of ``pids`` still alive."""
    return sorted(set(pids) & set(pid for pid, _fields in processes()))


def kill_tree(root, timeout=10.0):
    """SIGKILL ``root`` and every process descended from it, also those in sessions of their own.

    ansible-playbook's workers call setsid(), so killing the playbook's process group misses them
    and the module processes they started: those would go on writing after the "kill". The tree is
    frozen with SIGSTOP until no new process appears, then every frozen process gets SIGKILL, and
    this returns once none of them is alive any more."""
    frozen = set()
    while True:
        tree = _children()
        found, todo = set(), [root]
        while todo:
            pid = todo.pop()
            if pid in found:
                continue
            found.add(pid)
            todo.extend(tree.get(pid, ()))
        new = found - frozen
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        frozen |= new
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while _alive(frozen - {root}) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _alive(frozen - {root})
    assert not left, 'processes of the killed run still alive: %s' % left


def killed(lab, playbook, *args, after=None, pattern=None, delay=0.0, timeout=300):
    """Start a playbook in a session of its own and SIGKILL its whole process tree (kill_tree) ``after``
    seconds, or ``delay`` seconds after a line of its output contains ``pattern``. Returns (Run, stdout so far,
    whether the kill happened before the playbook ended by itself)."""
    import select
    events_file = _events_file()
    start = time.monotonic()
    proc = subprocess.Popen(_command(lab, playbook, args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=_env(lab, events_file), cwd=REPO, start_new_session=True, bufsize=1)
    out = []
    deadline = start + after if after is not None else None
    seen_at = None
    killed_it = False
    while True:
        now = time.monotonic()
        if now - start > timeout:
            break
        if seen_at is not None and now >= seen_at + delay:
            deadline = now
        if deadline is not None and now >= deadline:
            break
        ready = select.select([proc.stdout], [], [], 0.05)[0]
        if ready:
            line = proc.stdout.readline()
            if not line:
                break  # ended by itself
            out.append(line)
            if pattern and seen_at is None and pattern in line:
                seen_at = time.monotonic()
    killed_it = proc.poll() is None
    kill_tree(proc.pid)
    proc.wait()
    seconds = time.monotonic() - start
    TIMINGS.append(('killed %s %s at %.1fs' % (os.path.basename(playbook), ' '.join(args), seconds), seconds))
    stdout = ''.join(out)
    return Run(None, _events(events_file), seconds, stdout), killed_it


def timed(what):
    """Context manager that records a timing."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        start = time.monotonic()
        try:
            yield
        finally:
            TIMINGS.append((what, time.monotonic() - start))
    return cm()


class _StandardLab(object):
    """The hosts of inventories/lab as handmade() needs them, without running Ansible (for User-Mode Linux)."""

    def __init__(self, name):
        import yaml
        with open(os.path.join(REPO, 'inventories', 'lab', 'hosts.yml')) as f:
            inv = yaml.safe_load(f)
        self.hostvars = inv['podnet_lab']['children']['podnet_nodes']['hosts']
        self.hosts = dict((h, LabHost(name, h)) for h in self.hostvars)


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == 'dump':
        print(json.dumps(dump(sys.argv[2], sys.argv[3:]), sort_keys=True))
    elif len(sys.argv) >= 3 and sys.argv[1] == 'handmade':
        handmade(_StandardLab(sys.argv[2]), ipip='ipip' in sys.argv[3:], firewall='nofirewall' not in sys.argv[3:])
    else:
        sys.exit('usage: kit.py dump LAB HOST... | kit.py handmade LAB [ipip] [nofirewall]  (hosts of inventories/lab)')
