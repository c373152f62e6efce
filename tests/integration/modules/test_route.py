# -*- coding: utf-8 -*-
"""openkube.podnet.route against the real kernel, in throwaway namespaces."""

from __future__ import annotations

import uuid

import pytest

from kernel import diff_lists, four_runs, ipj, run_module, sh

PEERS = [
    dict(dst='10.2.0.0/24', via='10.1.0.2', dev='d0'),
    dict(dst='10.3.0.0/24', dev='d0'),
    dict(dst='10.4.0.0/24', via='10.9.9.9', dev='d0', onlink=True),
    dict(dst='10.5.0.0/24', via='10.1.0.3', dev='d0', metric=100, table=100),
    dict(dst='fd00:20::/64', via='fd00:10::2', dev='d0'),
]


def routes(ns, *args, families=('-4', '-6')):
    """{dst: route} as `ip -j route show` prints them, IPv4 and IPv6, table main unless told."""
    found = {}
    for family in families:
        for route in ipj(ns, family, 'route', 'show', *args):
            found[route['dst']] = route
    return found


def all_routes(ns):
    """Every route of every table but those the kernel makes itself (IPv6 ones come and go with DAD)."""
    return sorted(repr(sorted(r.items())) for r in ipj(ns, '-4', 'route', 'show', 'table', 'all')
                  + ipj(ns, '-6', 'route', 'show', 'table', 'all') if r.get('protocol') != 'kernel')


@pytest.fixture
def dev(netns):
    """A namespace with d0 (veth, up, 10.1.0.1/24 and fd00:10::1/64)."""
    ns = netns()
    sh('ip', '-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd0p')
    sh('ip', '-n', ns, 'link', 'set', 'd0', 'up')
    sh('ip', '-n', ns, 'link', 'set', 'd0p', 'up')
    sh('ip', '-n', ns, 'addr', 'add', '10.1.0.1/24', 'dev', 'd0')
    sh('ip', '-n', ns, 'addr', 'add', 'fd00:10::1/64', 'dev', 'd0', 'nodad')
    return ns


def test_four_runs(dev):
    first_check, applied, second_check, again = four_runs('route', dict(netns=dev, routes=PEERS))
    assert first_check['changed'] is True and len(first_check['actions']) == 5
    main = routes(dev)
    assert main['10.2.0.0/24']['gateway'] == '10.1.0.2' and main['10.2.0.0/24']['dev'] == 'd0'
    assert main['10.3.0.0/24']['scope'] == 'link' and 'gateway' not in main['10.3.0.0/24']
    assert main['10.4.0.0/24']['gateway'] == '10.9.9.9' and 'onlink' in main['10.4.0.0/24']['flags']
    assert main['fd00:20::/64']['gateway'] == 'fd00:10::2'
    for dst in ('10.2.0.0/24', '10.3.0.0/24', '10.4.0.0/24', 'fd00:20::/64'):
        assert main[dst]['protocol'] == '57', main[dst]
    table100 = routes(dev, 'table', '100', families=('-4',))
    assert table100['10.5.0.0/24']['gateway'] == '10.1.0.3' and table100['10.5.0.0/24']['metric'] == 100
    assert table100['10.5.0.0/24']['protocol'] == '57'
    before_dsts = set(r['dst'] for r in diff_lists(applied)['before'])
    after_dsts = set(r['dst'] for r in diff_lists(applied)['after'])
    assert '10.2.0.0/24' not in before_dsts and '10.2.0.0/24' in after_dsts
    assert '10.1.0.0/24' in before_dsts and '10.1.0.0/24' in after_dsts  # the kernel's own route
    assert diff_lists(again)['before'] == diff_lists(again)['after']


