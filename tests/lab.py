# -*- coding: utf-8 -*-
"""Fast checks of a lab host's state: commands inside its namespaces, in milliseconds.

``LabHost(lab_name, host)`` runs commands with ``nsenter`` in the host's network, mount and
UTS namespaces (``/run/podnet/<lab>/<host>/{net,mnt,uts}``), the way the connection plugin
``openkube.podnet.lab_host`` does, but without Ansible (about 5 ms instead of 1.5-3 s through
testinfra's ansible backend):

    w2 = LabHost('lab', 'worker2')
    w2.run('hostname').stdout            # 'worker2\\n'
    w2.ipj('addr', 'show', 'eth0')        # `ip -j addr show eth0` inside worker2, as data
    w2.ns_run('ns1', 'ping -c1 192.168.11.10')   # inside worker2's pod namespace ns1
    host = w2.testinfra()                 # a testinfra Host (host.interface('eth0').addresses ...)

``Lab`` (from the ``lab`` fixture) builds a lab from an inventory with ``playbooks/lab.yml``
and removes it again; ``lab.playbook(...)`` / ``lab.ansible(...)`` run Ansible against it.
Traffic in tests always goes between lab namespaces, never from the machine's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB_ROOT = '/run/podnet'
VENV_BIN = os.path.join(REPO, '.venv', 'bin')


class LabHost(object):
    """One simulated host of a built lab."""

    def __init__(self, lab_name, host, root=LAB_ROOT):
        self.lab_name = lab_name
        self.name = host
        self.dir = os.path.join(root, lab_name, host)

    def __repr__(self):
        return 'LabHost(%r, %r)' % (self.lab_name, self.name)

    def ns_file(self, kind):
        return os.path.join(self.dir, kind)

    @property
    def exists(self):
        return all(os.path.exists(self.ns_file(k)) for k in ('net', 'mnt', 'uts'))

    def nsenter(self):
        """The command prefix that enters the host (all three namespaces)."""
        return ['nsenter', '--net=' + self.ns_file('net'), '--mount=' + self.ns_file('mnt'),
                '--uts=' + self.ns_file('uts'), '--']

    def run(self, cmd, check=False, input=None, timeout=60):
        """Run ``cmd`` (a shell string or an argv list) inside the host -> CompletedProcess (text)."""
        argv = ['/bin/sh', '-c', cmd] if isinstance(cmd, str) else list(cmd)
        proc = subprocess.run(self.nsenter() + argv, capture_output=True, text=True, input=input, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError('%s: %r failed (rc %d): %s' % (self.name, cmd, proc.returncode,
                                                                (proc.stderr or proc.stdout).strip()))
        return proc

    def _json(self, argv):
        out = self.run(argv, check=True).stdout
        return json.loads(out) if out.strip() else []

    def ipj(self, *args):
        """`ip -j ARGS` inside the host, as data."""
        return self._json(['ip', '-j'] + list(args))

    def bridgej(self, *args):
        """`bridge -j ARGS` inside the host, as data."""
        return self._json(['bridge', '-j'] + list(args))

    def ns_run(self, podns, cmd, check=False, timeout=60):
        """Run ``cmd`` inside the host, in its pod namespace ``podns`` (`ip netns exec` in the host)."""
        argv = ['/bin/sh', '-c', cmd] if isinstance(cmd, str) else list(cmd)
        return self.run(['ip', 'netns', 'exec', podns] + argv, check=check, timeout=timeout)

    def netns_list(self):
        """Names of the host's own network namespaces (`ip netns list` inside it)."""
        return [line.split()[0] for line in self.run(['ip', 'netns', 'list'], check=True).stdout.splitlines() if line.strip()]

    def ping(self, address, count=1, timeout=2):
        """True when ``address`` answers a ping sent from this host."""
        return self.run(['ping', '-c', str(count), '-W', str(timeout), '-q', address]).returncode == 0

    def testinfra(self):
        """A pytest-testinfra Host whose commands run inside this lab host."""
        return testinfra_host(self)


