# -*- coding: utf-8 -*-
"""Issue 6, point 4: drift repair, on this machine's kernel (vxlan; the ipip device is in test_uml.py).

A lab converged in vxlan mode gets faults made by hand, one on each host per round; the next
``site.yml`` run must report a change on both hosts, name the repair in the converge module's
actions, and leave every host's normalised dump equal to the converged one (which equals a fresh
vxlan deployment). A last run changes nothing and verify passes.
"""

from __future__ import annotations

import pytest

import kit
from kit import lab_name
from lab import built_lab

from ansible_collections.openkube.podnet.plugins.module_utils._plan import vtep_mac  # noqa: E402

W2_MAC = vtep_mac('10.57.4.20')  # the VTEP MACs as the plan derives them
W3_MAC = vtep_mac('10.57.4.21')

#: (round id, {host: (shell commands that make the fault, [substrings expected in the converge actions])})
ROUNDS = [
    ('route-deleted/neighbour-deleted', {
        'worker2': ('ip route del 192.168.11.0/24', ['route: add 192.168.11.0/24']),
        'worker3': ('ip neigh del 192.168.10.0 dev podnet.vxlan', ['neighbor: add 192.168.10.0']),
    }),
    ('fdb-deleted/vxlan-device-deleted', {
        'worker2': ('bridge fdb del %s dev podnet.vxlan dst 10.57.4.21 self' % W3_MAC, ['fdb: add %s' % W3_MAC]),
        'worker3': ('ip link del podnet.vxlan', ['vxlan: add', 'neighbor: add', 'fdb: add', 'route: add 192.168.10.0/24']),
    }),
    ('pod-veth-deleted/mtu-changed', {
        'worker2': ('ip link del veth-ns1', ['veth: add', 'route: add 192.168.10.10']),
        'worker3': ('ip link set podnet.vxlan mtu 1400 && ip link set veth-ns1 mtu 1300', ['vxlan: update', 'veth: update']),
    }),
    ('mac-changed/route-replaced', {
        'worker2': ('ip link set podnet.vxlan address 0e:11:22:33:44:55', ['vxlan: update']),
        'worker3': ('ip route replace 192.168.10.0/24 via 10.57.4.20 dev eth0 proto 57', ['route: update 192.168.10.0/24']),
    }),
    ('stale-owned-entries/wrong-lladdr-and-fdb-dst', {
        'worker2': ('ip neigh add 192.168.50.0 lladdr 0e:00:00:00:50:00 dev podnet.vxlan nud permanent && '
                    'bridge fdb append 0e:00:00:00:50:00 dev podnet.vxlan dst 10.57.4.50 self permanent && '
                    'ip route add 192.168.50.0/24 via 192.168.50.0 dev podnet.vxlan onlink proto 57',
                    ['neighbor: delete 192.168.50.0', 'fdb: delete 0e:00:00:00:50:00', 'route: delete 192.168.50.0/24']),
        'worker3': ('ip neigh replace 192.168.10.0 lladdr 0e:00:00:00:00:bd dev podnet.vxlan nud permanent && '
                    'bridge fdb replace %s dev podnet.vxlan dst 10.57.4.99 self permanent' % W2_MAC,
                    ['neighbor: update 192.168.10.0', 'fdb: update %s' % W2_MAC]),
    }),
    ('pod-netns-deleted/forwarding-off-device-down-pod-address-and-route-deleted', {
        'worker2': ('ip netns del ns1', ['netns: add network namespace ns1', 'veth: add']),
        'worker3': ('sysctl -qw net.ipv4.ip_forward=0 && ip link set podnet.vxlan down && '
                    'ip -n ns1 route del default && ip -n ns1 addr del 192.168.11.10/32 dev eth0',
                    ['sysctl: ', 'vxlan: update', 'address in ns1: ', 'route in ns1: add default']),
    }),
]


@pytest.fixture(scope='module')
def converged(fresh):
    with built_lab('inventories/lab', name=lab_name('drift')) as lab:
        kit.handmade(lab)
        kit.site(lab, 'vxlan')
        state = kit.dump(lab)
        kit.assert_same(state, fresh['vxlan'], 'the drift lab after its first converge is not a fresh vxlan deployment')
        yield lab, state


@pytest.mark.parametrize('faults', [r[1] for r in ROUNDS], ids=[r[0] for r in ROUNDS])
def test_drift_is_repaired(converged, faults, capsys):
    lab, good = converged
    assert kit.dump(lab) == good, 'the lab is not converged before the faults (an earlier round left drift)'
    for host, (script, _expected) in faults.items():
        lab.hosts[host].run(['bash', '-ec', script], check=True)
    broken = kit.dump(lab)
    for host in faults:
        assert broken[host] != good[host], '%s: the fault changed nothing: %s' % (host, faults[host][0])

    run = kit.site(lab, 'vxlan', what='site vxlan (repair %s)' % ', '.join(sorted(faults)))
    actions = dict((h, e['actions'] or []) for h, e in run.converge().items())
    with capsys.disabled():
        print('\n' + '\n'.join('  %s repaired: %s' % (h, '; '.join(a)) for h, a in sorted(actions.items())))
    for host, (_script, expected) in faults.items():
        assert run.changed()[host] > 0, '%s: the repair run reported no change:\n%s' % (host, run.tail())
        for text in expected:
            assert any(text in a for a in actions[host]), '%s: no action like %r in %s' % (host, text, actions[host])
    kit.assert_handmade(kit.dump(lab))
    kit.assert_same(kit.dump(lab), good, 'after the repair run (first: now, second: converged before the faults)')


def test_after_repairs_nothing_changes_and_verify_passes(converged):
    lab, good = converged
    again = kit.site(lab, 'vxlan', what='site vxlan (after the repairs)')
    assert set(again.changed().values()) == {0}, again.tail()
    kit.verify(lab, 'vxlan')
    assert kit.dump(lab) == good
