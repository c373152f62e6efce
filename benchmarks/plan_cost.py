#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""The controller-side plan's cost alone (pure Python, no kernel, no Ansible), for N = 64 ... 5000 hosts.

    .venv/bin/python benchmarks/plan_cost.py [--sizes 64,256,1000,2500,5000] [--sample 20] [--json FILE]

For each N, a cluster of N hosts with scattered node IPs (10.0.0.0/8) and scattered /24 pod ranges
(100.64.0.0/10): the cluster check run once for the whole cluster (``_plan.validate_cluster`` and
``cluster_prefixes``, what the preflight's filter ``cluster_check`` does on the controller), and the plans of ``--sample`` hosts
(``_plan.host_plan(..., validated=True)``, what the action ``host_plan`` does per host), each timed with
``time.perf_counter`` (median), and the memory of three of them with ``tracemalloc`` in runs of their own
(peak while planning; and the size of the plan as JSON). Totals for N hosts are per-host figures times N, since every host's plan is made
the same way. Prints a table; ``--json`` writes the numbers. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import statistics
import sys
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(os.path.dirname(HERE), '.tmp', 'collections')
sys.path.insert(0, COLLECTIONS)

from ansible_collections.openkube.podnet.plugins.module_utils import _plan  # noqa: E402


def cluster(count, seed=57):
    rng = random.Random(seed)
    node_ips = rng.sample(range(1, 2 ** 24 - 1), count)
    slots = rng.sample(range(2 ** 14), count)  # /24s of 100.64.0.0/10
    members = [('node%05d' % i, {'podnet_node_ip': str(ipaddress.ip_address('10.0.0.0') + ip),
                                 'podnet_pod_cidr': '%s/24' % (ipaddress.ip_address('100.64.0.0') + slot * 256)})
               for i, (ip, slot) in enumerate(zip(node_ips, slots))]
    facts = {'underlay_dev': 'eth0', 'underlay_mtu': 1500, 'underlay_network': '10.0.0.0/8',
             'onlink': dict((m[1]['podnet_node_ip'], True) for m in members)}
    return members, facts


def measure(count, sample, mode):
    members, facts = cluster(count)
    start = time.perf_counter()
    nodes = _plan.validate_cluster(members)
    prefixes = _plan.cluster_prefixes(nodes)  # the filter cluster_check(prefixes=true): once for the cluster
    check = time.perf_counter() - start
    validated = [(n['name'], {'podnet_node_ip': n['node_ip'], 'podnet_pod_cidr': n['pod_cidr'],
                              'podnet_vxlan_mac': n['vtep_mac']}) for n in nodes]
    hosts = random.Random(count).sample([m[0] for m in members], min(sample, count))
    times, peaks, sizes = [], [], []
    for host in hosts:
        start = time.perf_counter()
        plan = _plan.host_plan(validated, host, {'mode': mode}, facts, validated=True, prefixes=prefixes)
        times.append(time.perf_counter() - start)
        sizes.append(len(json.dumps(plan)))
    for host in hosts[:3]:  # memory in runs of their own: tracemalloc slows what it traces
        tracemalloc.start()
        _plan.host_plan(validated, host, {'mode': mode}, facts, validated=True, prefixes=prefixes)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    per_host = statistics.median(times)
    return dict(hosts=count, mode=mode, cluster_check_s=check, plan_per_host_s=per_host, plan_all_hosts_s=per_host * count,
                peak_per_host_bytes=int(statistics.median(peaks)), plan_json_bytes=int(statistics.median(sizes)),
                plans_all_hosts_bytes=int(statistics.median(sizes)) * count, routes_per_plan=len(plan['routes']))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='64,256,1000,2500,5000')
    parser.add_argument('--sample', type=int, default=20)
    parser.add_argument('--mode', default='vxlan')
    parser.add_argument('--json')
    args = parser.parse_args(argv)
    rows = [measure(int(n), args.sample, args.mode) for n in args.sizes.split(',')]
    print('| hosts | cluster check (once) | plan per host | plans of all hosts | per host / N | peak memory per plan '
          '| plan size | plans of all hosts |')
    print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        print('| %d | %.3f s | %.2f ms | %.1f s | %.2f us | %.1f MiB | %.0f KiB | %.0f MiB |' % (
            r['hosts'], r['cluster_check_s'], r['plan_per_host_s'] * 1e3, r['plan_all_hosts_s'],
            r['plan_per_host_s'] / r['hosts'] * 1e6, r['peak_per_host_bytes'] / 2 ** 20, r['plan_json_bytes'] / 1024,
            r['plans_all_hosts_bytes'] / 2 ** 20))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
