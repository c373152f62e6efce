# -*- coding: utf-8 -*-
"""A downstream repository's view of the collection.

Build it with `ansible-galaxy collection build`, install the tarball into a temporary collections
path, and from a project folder outside this repository (its own ansible.cfg, whose
collections_path is that temporary path only, and its own inventory: the embedded lab's two hosts
under a lab name of their own) run the collection's playbooks by their full names
(openkube.podnet.lab, .site -e mode=vxlan, .verify), then a playbook of the project's own that
uses the roles and modules by their full names. The lab is always removed, also on failure, and
nothing of it may remain.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid

from lab import REPO, VENV_BIN, LabHost, lab_leftovers, recap

INVENTORY = '''\
---
# The embedded lab's two hosts (as inventories/lab of openkube.podnet), under a lab name of our own.
all:
  vars:
    podnet_lab_name: {lab}
    podnet_lab_segments:
      - name: underlay
        cidr: 10.57.4.0/24
        mtu: 1500
  children:
    podnet_lab:
      vars:
        ansible_connection: openkube.podnet.lab_host
        ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
      children:
        podnet_nodes:
          hosts:
            worker2:
              podnet_node_ip: 10.57.4.20
              podnet_pod_cidr: 192.168.10.0/24
            worker3:
              podnet_node_ip: 10.57.4.21
              podnet_pod_cidr: 192.168.11.0/24
'''

ANSIBLE_CFG = '''\
[defaults]
inventory = inventory.yml
collections_path = {collections}
gathering = explicit
interpreter_python = auto_silent
forks = 20
retry_files_enabled = False

[connection]
pipelining = True
'''

# The project's own playbook: the entry role with a second pod on worker2, then modules by their
# full names, each run twice (the second run must change nothing).
OWN_PLAYBOOK = '''\
---
- name: Our cluster, with a second pod on worker2
  hosts: podnet_nodes
  gather_facts: false
  vars:
    podnet_mode: vxlan
  pre_tasks:
    - name: Two pods on worker2
      ansible.builtin.set_fact:
        podnet_pods: [{name: ns1}, {name: ns2}]
      when: inventory_hostname == 'worker2'
  roles:
    - role: openkube.podnet.podnet

- name: Our own use of the modules
  hosts: worker2
  gather_facts: false
  tasks:
    - name: A namespace of our own
      openkube.podnet.netns:
        name: tools
      register: __netns
      loop: [1, 2]

    - name: A route of our own (owned by the collection's protocol 57)
      openkube.podnet.route:
        routes:
          - dst: 198.51.100.0/24
            via: 10.57.4.21
            dev: eth0
      register: __route
      loop: [1, 2]

    - name: First runs changed, second runs did not
      ansible.builtin.assert:
        that:
          - __netns.results[0] is changed
          - __netns.results[1] is not changed
          - __route.results[0] is changed
          - __route.results[1] is not changed
'''

# A mode role on its own, from the project's playbook, with the inventory's variables only (no plan).
MODE_ROLE_PLAYBOOK = '''\
---
- name: Our cluster in host-gw mode, with the collection's host_gw role alone
  hosts: podnet_nodes
  gather_facts: false
  roles:
    - role: openkube.podnet.host_gw
'''


def force_teardown(lab):
    """Remove the lab with the collection's own module code, when the playbook could not."""
    collections = os.path.join(REPO, '.tmp', 'collections')
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.openkube.podnet.plugins.module_utils import _lab_namespaces
    _lab_namespaces.Lab(_lab_namespaces.Topology(lab, {}, [])).teardown()


