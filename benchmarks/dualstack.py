#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Dual-stack data plane: IPv6 pods beside IPv4 ones, measured side by side in one run (issue 18).

Three labs of inventories/lab-dualstack, one converged in host-gw (IPv6 pods routed via the IPv6 node
addresses), one in vxlan (IPv6 pods through the same device over the IPv4 underlay), one in vxlan with
podnet_vxlan_underlay ipv6 (IPv6 pods through a second device over the IPv6 underlay; the pods' MTU 1430). In each, worker2's
ns1 sends to worker3's ns1 at its IPv4 and at its IPv6 address; the four paths are measured in turn,
repetition after repetition (rotating the order), with dataplane.py's iperf3 probes: TCP throughput and
the rate of 64-byte UDP datagrams received. Medians, and the IPv6/IPv4 ratio per mode, go to
docs/benchmarks/dualstack.json and are printed as a table. Traffic stays between lab namespaces.

    .venv/bin/python benchmarks/dualstack.py [--reps 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import dataplane
from dataplane import REPO, VENV_BIN, Config, measure

INVENTORY = os.path.join(REPO, 'inventories', 'lab-dualstack')
POD = {4: '192.168.11.10', 6: 'fd00:10:244:11::a'}
#: the rows: (name, the site.yml extra variables)
MODES = (('host-gw', ['-e', 'mode=host-gw']), ('vxlan', ['-e', 'mode=vxlan']),
         ('vxlan, IPv6 underlay', ['-e', 'mode=vxlan', '-e', 'podnet_vxlan_underlay=ipv6']))


def playbook(lab, *args):
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', INVENTORY, '-e', 'podnet_lab_name=' + lab]
                          + list(args), cwd=REPO, env=dataplane.ansible_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s %s failed:\n%s' % (lab, ' '.join(args), proc.stdout[-3000:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--seconds', type=float, default=3)
    parser.add_argument('--out', default=os.path.join(REPO, 'docs', 'benchmarks', 'dualstack.json'))
    args = parser.parse_args(argv)
    labs = dict((mode, 'dsb-%d' % i) for i, (mode, _vars) in enumerate(MODES))
    try:
        configs = []
        for i, (mode, extra) in enumerate(MODES):
            playbook(labs[mode], os.path.join(REPO, 'playbooks', 'lab.yml'))
            playbook(labs[mode], os.path.join(REPO, 'playbooks', 'site.yml'), *extra)
            for j, family in enumerate((4, 6)):
                configs.append(Config('%s IPv%d' % (mode, family), labs[mode], 'ns1', POD[family], 5301 + 2 * i + j))
        samples = measure(configs, args.reps, args.seconds, args.seconds)
    finally:
        for lab in labs.values():
            try:
                playbook(lab, os.path.join(REPO, 'playbooks', 'lab.yml'), '-e', 'lab_state=absent')
            except RuntimeError:
                dataplane.force_teardown(lab)
    rows = []
    for mode, _vars in MODES:
        med = dict((f, dict((k, statistics.median(samples['%s IPv%d' % (mode, f)][k])) for k in ('tcp', 'udp')))
                   for f in (4, 6))
        rows.append(dict(mode=mode, tcp4=med[4]['tcp'], tcp6=med[6]['tcp'], udp4=med[4]['udp'], udp6=med[6]['udp'],
                         r_tcp=round(med[6]['tcp'] / med[4]['tcp'], 3), r_udp=round(med[6]['udp'] / med[4]['udp'], 3)))
    with open(args.out, 'w') as f:
        json.dump(dict(reps=args.reps, seconds=args.seconds, rows=rows, samples=samples), f, indent=1, sort_keys=True)
    print('| mode | TCP IPv4 (Gbit/s) | TCP IPv6 | IPv6/IPv4 | 64-byte UDP IPv4 (kpps) | UDP IPv6 | IPv6/IPv4 |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for r in rows:
        cells = (r['mode'], r['tcp4'], r['tcp6'], r['r_tcp'], r['udp4'], r['udp6'], r['r_udp'])
        print('| %s | %.2f | %.2f | %.2f | %.0f | %.0f | %.2f |' % cells)
    return 0


if __name__ == '__main__':
    sys.exit(main())
