# -*- coding: utf-8 -*-
"""openkube.podnet.ipset against the real kernel's ip sets, inside throwaway namespaces only.
The sets are read back by a separate Python process in the namespace (`ip netns exec`) with pyroute2's own
IPSet, not through our module_utils; the firewall rules with iptables-save."""

from __future__ import annotations

import json
import sys

import pytest

from kernel import diff_lists, four_runs, run_module, sh

READ = r'''
import json, socket
from pyroute2.ipset import IPSet
ips = IPSet()
found = {}
for msg in ips.list():
    name = msg.get_attr('IPSET_ATTR_SETNAME')
    entry = found.setdefault(name, dict(type=msg.get_attr('IPSET_ATTR_TYPENAME'),
                                        family=6 if msg.get_attr('IPSET_ATTR_FAMILY') == socket.AF_INET6 else 4,
                                        members=[]))
    adt = msg.get_attr('IPSET_ATTR_ADT')
    for data in (adt.get_attrs('IPSET_ATTR_DATA') if adt is not None else []):
        ip = data.get_attr('IPSET_ATTR_IP_FROM')
        entry['members'].append('%s/%s' % (ip.get_attr('IPSET_ATTR_IPADDR_IPV4') or ip.get_attr('IPSET_ATTR_IPADDR_IPV6'),
                                           data.get_attr('IPSET_ATTR_CIDR')))
for entry in found.values():
    entry['members'].sort()
print(json.dumps(found))
'''

FOREIGN = r'''
from pyroute2.ipset import IPSet
ips = IPSet()
ips.create('docker-foreign', stype='hash:net')
ips.add('docker-foreign', '172.17.0.0/16', etype='net')
'''


def kernel_sets(ns):
    """{name: {type, family, members}} of every ip set in namespace ``ns``."""
    return json.loads(sh('ip', 'netns', 'exec', ns, sys.executable, '-c', READ))


def input_rules(ns):
    return [line for line in sh('ip', 'netns', 'exec', ns, 'iptables-save', '-t', 'filter').splitlines()
            if line.startswith('-A INPUT')]


SETS = [dict(name='podnet-peers', members=['10.57.4.20/31', '10.57.9.7/32', '10.58.0.0/16']),
        dict(name='podnet-peers6', family=6, members=['fd57:4::20/127'])]
RULE = ['-p', 'udp', '-m', 'set', '--match-set', 'podnet-peers', 'src', '-m', 'udp', '--dport', '8472', '-j', 'ACCEPT']


