# -*- coding: utf-8 -*-
"""Runs INSIDE the second kernel (test_uml.py's script): runtime pods attached with the collection's CNI
configuration on lab LAB's worker2 and worker3, through Debian's CNI plugins (tests/cni.py).

``python uml_cni.py add LAB STATE``: ADD and CHECK a pod on each host, every pod pings every other (the
collection's pods too); prints ``@@CNI matrix`` and the matrix, fails on a miss; keeps the CNI results in STATE.
``python uml_cni.py del LAB STATE``: CHECK (still attached as the plugins left them), DEL, and the pods' veths are gone and
their addresses released; prints ``@@CNI DEL ok``.
"""

from __future__ import annotations

import json
import os
import sys

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
sys.path.insert(0, TESTS)

import cni  # noqa: E402  (tests/cni.py)
from lab import LabHost  # noqa: E402  (tests/lab.py)

CONFLIST = '/etc/cni/net.d/10-podnet.conflist'
HOSTS = (('worker2', '192.168.10.10'), ('worker3', '192.168.11.10'))


def add(lab, state):
    attached, pods = [], []
    for name, own in HOSTS:
        host = LabHost(lab, name)
        conf = json.loads(host.run(['cat', CONFLIST], check=True).stdout)
        result = cni.add(host, conf, 'rt-' + name)
        cni.check(host, conf, 'rt-' + name, result)
        attached.append(dict(host=name, conf=conf, netns='rt-' + name, result=result))
        pods += [(name + '/ns1', host, 'ns1', own), (name + '/rt', host, 'rt-' + name, cni.pod_ip(result))]
    with open(state, 'w') as f:
        json.dump(attached, f)
    lines, failures = cni.ping_matrix(pods)
    print('@@CNI matrix (mode ipip, runtime pods attached with the collection\'s conflist)')
    for line in lines:
        print('@@CNI ' + line)
    return 1 if failures else 0


def delete(lab, state):
    with open(state) as f:
        attached = json.load(f)
    for pod in attached:
        host = LabHost(lab, pod['host'])
        cni.check(host, pod['conf'], pod['netns'], pod['result'])
        cni.delete(host, pod['conf'], pod['netns'], pod['result'])
        ports = [p['ifname'] for p in host._json(['ip', '-j', 'link', 'show', 'master', 'cni0'])]
        assert ports == ['veth-ns1'], ports
        assert host.run(['test', '-e', '/var/lib/cni/networks/podnet/' + cni.pod_ip(pod['result'])]).returncode != 0
    print('@@CNI DEL ok')
    return 0


if __name__ == '__main__':
    command, lab, state = sys.argv[1:4]
    sys.exit(add(lab, state) if command == 'add' else delete(lab, state))