def testinfra_host(lab_host):
    """testinfra ``Host`` for a ``LabHost``: testinfra's local backend, each command wrapped with nsenter."""
    import testinfra.host
    from testinfra.backend.local import LocalBackend

    prefix = ' '.join(shlex.quote(part) for part in lab_host.nsenter())

    class LabBackend(LocalBackend):
        NAME = 'local'  # testinfra's modules pick their implementation from the connection type

        def get_pytest_id(self):
            return 'lab://%s/%s' % (lab_host.lab_name, lab_host.name)

        def get_hostname(self):
            return lab_host.name

        def run(self, command, *args, **kwargs):
            return self.run_local('%s /bin/sh -c %s' % (prefix, shlex.quote(self.get_command(command, *args))))

    return testinfra.host.Host(LabBackend())


def lab_leftovers(lab_name, root=LAB_ROOT):
    """What a lab left behind on the machine: mounts, its directory, processes in its namespaces."""
    path = os.path.join(root, lab_name)
    left = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            target = line.split()[4]
            if target == path or target.startswith(path + '/'):
                left.append('mount ' + target)
    if os.path.exists(path):
        left.append('directory ' + path)
    return left


MACHINES_ROOT = '/var/lib/podnet/machines'


def machine_leftovers(lab_name):
    """What a lab of booted machines left behind: its namespaces, disks and keys, systemd-nspawn processes and their
    mount propagation folders."""
    left = [n for n in os.listdir('/run/netns') if n.startswith(lab_name + '-')] if os.path.isdir('/run/netns') else []
    if os.path.exists(os.path.join(MACHINES_ROOT, lab_name)):
        left.append(os.path.join(MACHINES_ROOT, lab_name))
    propagate = '/run/systemd/nspawn/propagate'  # systemd-nspawn's folder per machine
    if os.path.isdir(propagate):
        left += [os.path.join(propagate, n) for n in os.listdir(propagate) if n.startswith(lab_name + '-')]
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as f:
                    cmdline = f.read()
            except OSError:
                continue
            if b'systemd-nspawn' in cmdline and os.path.join(MACHINES_ROOT, lab_name).encode() in cmdline:
                left.append('process %s' % entry)
    return left


