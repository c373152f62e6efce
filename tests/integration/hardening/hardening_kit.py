# -*- coding: utf-8 -*-
"""Helpers of the hardening tests: the inventory of their lab (worker2 and worker3 of the reference
setup, cluster group podnet_nodes, and ``rogue``, a host on the same segment that is in the lab but
not in the cluster) and DF pings. A module of its own name: several test folders have a conftest.py."""

from __future__ import annotations

import json
import os
import shutil

from lab import REPO

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.join(REPO, '.venv', 'bin', 'python')
COLLECTIONS = os.path.join(REPO, '.tmp', 'collections')

HOSTS = '''---
podnet_lab:
  hosts:
    rogue:  # on the underlay, not in the cluster
      podnet_node_ip: 10.57.4.30
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


def write_inventory(path):
    """inventories/lab plus the rogue host, at ``path``; returns ``path``."""
    os.makedirs(os.path.join(path, 'group_vars'), exist_ok=True)
    for name in ('all.yml', 'podnet_lab.yml'):
        shutil.copy(os.path.join(REPO, 'inventories', 'lab', 'group_vars', name), os.path.join(path, 'group_vars', name))
    with open(os.path.join(path, 'hosts.yml'), 'w') as f:
        f.write(HOSTS)
    return path


def segments(mtu):
    return json.dumps(dict(podnet_lab_segments=[dict(name='underlay', cidr='10.57.4.0/24', mtu=mtu)]))


def df_ping(host, target, size, podns='ns1', count=2):
    """pod_ping's probe (ICMP with DF) from ``podns`` of lab host ``host``: the result dict."""
    code = ('import json, sys; sys.path.insert(0, %r); '
            'from ansible_collections.openkube.podnet.plugins.module_utils._probe import ping; '
            'print(json.dumps(ping(%r, count=%d, timeout=1.0, size=%d, dont_fragment=True)))'
            % (COLLECTIONS, target, count, size))
    return json.loads(host.ns_run(podns, [PYTHON, '-c', code], check=True).stdout)


def iputils_df(host, target, size, podns='ns1'):
    """iputils ping with DF (-M do), an oracle independent of our code: (returncode, output)."""
    proc = host.ns_run(podns, ['ping', '-M', 'do', '-s', str(size), '-c', '1', '-W', '2', target])
    return proc.returncode, proc.stdout + proc.stderr