def test_change_in_place(dev):
    assert run_module('route', dict(netns=dev, routes=PEERS[:1]))['changed'] is True
    moved = [dict(PEERS[0], via='10.1.0.9')]
    first_check, applied, second_check, again = four_runs('route', dict(netns=dev, routes=moved))
    assert first_check['actions'] == ['update 10.2.0.0/24 via 10.1.0.9 dev d0 (via: 10.1.0.2 -> 10.1.0.9)']
    assert routes(dev)['10.2.0.0/24']['gateway'] == '10.1.0.9'


def test_ipv6_route_moved_to_an_onlink_gateway_it_covers_is_recreated(dev):
    """host-gw -> vxlan for IPv6 pods: fd00:20::/64 via fd00:10::2 on d0 becomes fd00:20::/64 via fd00:20:: onlink on
    vx0. The kernel refuses to replace it (the old route covers the new gateway through another device: EINVAL),
    so the module deletes and re-adds it, and says so (recreate) in check mode too."""
    sh('ip', '-n', dev, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '7', 'dstport', '8472', 'dev', 'd0',
       'local', '10.1.0.1', 'nolearning')
    sh('ip', '-n', dev, 'link', 'set', 'vx0', 'up')
    assert run_module('route', dict(netns=dev, routes=[PEERS[4]]))['changed'] is True
    moved = [dict(dst='fd00:20::/64', via='fd00:20::', dev='vx0', onlink=True)]
    first_check, applied, _second_check, _again = four_runs('route', dict(netns=dev, routes=moved))
    assert first_check['actions'] == applied['actions'] and applied['actions'][0].startswith(
        'recreate fd00:20::/64 via fd00:20:: dev vx0'), applied['actions']
    route = routes(dev)['fd00:20::/64']
    assert (route['gateway'], route['dev'], route['protocol']) == ('fd00:20::', 'vx0', '57') and 'onlink' in route['flags']


def test_purge_removes_owned_and_keeps_foreign_routes(dev):
    sh('ip', '-n', dev, 'route', 'add', '10.7.0.0/24', 'via', '10.1.0.7', 'proto', 'static')
    sh('ip', '-n', dev, 'route', 'add', '10.8.0.0/24', 'via', '10.1.0.8', 'proto', '57')
    sh('ip', '-n', dev, 'route', 'add', '10.6.0.0/24', 'via', '10.1.0.6')  # proto boot
    first_check, applied, second_check, again = four_runs('route', dict(netns=dev, routes=PEERS[:2], purge=True))
    assert sorted(first_check['actions']) == ['add 10.2.0.0/24 via 10.1.0.2 dev d0', 'add 10.3.0.0/24 dev d0',
                                              'delete 10.8.0.0/24 via 10.1.0.8 dev d0']
    main = routes(dev)
    assert '10.8.0.0/24' not in main
    assert main['10.7.0.0/24']['protocol'] == 'static'
    assert main['10.6.0.0/24'].get('protocol', 'boot') == 'boot'  # iproute2 does not print 'proto boot'
    assert '10.1.0.0/24' in main  # the kernel's own
    assert '10.8.0.0/24' in set(r['dst'] for r in diff_lists(applied)['before'])
    assert '10.8.0.0/24' not in set(r['dst'] for r in diff_lists(applied)['after'])


def test_four_runs_absent(dev):
    assert run_module('route', dict(netns=dev, routes=PEERS))['changed'] is True
    sh('ip', '-n', dev, 'route', 'add', '10.7.0.0/24', 'via', '10.1.0.7', 'proto', 'static')
    gone = PEERS[:2] + [dict(dst='10.7.0.0/24', via='10.1.0.7')]
    first_check, applied, second_check, again = four_runs('route', dict(netns=dev, routes=gone, state='absent'))
    assert sorted(first_check['actions']) == ['delete 10.2.0.0/24 via 10.1.0.2 dev d0', 'delete 10.3.0.0/24 dev d0']
    main = routes(dev)
    assert '10.2.0.0/24' not in main and '10.3.0.0/24' not in main
    assert '10.4.0.0/24' in main  # not listed
    assert main['10.7.0.0/24']['protocol'] == 'static'  # listed, but not ours
    assert '10.2.0.0/24' not in set(r['dst'] for r in diff_lists(applied)['after'])