class Project(object):
    """The downstream project folder: runs Ansible there, with its own ansible.cfg only."""

    def __init__(self, path):
        self.path = path
        # Nothing of this repository's configuration may leak in.
        self.env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))
        self.env.update(PATH=VENV_BIN + os.pathsep + self.env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin'),
                        ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
        self.timings = []

    def run(self, *cmd, check=True, timeout=900):
        start = time.monotonic()
        proc = subprocess.run(list(cmd), cwd=self.path, env=self.env, capture_output=True, text=True, check=False, timeout=timeout)
        self.timings.append((' '.join([os.path.basename(cmd[0])] + list(cmd[1:3])), time.monotonic() - start))
        if check:
            assert proc.returncode == 0, '%s failed (rc %d):\n%s\n%s' % (
                ' '.join(cmd), proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
        return proc

    def playbook(self, *args, check=True):
        return self.run(os.path.join(VENV_BIN, 'ansible-playbook'), *args, check=check)


def test_downstream_project(capsys):
    start = time.monotonic()
    lab = 'ds-%s' % uuid.uuid4().hex[:6]
    work = tempfile.mkdtemp(prefix='podnet-downstream-')
    try:
        assert not os.path.realpath(work).startswith(os.path.realpath(REPO) + os.sep)
        build, collections, project = (os.path.join(work, d) for d in ('build', 'collections', 'project'))
        os.mkdir(project)

        # Build and install the collection, as a user does from a release tarball.
        galaxy = os.path.join(VENV_BIN, 'ansible-galaxy')
        built = subprocess.run([galaxy, 'collection', 'build', '--output-path', build], cwd=REPO,
                               capture_output=True, text=True, check=False, timeout=300)
        assert built.returncode == 0, built.stdout + built.stderr
        tarballs = glob.glob(os.path.join(build, 'openkube-podnet-*.tar.gz'))
        assert len(tarballs) == 1, tarballs
        size = os.path.getsize(tarballs[0])
        assert size < 1024 * 1024, 'the collection tarball is %d bytes: check build_ignore in galaxy.yml' % size
        with tarfile.open(tarballs[0]) as tar:
            names = tar.getnames()
        assert 'COPYING' in names, 'the GPL-3.0 text is not in the collection'
        assert not [n for n in names if n.startswith('benchmarks/') or n.endswith('results.json')], names

        with open(os.path.join(project, 'ansible.cfg'), 'w') as f:
            f.write(ANSIBLE_CFG.format(collections=collections))
        with open(os.path.join(project, 'inventory.yml'), 'w') as f:
            f.write(INVENTORY.format(lab=lab))
        with open(os.path.join(project, 'ours.yml'), 'w') as f:
            f.write(OWN_PLAYBOOK)
        with open(os.path.join(project, 'host_gw.yml'), 'w') as f:
            f.write(MODE_ROLE_PLAYBOOK)
        ds = Project(project)
        ds.run(galaxy, 'collection', 'install', '--offline', tarballs[0])

        # The installed copy is the only openkube.podnet Ansible can see from the project.
        listed = json.loads(ds.run(galaxy, 'collection', 'list', 'openkube.podnet', '--format', 'json').stdout)
        assert list(listed) == [os.path.join(collections, 'ansible_collections')], listed
        assert os.path.isdir(os.path.join(collections, 'ansible_collections', 'openkube', 'podnet', 'extensions', 'molecule'))

        try:
            ds.playbook('openkube.podnet.lab')
            first = ds.playbook('openkube.podnet.site', '-e', 'mode=vxlan')
            assert all(c['changed'] > 0 and c['failed'] == 0 for c in recap(first.stdout).values()), first.stdout[-3000:]
            verify = ds.playbook('openkube.podnet.verify', '-e', 'mode=vxlan')
            assert verify.stdout.count('ok vxlan vni 1 udp 8472') == 2, verify.stdout[-3000:]

            ours = ds.playbook('ours.yml')
            counts = recap(ours.stdout)
            assert set(counts) == {'worker2', 'worker3'}, ours.stdout[-3000:]
            assert counts['worker3']['changed'] == 0, ours.stdout[-3000:]  # the role again, same plan: no change
            assert counts['worker2']['changed'] > 0

            # What the project's playbook did, read back from the kernel (not through the collection).
            w2, w3 = LabHost(lab, 'worker2'), LabHost(lab, 'worker3')
            assert sorted(w2.netns_list()) == ['ns1', 'ns2', 'tools']
            route = w2.ipj('route', 'show', '198.51.100.0/24')
            assert [(r['gateway'], r['dev'], str(r['protocol'])) for r in route] == [('10.57.4.21', 'eth0', '57')], route
            ns2 = json.loads(w2.ns_run('ns2', 'ip -j addr show dev eth0', check=True).stdout)[0]
            assert [a['local'] for a in ns2['addr_info'] if a['family'] == 'inet'] == ['192.168.10.11']
            for target in ('192.168.10.10', '192.168.10.11'):
                ping = w3.ns_run('ns1', 'ping -c 2 -i 0.2 -W 2 -q %s' % target)
                assert ping.returncode == 0, (target, ping.stdout, ping.stderr)

            # The host_gw role on its own switches the cluster to host-gw (computing the plan itself), and
            # the entry role then finds it exactly as it would have made it.
            alone = ds.playbook('host_gw.yml')
            assert all(c['changed'] > 0 for c in recap(alone.stdout).values()), alone.stdout[-3000:]
            routes = dict((r['dst'], r) for r in w2.ipj('route', 'show', 'proto', '57'))
            assert (routes['192.168.11.0/24']['gateway'], routes['192.168.11.0/24']['dev']) == ('10.57.4.21', 'eth0'), routes
            assert not [link for link in w2.ipj('link', 'show') if link['ifname'] == 'podnet.vxlan']
            entry = ds.playbook('openkube.podnet.site', '-e', 'mode=host-gw')
            assert set(c['changed'] for c in recap(entry.stdout).values()) == {0}, entry.stdout[-3000:]
            ping = w3.ns_run('ns1', 'ping -c 2 -i 0.2 -W 2 -q 192.168.10.10')
            assert ping.returncode == 0, (ping.stdout, ping.stderr)
        finally:
            down = ds.playbook('openkube.podnet.lab', '-e', 'lab_state=absent', check=False)
            if down.returncode != 0 or lab_leftovers(lab):
                force_teardown(lab)
            assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-2000:]
        assert not lab_leftovers(lab), lab_leftovers(lab)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        assert not lab_leftovers(lab), lab_leftovers(lab)
    with capsys.disabled():
        print('\ndownstream project: %.0f s (%s)' % (time.monotonic() - start, ', '.join(
            '%s %.0fs' % (cmd, sec) for cmd, sec in ds.timings)))
