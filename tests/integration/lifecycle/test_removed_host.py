# -*- coding: utf-8 -*-
"""Issue 6, point 2: a host leaves the cluster, on this machine's kernel (vxlan and host-gw).

A 3-host lab (worker2, worker3, worker4 on one segment; a temporary inventory written by the
test, like inventories/lab plus worker4) is converged; then worker4 leaves the cluster group
``podnet_nodes`` (it stays a lab host, in a group ``retired``) and ``site.yml`` runs on the
rest. Every remaining host must lose worker4's route, neighbour and FDB entries (and its node IP
in the encapsulation filter): its dump must equal a fresh deployment on the 2-host lab
(inventories/lab, the same node IPs and pod ranges). worker4 itself is not touched.
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

import kit
from kit import lab_name
from lab import REPO, Lab, built_lab

HOSTS = dict(
    worker2=dict(podnet_node_ip='10.57.4.20', podnet_pod_cidr='192.168.10.0/24'),
    worker3=dict(podnet_node_ip='10.57.4.21', podnet_pod_cidr='192.168.11.0/24'),
    worker4=dict(podnet_node_ip='10.57.4.22', podnet_pod_cidr='192.168.12.0/24'),
)


def write_inventory(path, members, retired=()):
    """An inventory like inventories/lab: group_vars copied, hosts.yml with ``members`` in podnet_nodes
    and ``retired`` in another child group of podnet_lab (still lab hosts, no longer in the cluster)."""
    os.makedirs(path)
    shutil.copytree(os.path.join(REPO, 'inventories', 'lab', 'group_vars'), os.path.join(path, 'group_vars'))
    children = dict(podnet_nodes=dict(hosts=dict((h, HOSTS[h]) for h in members)))
    if retired:
        children['retired'] = dict(hosts=dict((h, HOSTS[h]) for h in retired))
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        yaml.safe_dump(dict(podnet_lab=dict(children=children)), f)
    return path


@pytest.mark.parametrize('mode', ['vxlan', 'host-gw'])
def test_removed_host_leaves_no_residue(tmp_path, fresh, mode):
    full = write_inventory(str(tmp_path / 'three'), ['worker2', 'worker3', 'worker4'])
    rest = write_inventory(str(tmp_path / 'two'), ['worker2', 'worker3'], retired=['worker4'])
    with built_lab(full, name=lab_name('removed')) as lab:
        kit.handmade(lab, hosts=['worker2', 'worker3'])
        kit.site(lab, mode, what='site %s (3 hosts)' % mode)
        three = kit.dump(lab)
        for host in ('worker2', 'worker3'):
            dsts = [r['dst'] for r in three[host]['routes'] if r.get('protocol') == '57']
            assert '192.168.12.0/24' in dsts, (host, dsts)

        smaller = Lab(rest, name=lab.name)  # the same lab, seen through the inventory without worker4
        run = kit.site(smaller, mode, what='site %s (worker4 removed)' % mode)
        assert set(run.changed()) == {'worker2', 'worker3'}, run.changed()
        assert all(n > 0 for n in run.changed().values()), run.tail()
        two = kit.dump(lab)

        kit.assert_same(two['worker4'], three['worker4'], 'worker4, no longer in the cluster, was changed')
        for host in ('worker2', 'worker3'):
            s = two[host]
            assert not [r for r in s['routes'] if r.get('dst') == '192.168.12.0/24'], (host, s['routes'])
            assert not [n for n in s['neigh'] if n.get('dst') == '192.168.12.0'], (host, s['neigh'])
            assert not [f for f in s['fdb'] if f.get('dst') == '10.57.4.22'], (host, s['fdb'])
            assert '10.57.4.22' not in s['iptables'].get('filter', ''), (host, s['iptables'])
            kit.assert_same(s, fresh[mode][host], '%s after worker4 left (first) vs a fresh 2-host %s deployment '
                            '(second)' % (host, mode))
