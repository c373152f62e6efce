# -*- coding: utf-8 -*-
"""node_facts' messages name what the caller calls its options (the inventory's variables when the action
host_plan runs it), so no one rewords them afterwards. Its reads need a kernel: the end-to-end cases
node-ip-not-on-host and underlay-dev-wrong of tests/integration/lifecycle/test_bad_input.py."""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _node
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError

NAMES = dict(node_ip='podnet_node_ip', dev='podnet_underlay_dev', peers=['worker3: podnet_node_ip'])


@pytest.mark.parametrize('params, names, expected', [
    (dict(node_ip='10.57.4', peers=[]), {}, "node_ip: '10.57.4' is not a valid IP address"),
    (dict(node_ip='10.57.4', peers=[]), NAMES, "podnet_node_ip: '10.57.4' is not a valid IP address"),
    (dict(node_ip='10.57.4.20', dev='a/b', peers=[]), NAMES, "podnet_underlay_dev: 'a/b'"),
    (dict(node_ip='10.57.4.20', peers=['x']), NAMES, "worker3: podnet_node_ip: 'x' is not a valid IP address"),
    # a peer the names do not cover keeps the option's own name
    (dict(node_ip='10.57.4.20', peers=['10.57.4.21', 'y']), NAMES, "peers[1]: 'y' is not a valid IP address"),
    (dict(node_ip='fd00::1', peers=[]), NAMES, "podnet_node_ip: 'fd00::1' is not an IPv4 address"),
    (dict(node_ip='10.57.4.20', node_ip6='10.57.4.20', peers=[]), dict(NAMES, node_ip6='podnet_node_ip6'),
     "podnet_node_ip6: '10.57.4.20' is not an IPv6 address"),
    (dict(node_ip='10.57.4.20', node_ip6='fd57::x', peers=[]), {}, "node_ip6: 'fd57::x' is not a valid IP address"),
])
def test_messages_use_the_given_names(params, names, expected):
    with pytest.raises(ValidationError) as err:
        _node.validate(dict(params, names=names))
    assert str(err.value).startswith(expected), str(err.value)


def test_valid_input_keeps_the_names_for_the_reads():
    wanted = _node.validate(dict(node_ip='10.57.4.20', peers=['10.57.4.21'], names=NAMES))
    assert wanted['names'] == dict(node_ip='podnet_node_ip', node_ip6='node_ip6', dev='podnet_underlay_dev',
                                   peers=['worker3: podnet_node_ip'])
    assert _node.validate(dict(node_ip='10.57.4.20'))['names'] == dict(node_ip='node_ip', node_ip6='node_ip6', dev='dev', peers=[])
    # a dual-stack underlay: the peers' IPv6 node addresses are tested for on-link beside the IPv4 ones
    dual = _node.validate(dict(node_ip='10.57.4.20', node_ip6='fd57:4::20', peers=['10.57.4.21', 'fd57:4::21']))
    assert [str(p) for p in dual['peers']] == ['10.57.4.21', 'fd57:4::21'] and str(dual['node_ip6']) == 'fd57:4::20'
