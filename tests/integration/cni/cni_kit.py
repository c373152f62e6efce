# -*- coding: utf-8 -*-
"""Helpers of the CNI tests (test_runtime_pods.py, test_routed_cni.py): the lab converged with the bridge layout
and the collection's CNI configuration, runtime pods attached with it through Debian's plugins (tests/cni.py)."""

from __future__ import annotations

import json

import cni  # tests/cni.py
from dumps import assert_same, dump
from lab import recap

BRIDGE = ('-e', 'podnet_attach=bridge', '-e', 'podnet_cni=true')
CONFLIST = '/etc/cni/net.d/10-podnet.conflist'


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


def addresses(host, dev, ns=None):
    argv = ['ip', '-j', '-4', 'addr', 'show', 'dev', dev]
    data = json.loads((host.ns_run(ns, argv, check=True) if ns else host.run(argv, check=True)).stdout)
    return ['%s/%d' % (a['local'], a['prefixlen']) for a in data[0]['addr_info']] if data else []


def ping(host, ns, target):
    return host.ns_run(ns, ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', target]).returncode == 0


def read_conflist(host):
    return json.loads(host.run(['cat', CONFLIST], check=True).stdout)


def runtime_pods_in(lab, mode, hosts, capsys, outside):
    """Attach a runtime pod on each of ``hosts`` with the host's own conflist; the matrix with the collection's pods;
    a rerun; masquerade to ``outside`` = (address, nsenter prefix, device) seen on the wire; DEL. Returns the matrix."""
    attached, pods = [], []
    try:
        for name in hosts:
            host = lab.hosts[name]
            conf = read_conflist(host)
            result = cni.add(host, conf, 'rt-' + name)
            cni.check(host, conf, 'rt-' + name, result)
            attached.append((host, conf, 'rt-' + name, result))
            pods += [('%s/ns1' % name, host, 'ns1', _own_pod_ip(host)), ('%s/rt' % name, host, 'rt-' + name, cni.pod_ip(result))]
        lines, failures = cni.ping_matrix(pods)
        assert not failures, '\n'.join(lines)

        before = dump(lab)
        again = lab.playbook('playbooks/site.yml', '-e', 'mode=' + mode, *BRIDGE)
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
        assert_same(dump(lab), before, 'the rerun changed the kernel')
        for host, conf, ns, result in attached:
            cni.check(host, conf, ns, result)  # still attached as the plugins left it

        address, nsenter, dev = outside
        src_host, _conf, src_ns, src_result = attached[0]
        out, seen = cni.echo_sources(nsenter, dev, lambda: src_host.ns_run(
            src_ns, ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', address]))
        node_ip = lab.hostvars[hosts[0]]['podnet_node_ip']
        assert out.returncode == 0 and seen == [node_ip], (out.stdout, seen)
        with capsys.disabled():
            print('\nmode %s, runtime pods attached with the collection\'s conflist (Debian\'s bridge, host-local, '
                  'portmap): ping matrix\n  %s\n  rerun changed=0; %s -> %s seen on the wire from %s (masquerade)'
                  % (mode, '\n  '.join(lines), cni.pod_ip(src_result), address, node_ip))
        return lines
    finally:
        for host, conf, ns, result in attached:
            ip = cni.pod_ip(result)
            cni.delete(host, conf, ns, result)
            # DEL: the pod's veth is gone from the bridge and host-local released its address
            assert [p['ifname'] for p in host.ipj('link', 'show', 'master', 'cni0')] == ['veth-ns1']
            assert host.run(['test', '-e', '/var/lib/cni/networks/podnet/' + ip]).returncode != 0


def _own_pod_ip(host):
    return addresses(host, 'eth0', ns='ns1')[0].split('/')[0]