def test_foreign_route_in_the_way_is_an_error(dev):
    sh('ip', '-n', dev, 'route', 'add', '10.2.0.0/24', 'via', '10.1.0.7', 'proto', 'static')
    before = all_routes(dev)
    result = run_module('route', dict(netns=dev, routes=PEERS[:1]))
    assert result.get('failed') is True
    assert result['msg'].startswith('10.2.0.0/24 via 10.1.0.7 dev d0 proto 4 exists in namespace %s but is not owned' % dev)
    assert all_routes(dev) == before


def test_check_mode_in_missing_namespace_creates_nothing():
    missing = 'pnt-missing-%s' % uuid.uuid4().hex[:8]
    args = dict(netns=missing, routes=PEERS[:1])
    result = run_module('route', args, check=True)
    assert result['changed'] is True and result['actions'] == ['add 10.2.0.0/24 via 10.1.0.2 dev d0']
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]
    applied = run_module('route', args)
    assert applied.get('failed') is True and repr(missing) in applied['msg']
    assert missing not in [ns['name'] for ns in ipj(None, 'netns', 'list')]


@pytest.mark.parametrize('routes_arg, start', [
    ([dict(dst='not-a-net', dev='d0')], "routes[0].dst: 'not-a-net' is not a valid IP address"),
    ([dict(dst='10.2.0.1/24', dev='d0')], "routes[0].dst: '10.2.0.1/24' has host bits set (did you mean 10.2.0.0/24?)"),
    ([dict(dst='10.2.0.0/24', via='fd00::1', dev='d0')], "routes[0].via: 'fd00::1' is IPv6 but dst 10.2.0.0/24 is IPv4"),
    ([dict(dst='10.2.0.0/24', via='10.1.0.300')], "routes[0].via: '10.1.0.300' is not a valid IP address"),
    ([dict(dst='10.2.0.0/24')], 'routes[0]: route to 10.2.0.0/24 needs a via, a dev or both'),
    ([dict(dst='10.2.0.0/24', via='10.1.0.2', onlink=True)], 'routes[0].onlink: an onlink route to 10.2.0.0/24 needs'),
    ([dict(dst='10.2.0.0/24', dev='a-very-long-name0')], "routes[0].dev: 'a-very-long-name0' is 17 bytes long"),
    ([dict(dst='10.2.0.0/24', dev='d0', table='nope')], "routes[0].table: 'nope' is not an integer"),
    ([dict(dst='10.2.0.0/24', dev='d0', metric=-1)], 'routes[0].metric: -1 is out of range'),
    ([dict(dst='10.2.0.0/24', dev='d0'), dict(dst='10.2.0.0/24', via='10.1.0.2')],
     "routes[1].dst: '10.2.0.0/24' is listed twice (also routes[0])"),
    # a later route that cannot be added: nothing before it may have been written either
    ([dict(dst='10.2.0.0/24', via='10.1.0.2', dev='d0'), dict(dst='10.3.0.0/24', dev='nope0')],
     'route to 10.3.0.0/24: device nope0 does not exist'),
])
def test_bad_input(dev, routes_arg, start):
    before = all_routes(dev)
    result = run_module('route', dict(netns=dev, routes=routes_arg, purge=True))
    assert result.get('failed') is True, result
    assert result['msg'].startswith(start), result['msg']
    assert all_routes(dev) == before


def test_bad_type_is_refused_by_ansible(dev):
    before = all_routes(dev)
    result = run_module('route', dict(netns=dev, routes=[dict(dst='10.2.0.0/24', dev='d0', metric='high')]))
    assert result.get('failed') is True
    assert 'metric' in result['msg'] and 'high' in result['msg'], result['msg']
    assert all_routes(dev) == before