class Lab(object):
    """A lab built from an inventory; made by the ``lab`` fixture (tests/integration/lab/conftest.py)."""

    def __init__(self, inventory, name=None, env=None):
        """``name`` overrides the inventory's podnet_lab_name (``-e podnet_lab_name=NAME`` on every
        call), so that a test's lab never collides with another lab on the machine."""
        self.inventory = inventory if os.path.isabs(inventory) else os.path.join(REPO, inventory)
        self.extra = ['-e', 'podnet_lab_name=' + name] if name else []
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault('ANSIBLE_CONFIG', os.path.join(REPO, 'ansible.cfg'))
        self.env.setdefault('ANSIBLE_NOCOLOR', '1')
        self.env.setdefault('ANSIBLE_FORCE_COLOR', '0')
        inv = self.inventory_data()
        self.hostvars = inv['_meta']['hostvars']
        self.host_names = sorted(self._members(inv, 'podnet_lab'))
        self.name = name or self.ansible_var('podnet_lab_name', default='lab')
        self.hosts = dict((h, LabHost(self.name, h)) for h in self.host_names)
        self.timings = {}

    # ---- inventory
    def inventory_data(self):
        proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-inventory'), '-i', self.inventory, '--list'],
                              capture_output=True, text=True, env=self.env, cwd=REPO, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    @staticmethod
    def _members(inv, group):
        members = set(inv.get(group, {}).get('hosts', []))
        for child in inv.get(group, {}).get('children', []):
            members |= Lab._members(inv, child)
        return members

    def ansible_var(self, name, default=None):
        """A variable as localhost sees it (group_vars/all of the inventory)."""
        proc = subprocess.run([os.path.join(VENV_BIN, 'ansible'), '-i', self.inventory, 'localhost', '-m',
                               'ansible.builtin.debug', '-a', 'var=' + name, '-o'],
                              capture_output=True, text=True, env=self.env, cwd=REPO, check=False)
        out = proc.stdout
        if proc.returncode != 0 or '=>' not in out:
            return default
        value = json.loads(out.split('=>', 1)[1]).get(name)
        if value is None or 'VARIABLE IS NOT DEFINED' in str(value):
            return default
        return value

    def __getitem__(self, host):
        return self.hosts[host]

    # ---- Ansible against the lab
    def playbook(self, playbook, *args, check=True, timeout=1200):
        """ansible-playbook PLAYBOOK -i <inventory> ARGS -> CompletedProcess; asserts success when ``check``."""
        path = playbook if os.path.isabs(playbook) else os.path.join(REPO, playbook)
        cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', self.inventory, path] + self.extra + list(args)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=REPO, timeout=timeout, check=False)
        if check:
            assert proc.returncode == 0, 'ansible-playbook %s failed (rc %d):\n%s\n%s' % (
                playbook, proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
        return proc

    def ansible(self, pattern, *args, check=True, timeout=600):
        """ansible PATTERN -i <inventory> ARGS -> CompletedProcess."""
        cmd = [os.path.join(VENV_BIN, 'ansible'), '-i', self.inventory, pattern] + self.extra + list(args)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=REPO, timeout=timeout, check=False)
        if check:
            assert proc.returncode == 0, 'ansible %s %s failed (rc %d):\n%s\n%s' % (
                pattern, ' '.join(args), proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
        return proc

    def build(self, *args):
        start = time.monotonic()
        proc = self.playbook('playbooks/lab.yml', *args)
        self.timings.setdefault('build', []).append(time.monotonic() - start)
        return proc

    def teardown(self, check=True):
        start = time.monotonic()
        proc = self.playbook('playbooks/lab.yml', '-e', 'lab_state=absent', check=check)
        self.timings['teardown'] = time.monotonic() - start
        return proc

    def leftovers(self):
        return lab_leftovers(self.name)

    def force_teardown(self):
        """Remove the lab without Ansible (the module's own teardown), when the playbook could not."""
        import sys
        collections = os.path.join(REPO, '.tmp', 'collections')
        if collections not in sys.path:
            sys.path.insert(0, collections)
        from ansible_collections.openkube.podnet.plugins.module_utils import _lab_namespaces
        _lab_namespaces.Lab(_lab_namespaces.Topology(self.name, {}, [])).teardown()


@contextlib.contextmanager
def built_lab(inventory, name=None, env=None, build_args=()):
    """Build a lab from ``inventory``, yield its ``Lab``, and always remove it (also on failure).
    Teardown is checked: nothing of the lab may remain."""
    lab = Lab(inventory, name=name, env=env)
    try:
        lab.build(*build_args)
        yield lab
    finally:
        proc = lab.teardown(check=False)
        if proc.returncode != 0 or lab.leftovers():
            lab.force_teardown()
        assert proc.returncode == 0, 'lab teardown failed:\n%s\n%s' % (proc.stdout[-4000:], proc.stderr[-2000:])
        assert not lab.leftovers(), lab.leftovers()


def recap(output):
    """{host: {'ok': n, 'changed': n, ...}} from an ansible-playbook PLAY RECAP."""
    result = {}
    lines = output.split('PLAY RECAP', 1)[-1].splitlines()
    for line in lines[1:]:
        if ':' not in line:
            continue
        host, counts = line.split(':', 1)
        result[host.strip()] = dict((k, int(v)) for k, v in (item.split('=') for item in counts.split()))
    return result


def matrix_lines(proc):
    """The verify role's matrix as printed by its 'Show the matrix' task: the title and rows of each matrix (IPv4,
    then the IPv6 pods' in a dual-stack cluster), and the line naming the hosts not verified."""
    out = proc.stdout
    start = out.index('"mode ')
    block = out[start:].split(']', 1)[0]
    return [line.strip().strip('",') for line in block.splitlines()
            if '|' in line or '"mode ' in line or 'not verified' in line]


def inventory_copy(source, path, edit):
    """A copy of the inventory folder ``source`` at ``path`` whose cluster hosts' variables (group podnet_nodes,
    a dict of host -> variables) ``edit`` changed in place; returns ``path``."""
    shutil.copytree(source, path)
    with open(os.path.join(path, 'hosts.yml')) as f:
        inv = yaml.safe_load(f)
    edit(inv['podnet_lab']['children']['podnet_nodes']['hosts'])
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        yaml.safe_dump(inv, f)
    return path


def with_ipv6_pod_ranges(hosts):
    """An edit for inventory_copy: an IPv6 pod range per host, fd00:10:244:<third octet of its IPv4 one>::/64."""
    for hv in hosts.values():
        hv['podnet_pod_cidr6'] = 'fd00:10:244:%s::/64' % hv['podnet_pod_cidr'].split('.')[2]
