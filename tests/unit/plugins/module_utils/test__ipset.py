# -*- coding: utf-8 -*-
"""The ipset resource without a kernel: validation, comparison, and the probe of xt_set."""

from __future__ import annotations

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _ipset
from ansible_collections.openkube.podnet.plugins.module_utils._resource import Change


def wanted(sets, state='present'):
    return _ipset.wanted_from_params(dict(sets=sets, state=state, purge=False))


def test_members_normalised_and_sorted_by_address():
    got = wanted([dict(name='podnet-peers', members=['10.57.5.7/32', '10.57.4.20/31', '9.0.0.0/8'])])
    assert got == [dict(name='podnet-peers', family=4, type='hash:net',
                        members=['9.0.0.0/8', '10.57.4.20/31', '10.57.5.7/32'])]
    assert wanted([dict(name='podnet-peers6', family=6, members=['FD57:4::20/127'])])[0]['members'] == ['fd57:4::20/127']
    assert wanted([dict(name='podnet-peers')], state='absent')[0]['members'] is None


def test_an_update_adds_before_it_deletes_and_says_what():
    res = _ipset.IpSets(None, {}, [])
    before = dict(name='podnet-peers', family=4, type='hash:net', members=['10.0.0.1/32', '10.0.0.2/32'])
    after = dict(before, members=['10.0.0.2/32', '10.0.0.3/32'])
    calls = []
    res._member = lambda command, entry, member: calls.append((command, member))
    change = res.compare([before], [after], 'present', False)[0]
    assert change.op == 'update' and not res.recreates(change)
    res.apply([change])
    assert calls == [('add', '10.0.0.3/32'), ('delete', '10.0.0.1/32')]
    assert res.action_text(change) == 'update set podnet-peers: add 10.0.0.3/32; delete 10.0.0.1/32'
    # another family or type: destroyed and created again
    other = res.compare([dict(before, type='hash:ip')], [after], 'present', False)[0]
    assert res.recreates(other)


def test_purge_and_absent_touch_only_podnet_sets():
    res = _ipset.IpSets(None, {}, [])
    foreign = dict(name='docker-x', family=4, type='hash:net', members=[])
    ours = dict(name='podnet-old', family=4, type='hash:net', members=[])
    changes = res.compare([foreign, ours], [], 'present', True)
    assert [(c.op, c.before['name']) for c in changes] == [('delete', 'podnet-old')]
    assert isinstance(changes[0], Change)


@pytest.mark.parametrize('matches, dep, builtin, found', [
    ('udp\nset\ntcp\n', None, None, True),  # registered: built in or loaded
    ('udp\ntcp\n', 'kernel/net/netfilter/xt_set.ko.xz: kernel/net/netfilter/ipset/ip_set.ko.xz\n', None, True),
    ('udp\n', None, 'kernel/net/netfilter/xt_set.ko\n', True),
    ('udp\n', 'kernel/net/netfilter/xt_socket.ko:\n', 'kernel/net/netfilter/xt_setx.ko\n', False),
    (None, None, None, False),
])
def test_xt_set_is_found_registered_or_loadable(tmp_path, monkeypatch, matches, dep, builtin, found):
    if matches is not None:
        (tmp_path / 'matches').write_text(matches)
    release = tmp_path / 'modules' / '6.1.0'
    release.mkdir(parents=True)
    for name, text in (('modules.dep', dep), ('modules.builtin', builtin)):
        if text is not None:
            (release / name).write_text(text)
    monkeypatch.setattr(_ipset, 'IPTABLES_MATCHES', str(tmp_path / 'matches'))
    monkeypatch.setattr(_ipset, 'MODULES_DIR', str(tmp_path / 'modules'))
    assert _ipset.xt_set_available('6.1.0') is found
