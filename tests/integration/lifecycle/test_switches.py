# -*- coding: utf-8 -*-
"""Issue 6, points 1 (ownership), 3 (mode switches) and 7 (teardown), on this machine's kernel
(host-gw and vxlan; ipip is in test_uml.py).

One lab goes through: pristine -> hand-made objects -> host-gw -> vxlan -> host-gw -> vxlan ->
``site.yml -e podnet_state=absent`` (twice). The ``journey`` fixture runs it once and keeps every
dump; each test asserts one point on it:

* ownership: the hand-made route, neighbour entries, veth pair and vxlan device (kit.handmade)
  are there, unchanged, after every converge, switch and the teardown;
* switches: after each switch, every host's normalised dump equals that of a fresh deployment
  of the new mode on a lab that never saw another mode (the ``fresh`` fixture);
* teardown: the dump after teardown equals the dump taken before the first converge (with the
  hand-made objects), and a second teardown changes nothing.
"""

from __future__ import annotations

import pytest

import kit
from kit import lab_name
from lab import built_lab

SEQUENCE = ('host-gw', 'vxlan', 'host-gw', 'vxlan')


@pytest.fixture(scope='module')
def journey():
    with built_lab('inventories/lab', name=lab_name('switch')) as lab:
        record = dict(pristine=kit.dump(lab))
        kit.handmade(lab)
        record['handmade'] = kit.dump(lab)
        record['steps'] = []
        for mode in SEQUENCE:
            run = kit.site(lab, mode)
            record['steps'].append((mode, run, kit.dump(lab)))
        record['teardown'] = kit.teardown(lab)
        record['after_teardown'] = kit.dump(lab)
        record['teardown_again'] = kit.teardown(lab)
        record['after_teardown_again'] = kit.dump(lab)
        yield record


def test_hand_made_objects_survive_converge_switch_and_teardown(journey):
    kit.assert_handmade(journey['handmade'])
    for i, (mode, _run, state) in enumerate(journey['steps']):
        kit.assert_handmade(state)
        for host, s in state.items():
            before = journey['handmade'][host]
            for dev in kit.HANDMADE['devices']:
                if dev in before['links']:
                    kit.assert_same(s['links'][dev], before['links'][dev], '%s: hand-made %s after step %d (%s)'
                                    % (host, dev, i + 1, mode))
    kit.assert_handmade(journey['after_teardown'])


@pytest.mark.parametrize('step', range(len(SEQUENCE)), ids=['%d-%s' % (i + 1, m) for i, m in enumerate(SEQUENCE)])
def test_switch_equals_fresh_deployment(journey, fresh, step):
    mode, run, state = journey['steps'][step]
    previous = SEQUENCE[step - 1] if step else 'nothing'
    assert all(n > 0 for n in run.changed().values()), run.changed()
    kit.assert_same(state, fresh[mode], 'after %s -> %s, the dump differs from a fresh %s deployment '
                    '(first: switched lab, second: fresh lab)' % (previous, mode, mode))


def test_teardown_removes_everything_it_made_and_nothing_else(journey):
    teardown = journey['teardown']
    assert all(n > 0 for n in teardown.changed().values()), teardown.changed()
    after, before = kit.copy(journey['after_teardown']), kit.copy(journey['handmade'])
    kit.assert_same(after, before, 'teardown left the hosts different from before the first converge '
                    '(first: after teardown, second: before, with the hand-made objects)')
    again = journey['teardown_again']
    assert set(again.changed().values()) == {0}, again.tail()
    kit.assert_same(journey['after_teardown_again'], journey['after_teardown'], 'a second teardown changed something')


def test_teardown_restores_forwarding(journey):
    """The converge sets ip_forward and (tunnel modes) the underlay's rp_filter; the teardown sets them back."""
    before = dict((h, s['sysctl']) for h, s in journey['handmade'].items())
    after = dict((h, s['sysctl']) for h, s in journey['after_teardown'].items())
    assert after == before, ('teardown left sysctls the collection set: before the first converge %s, after '
                             'teardown %s' % (before, after))
