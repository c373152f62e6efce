# -*- coding: utf-8 -*-
"""Issue 16, points 2 and 3, on this machine's kernel: the bridge layout (``podnet_attach: bridge``) and the CNI
configuration the collection writes (``podnet_cni: true``), used by Debian's CNI plugins as a runtime would.

The lab converges vxlan with the bridge layout and the CNI configuration on both hosts. Read back with iproute2:
``cni0`` holds the gateway with the range's prefix, the collection's pod is on the range's subnet behind a port
of it, the VTEP address stays on the vxlan device, no /32 route. The configuration file is read inside each host
(its own /etc/cni/net.d in the lab). Then a pod is attached on each host with that very file, through Debian's
``bridge``, ``host-local`` and ``portmap`` plugins (tests/cni.py): the runtime's pods ping each other across the
hosts, the collection's pods, and a pod on their own bridge; a rerun changes nothing and leaves them as they were.
Last, back to the routed layout (the runtime's pods detached first): the bridge and the file the last run made go,
the pods ping across, and a rerun changes nothing.
"""

from __future__ import annotations

import json
import uuid

import pytest

import cni  # tests/cni.py
from dumps import assert_same, dump
from lab import built_lab, recap

BRIDGE = ('-e', 'mode=vxlan', '-e', 'podnet_attach=bridge', '-e', 'podnet_cni=true')
CONFLIST = '/etc/cni/net.d/10-podnet.conflist'


def changed(proc):
    return dict((h, c['changed']) for h, c in recap(proc.stdout).items())


@pytest.fixture(scope='module')
def lab():
    with built_lab('inventories/lab', name='br-' + uuid.uuid4().hex[:4]) as built:
        built.playbook('playbooks/site.yml', *BRIDGE)
        yield built


def addresses(host, dev, ns=None):
    run = (lambda argv: host.ns_run(ns, argv, check=True)) if ns else (lambda argv: host.run(argv, check=True))
    data = json.loads(run(['ip', '-j', '-4', 'addr', 'show', 'dev', dev]).stdout)
    return ['%s/%d' % (a['local'], a['prefixlen']) for a in data[0]['addr_info']] if data else []


def ping(host, ns, target):
    return host.ns_run(ns, ['ping', '-c', '2', '-i', '0.3', '-W', '2', '-q', target]).returncode == 0


def test_bridge_layout_on_the_kernel(lab):
    for name, third in (('worker2', 10), ('worker3', 11)):
        host = lab.hosts[name]
        bridge = host.ipj('-d', 'link', 'show', 'cni0')[0]
        assert (bridge['linkinfo']['info_kind'], bridge['mtu']) == ('bridge', 1450)
        assert addresses(host, 'cni0') == ['192.168.%d.1/24' % third]
        assert addresses(host, 'podnet.vxlan') == ['192.168.%d.0/32' % third]
        assert host.ipj('link', 'show', 'veth-ns1')[0]['master'] == 'cni0'
        assert addresses(host, 'veth-ns1') == []
        assert addresses(host, 'eth0', ns='ns1') == ['192.168.%d.10/24' % third]
        default = json.loads(host.ns_run('ns1', ['ip', '-j', 'route', 'show', 'default'], check=True).stdout)
        assert [(r['gateway'], r['dev'], 'onlink' in r.get('flags', [])) for r in default] == [
            ('192.168.%d.1' % third, 'eth0', False)]
        assert [r['dst'] for r in host.ipj('route', 'show', 'proto', '57') if r['dst'].endswith('/32')] == []
    assert ping(lab.hosts['worker2'], 'ns1', '192.168.11.10')


def test_runtime_pods_attached_with_the_collections_cni_configuration(lab, capsys):
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    confs = {}
    for name, host in (('worker2', w2), ('worker3', w3)):
        text = host.run(['cat', CONFLIST], check=True).stdout
        confs[name] = json.loads(text)
        assert (confs[name]['cniVersion'], confs[name]['name']) == ('1.0.0', 'podnet')
    ranges = confs['worker3']['plugins'][0]['ipam']['ranges'][0]
    assert [(r['rangeStart'], r['rangeEnd']) for r in ranges] == [('192.168.11.2', '192.168.11.9'),
                                                                  ('192.168.11.11', '192.168.11.254')]
    attached = []
    try:
        for host, name, ns in ((w2, 'worker2', 'rt2'), (w3, 'worker3', 'rt3')):
            result = cni.add(host, confs[name], ns)
            attached.append((host, confs[name], ns, result))
        rt2, rt3 = cni.pod_ip(attached[0][3]), cni.pod_ip(attached[1][3])
        assert (rt2, rt3) == ('192.168.10.2', '192.168.11.2'), attached
        # the runtime's pod is a port of the collection's bridge, with hairpin on, as the configuration says
        port = [p for p in w3.bridgej('-d', 'link', 'show') if p.get('master') == 'cni0' and p['ifname'] != 'veth-ns1']
        assert len(port) == 1 and port[0].get('hairpin') is True, port
        assert ping(w3, 'rt3', rt2), 'runtime pod to runtime pod across the hosts'
        assert ping(w3, 'rt3', '192.168.10.10'), "runtime pod to the collection's pod across the hosts"
        assert ping(w3, 'rt3', '192.168.11.10'), "runtime pod to the collection's pod on its own bridge"
        assert ping(w2, 'ns1', rt3), "the collection's pod to a runtime pod across the hosts"

        before = dump(lab)
        again = lab.playbook('playbooks/site.yml', *BRIDGE)
        assert set(changed(again).values()) == {0}, again.stdout[-3000:]
        assert_same(dump(lab), before, 'the rerun changed the kernel')
        # the roles path makes the same calls: nothing to change either
        roles = lab.playbook('playbooks/site.yml', *BRIDGE, '-e', 'podnet_apply=roles')
        assert set(changed(roles).values()) == {0}, roles.stdout[-3000:]
        assert ping(w3, 'rt3', rt2)
        with capsys.disabled():
            print('\nbridge layout: runtime pods %s (worker2) and %s (worker3) attached with the collection\'s '
                  'conflist by Debian\'s bridge/host-local/portmap; pings across and on the bridge; rerun changed=0'
                  % (rt2, rt3))
    finally:
        for host, conf, ns, result in attached:
            cni.delete(host, conf, ns, result)


def test_back_to_routed_removes_the_bridge_and_the_configuration(lab):
    w2, w3 = lab.hosts['worker2'], lab.hosts['worker3']
    check = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan', '--check')
    assert changed(check) == {'worker2': 1, 'worker3': 1}, check.stdout[-3000:]
    assert w3.ipj('link', 'show', 'cni0'), '--check changed the kernel'
    routed = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert changed(routed) == {'worker2': 1, 'worker3': 1}, routed.stdout[-3000:]
    for host, third in ((w2, 10), (w3, 11)):
        assert not [link for link in host.ipj('link', 'show') if link['ifname'] == 'cni0']
        assert host.run(['test', '-e', CONFLIST]).returncode != 0
        assert addresses(host, 'veth-ns1') == ['192.168.%d.1/32' % third]
        assert addresses(host, 'eth0', ns='ns1') == ['192.168.%d.10/32' % third]
        assert '192.168.%d.10' % third in [r['dst'] for r in host.ipj('route', 'show', 'proto', '57')]
    assert ping(w2, 'ns1', '192.168.11.10') and ping(w3, 'ns1', '192.168.10.10')
    again = lab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
    assert set(changed(again).values()) == {0}, again.stdout[-3000:]