def test_four_runs_change_in_place_under_a_rule_then_purge(netns):
    ns = netns()
    sh('ip', 'netns', 'exec', ns, sys.executable, '-c', FOREIGN)
    args = dict(netns=ns, sets=SETS, purge=True)
    first_check, applied, _second_check, again = four_runs('ipset', args)
    assert first_check['actions'] == applied['actions'] and len(applied['actions']) == 2, applied['actions']
    assert [s['name'] for s in diff_lists(applied)['before']] == ['docker-foreign']
    have = kernel_sets(ns)
    assert have['podnet-peers'] == dict(type='hash:net', family=4, members=['10.57.4.20/31', '10.57.9.7/32', '10.58.0.0/16'])
    assert have['podnet-peers6'] == dict(type='hash:net', family=6, members=['fd57:4::20/127'])
    assert have['docker-foreign']['members'] == ['172.17.0.0/16']
    assert sorted(s['name'] for s in again['sets']) == ['docker-foreign', 'podnet-peers', 'podnet-peers6']

    # a rule uses the set; its members change in place (never destroyed: the kernel would refuse), the rule stays
    sh('ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', *RULE)
    changed = dict(SETS[0], members=['10.57.4.20/31', '10.57.9.8/32'])
    check = run_module('ipset', dict(netns=ns, sets=[changed, SETS[1]], purge=True), check=True)
    update = run_module('ipset', dict(netns=ns, sets=[changed, SETS[1]], purge=True))
    assert not update.get('failed'), update
    assert update['actions'] == check['actions'] == [
        'update set podnet-peers: add 10.57.9.8/32; delete 10.57.9.7/32, 10.58.0.0/16'], update['actions']
    assert kernel_sets(ns)['podnet-peers']['members'] == ['10.57.4.20/31', '10.57.9.8/32']
    assert input_rules(ns) == ['-A INPUT -p udp -m set --match-set podnet-peers src -m udp --dport 8472 -j ACCEPT']

    # purge: the set no rule uses goes, the one in use and someone else's stay
    purged = run_module('ipset', dict(netns=ns, sets=[changed], purge=True))
    assert purged['actions'] == ['delete set podnet-peers6 hash:net family inet6 [fd57:4::20/127]'], purged
    assert sorted(kernel_sets(ns)) == ['docker-foreign', 'podnet-peers']

    # destroying a set in use fails with a message that says so, and changes nothing
    busy = run_module('ipset', dict(netns=ns, sets=[], purge=True))
    assert busy['failed'] and 'destroy set podnet-peers failed in namespace %s: the set is in use by a firewall rule' % ns \
        in busy['msg'] and 'Traceback' not in json.dumps(busy), busy
    assert sorted(kernel_sets(ns)) == ['docker-foreign', 'podnet-peers']
    sh('ip', 'netns', 'exec', ns, 'iptables', '-D', 'INPUT', *RULE)
    removed = run_module('ipset', dict(netns=ns, sets=[dict(name='podnet-peers')], state='absent'))
    assert removed['changed'] and list(kernel_sets(ns)) == ['docker-foreign'], removed


def test_check_mode_writes_nothing_and_a_missing_namespace_is_predicted(netns):
    ns = netns()
    check = run_module('ipset', dict(netns=ns, sets=SETS), check=True)
    assert check['changed'] and kernel_sets(ns) == {}
    missing = run_module('ipset', dict(netns=ns + '-gone', sets=SETS), check=True)
    assert missing['changed'] and not missing.get('failed'), missing
    failed = run_module('ipset', dict(netns=ns + '-gone', sets=SETS))
    assert failed['failed'] and 'does not exist' in failed['msg']
    # another family or type under a wanted name: destroyed and created again (no rule uses it)
    sh('ip', 'netns', 'exec', ns, sys.executable, '-c',
       "import socket\nfrom pyroute2.ipset import IPSet\nIPSet().create('podnet-peers', stype='hash:ip')")
    fixed = run_module('ipset', dict(netns=ns, sets=SETS[:1]))
    assert fixed['actions'][0].startswith('recreate set podnet-peers hash:net family inet'), fixed
    assert kernel_sets(ns)['podnet-peers']['type'] == 'hash:net'


@pytest.mark.parametrize('sets, message', [
    ([dict(name='peers', members=[])], "sets[0].name: 'peers' is not a set of the collection"),
    ([dict(name='podnet-' + 'x' * 30)], 'at most 31 characters'),
    ([dict(name='podnet-a'), dict(name='podnet-a')], "sets[1].name: 'podnet-a' is given twice (also sets[0])"),
    ([dict(name='podnet-a', members=['fd57::/64'])], "sets[0].members[0]: 'fd57::/64' is not an IPv4 network"),
    ([dict(name='podnet-a', members=['10.57.4.1/24'])], 'has host bits set (did you mean 10.57.4.0/24?)'),
    ([dict(name='podnet-a', members=['0.0.0.0/0'])], 'not /0'),
    ([dict(name='podnet-a', members=['10.0.0.0/8', '10.0.0.0/8'])], "sets[0].members[1]: '10.0.0.0/8' is listed twice"),
])
def test_bad_input_fails_before_any_write(netns, sets, message):
    ns = netns()
    bad = run_module('ipset', dict(netns=ns, sets=sets))
    assert bad['failed'] and message in bad['msg'], bad
    assert kernel_sets(ns) == {}
