# -*- coding: utf-8 -*-
"""Issue 16 in mode crosssubnet on the routed lab (inventories/lab-routed: two subnets joined by a router):
runtime pods attached with the collection's CNI configuration through Debian's plugins on worker2 (10.57.4.0/24)
and worker4 (10.57.5.0/24), reached across the router through the tunnel; every pod pings every other (the matrix,
with the collection's pods of worker2, worker3 and worker4); a rerun changes nothing; a runtime pod's ping to the
router's far address, a lab address outside the cluster, arrives at the router from its host's node IP (tcpdump in
the router's namespace). The helpers are cni_kit.py's."""

from __future__ import annotations

import os
import uuid

import pytest

from lab import LAB_ROOT, built_lab
from cni_kit import BRIDGE, changed, runtime_pods_in


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab-routed', name='rr-' + uuid.uuid4().hex[:4]) as built:
        yield built


def test_runtime_pods_across_the_router(lab, capsys):
    first = lab.playbook('playbooks/site.yml', '-e', 'mode=crosssubnet', *BRIDGE)
    assert all(n > 0 for n in changed(first).values()), first.stdout[-3000:]
    router = ['nsenter', '--net=' + os.path.join(LAB_ROOT, lab.name, '_router', 'net'), '--']
    lines = runtime_pods_in(lab, 'crosssubnet', ['worker2', 'worker4'], capsys, outside=('10.57.5.1', router, 'any'))
    assert len(lines) == 5
    # and the collection's pod of worker3 (same subnet as worker2: host-gw routes) reaches worker4's
    assert lab.hosts['worker3'].ns_run('ns1', ['ping', '-c', '2', '-W', '2', '-q', '192.168.12.10']).returncode == 0
