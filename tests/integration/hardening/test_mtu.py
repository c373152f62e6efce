# -*- coding: utf-8 -*-
"""MTU on the lab: per mode a full-size ping with DF set crosses between pods (payload = MTU - 28)
and one byte more is refused locally with 'Message too long' instead of being lost; an underlay
of MTU 1400 gives correspondingly smaller devices. ipip: tests/integration/hardening/test_uml_hardening.py."""

from __future__ import annotations

import pytest

from hardening_kit import df_ping, iputils_df, segments

WANT = {'host-gw': 1500, 'vxlan': 1450}


def link_mtu(host, dev, podns=None):
    if podns:
        import json
        return json.loads(host.ns_run(podns, ['ip', '-j', 'link', 'show', dev], check=True).stdout)[0]['mtu']
    return host.ipj('link', 'show', dev)[0]['mtu']


def check_df(lab, mtu):
    w2, w3 = lab['worker2'], lab['worker3']
    for src, dst in ((w2, '192.168.11.10'), (w3, '192.168.10.10')):
        full = df_ping(src, dst, mtu - 28)
        assert (full['received'], full['error']) == (2, None), full
        rc, out = iputils_df(src, dst, mtu - 28)
        assert rc == 0, out
        over = df_ping(src, dst, mtu - 27)
        assert (over['sent'], over['received'], over['error']) == (0, 0, 'Message too long'), over
        rc, out = iputils_df(src, dst, mtu - 27)
        assert rc != 0 and 'message too long' in out.lower(), out


@pytest.mark.parametrize('mode', sorted(WANT))
def test_full_size_df_ping_crosses_and_one_more_byte_is_refused(hlab, mode):
    hlab.playbook('playbooks/site.yml', '-e', 'mode=' + mode)
    w2 = hlab['worker2']
    mtu = WANT[mode]
    assert link_mtu(w2, 'veth-ns1') == mtu and link_mtu(w2, 'eth0', podns='ns1') == mtu
    if mode == 'vxlan':
        assert link_mtu(w2, 'podnet.vxlan') == mtu
    check_df(hlab, mtu)


def test_smaller_underlay_gives_smaller_devices(hlab):
    """The lab's segment at MTU 1400 (the lab changes eth0 in place); the next converge follows."""
    try:
        hlab.build('-e', segments(1400))
        assert hlab['worker2'].ipj('link', 'show', 'eth0')[0]['mtu'] == 1400
        hlab.playbook('playbooks/site.yml', '-e', 'mode=vxlan')
        for name in ('worker2', 'worker3'):
            host = hlab[name]
            assert link_mtu(host, 'podnet.vxlan') == 1350
            assert link_mtu(host, 'veth-ns1') == 1350 and link_mtu(host, 'eth0', podns='ns1') == 1350
        check_df(hlab, 1350)
    finally:
        hlab.build('-e', segments(1500))  # the next converge (of the next test) follows it back up
