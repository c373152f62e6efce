# -*- coding: utf-8 -*-
"""openkube.podnet.converge given the cluster's nodes instead of a plan (issue 19): one execution reads the underlay,
computes the host's plan there and converges it, only if planning succeeded. In a throwaway namespace set up with
`ip` (eth0 holding 10.57.4.20/24, a gateway route to 10.58.0.0/24), in a mount namespace of its own with /run on a
tmpfs (the sysctl module's ledger lives under /run/podnet): the machine's /run is never written. No pods (they would
be named namespaces of the machine's /run/netns); the state is read back with `ip -j`."""

from __future__ import annotations

import json

import pytest

from kernel import ipj, run_module, underlay

NODES = [dict(name='worker2', node_ip='10.57.4.20', pod_cidr='192.168.10.0/24', vtep_ip='192.168.10.0',
              vtep_mac='0e:00:00:00:00:02'),
         dict(name='worker3', node_ip='10.57.4.21', pod_cidr='192.168.11.0/24', vtep_ip='192.168.11.0',
              vtep_mac='0e:00:00:00:00:03')]
#: a private mount namespace whose /run is a tmpfs, inside the test's network namespace
PRIVATE_RUN = ('unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs podnet-test /run && exec "$0" "$@"')


@pytest.fixture
def host(netns):
    return underlay(netns('cv'))


def converge(ns, tmp_path, check=False, return_plan=False, **settings):
    args = dict(host='worker2', nodes=NODES, return_plan=return_plan, settings=dict(dict(
        mode='host-gw', pods=[], state_dir=str(tmp_path / 'state'), repair=False, encap_filter=False,
        forward_accept=False, masquerade=False), **settings))
    return run_module('converge', args, check=check, prefix=('ip', 'netns', 'exec', ns) + PRIVATE_RUN)


def state(ns):
    return ipj(ns, 'link', 'show'), ipj(ns, 'addr', 'show'), ipj(ns, 'route', 'show', 'table', 'all')


def test_read_plan_and_converge_in_one_execution(host, tmp_path):
    before = state(host)
    checked = converge(host, tmp_path, check=True)
    assert checked['changed'] is True and not checked.get('failed') and 'plan' not in checked, checked
    assert state(host) == before
    applied = converge(host, tmp_path, return_plan=True)
    assert applied['changed'] is True and applied['plan']['underlay_dev'] == 'eth0', applied
    routes = ipj(host, 'route', 'show', 'proto', '57')
    assert [(r['dst'], r['gateway'], r['dev']) for r in routes] == [('192.168.11.0/24', '10.57.4.21', 'eth0')], routes
    with open(str(tmp_path / 'state' / 'applied.json')) as handle:
        recorded = json.load(handle)['plan']  # the record keeps what the plan wants, not what it removes (absent_pods, _bridge, _cni)
    assert recorded == dict((k, v) for k, v in applied['plan'].items() if k not in ('absent_bridge', 'absent_cni', 'absent_pods')), recorded
    again = converge(host, tmp_path)
    assert again['changed'] is False and again['actions'] == [], again


@pytest.mark.parametrize('nodes,settings,expected', [
    (NODES, dict(dev='eth9'), "worker2: podnet_underlay_dev: 'eth9' does not hold podnet_node_ip 10.57.4.20"),
    (NODES[:1] + [dict(NODES[1], node_ip='10.58.0.5')], {},
     "worker2: podnet_mode 'host-gw' cannot reach worker3 (podnet_node_ip 10.58.0.5)"),
    (NODES, dict(mode='vxlan', mtu=1480), "worker2: podnet_mtu 1480 is too large for vxlan over eth0"),
])
def test_a_check_that_needs_the_host_fails_before_the_first_write(host, tmp_path, nodes, settings, expected):
    before = state(host)
    dev = settings.pop('dev', None)
    args = dict(dev=dev) if dev else {}
    got = run_module('converge', dict(host='worker2', nodes=nodes, settings=dict(
        dict(mode='host-gw', pods=[], state_dir=str(tmp_path / 'state'), repair=False), **settings), **args),
        prefix=('ip', 'netns', 'exec', host) + PRIVATE_RUN)
    assert got.get('failed') and got['msg'].startswith(expected), got
    assert state(host) == before
    assert not (tmp_path / 'state').exists()
