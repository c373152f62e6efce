# -*- coding: utf-8 -*-
"""The booted machines of inventories/lab-machines: one lab per test file (``machines``), and SSH to a
machine exactly as Ansible does (``Machine``), to read its state back without the collection's code."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from lab import MACHINES_ROOT, Lab, machine_leftovers


class Machine(object):
    """SSH to one machine exactly as Ansible does (the lab's key, through the bastion namespace)."""

    def __init__(self, lab_name, name, node_ip):
        self.lab_name, self.name, self.node_ip = lab_name, name, node_ip

    def run(self, command, check=True):
        cmd = ['ssh', '-i', os.path.join(MACHINES_ROOT, self.lab_name, 'id_ed25519'),
               '-o', 'ProxyCommand=ip netns exec %s-bastion nc %%h %%p' % self.lab_name,
               '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
               '-o', 'BatchMode=yes', 'podnet@' + self.node_ip, command]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if check:
            assert proc.returncode == 0, '%s: %r failed (rc %d): %s' % (self.name, command, proc.returncode, proc.stderr)
        return proc.stdout

    def ipj(self, *args):
        out = self.run('ip -j ' + ' '.join(args))
        return json.loads(out) if out.strip() else []


@pytest.fixture(scope='module')
def machines():
    name = 'm' + uuid.uuid4().hex[:5]
    lab = Lab('inventories/lab-machines', name=name)
    try:
        lab.build()
        lab.machines = dict((h, Machine(name, h, lab.hostvars[h]['podnet_node_ip'])) for h in lab.host_names)
        yield lab
    finally:
        proc = lab.teardown(check=False)
        assert proc.returncode == 0, 'teardown failed:\n%s' % proc.stdout[-4000:]
        assert machine_leftovers(name) == [], machine_leftovers(name)
