# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action openkube.podnet.host_plan: read the underlay (one node_facts execution), compute the plan.

The documentation is in plugins/modules/host_plan.py. One task per host does what the preflight
did in two (the node_facts module, then a set_fact with the filter openkube.podnet.host_plan):
every task per host costs controller time, whether it runs a module or not.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.openkube.podnet.plugins.filter.plan import NODE_FIELDS, NODE_VARS, _members
from ansible_collections.openkube.podnet.plugins.module_utils import _plan

NODE_FACTS = 'openkube.podnet.node_facts'

ARGSPEC = dict(
    cluster=dict(type='raw', required=True),
    settings=dict(type='dict', required=True),
    dev=dict(type='str'),
)


def members_from(cluster, hostvars):
    """[(host, {podnet_node_ip, podnet_pod_cidr, podnet_vxlan_mac})] from the option ``cluster``.

    Elements are host names (their variables are read from ``hostvars``) or nodes as the filter
    openkube.podnet.cluster_check returns them (name, node_ip, pod_cidr, vtep_mac), which spares every
    host reading every other host's variables again."""
    names = [c for c in cluster if not isinstance(c, dict)]
    nodes = [c for c in cluster if isinstance(c, dict)]
    if names and nodes:
        raise AnsibleError('cluster: give host names or nodes from the filter openkube.podnet.cluster_check, not both')
    if names:
        if hostvars is None:
            raise AnsibleError('cluster: host names need hostvars, which this task does not have')
        return _members([to_text(n) for n in names], hostvars)
    members = []
    for i, node in enumerate(nodes):
        if not node.get('name'):
            raise AnsibleError('cluster[%d]: a node needs a name (the output of openkube.podnet.cluster_check)' % i)
        members.append((node['name'], dict(zip(NODE_VARS, (node.get(field) for field in NODE_FIELDS)))))
    return members


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGSPEC)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        _validation, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        host = task_vars.get('inventory_hostname')
        cluster, prefixes = args['cluster'], None
        if isinstance(cluster, dict):  # cluster_check(prefixes=true): the nodes and the cluster-wide prefixes
            cluster, prefixes = cluster.get('nodes') or [], cluster.get('prefixes')
        if not isinstance(cluster, list):
            return dict(result, failed=True, msg='cluster: %r is neither a list of hosts or nodes nor the output of '
                        'openkube.podnet.cluster_check' % (type(args['cluster']).__name__,))
        try:
            members = members_from(cluster, task_vars.get('hostvars'))
            # the host's own settings first: a bad value fails without a remote execution
            settings = _plan.normalise_settings(host, args['settings'])
            mine = [hv for name, hv in members if name == host]
            if not mine:
                raise _plan.PlanError('%s: is not in the cluster group (podnet_cluster_group); it has no pod range '
                                      'to plan' % host)
            node_ip, node_ip6 = mine[0].get('podnet_node_ip'), mine[0].get('podnet_node_ip6')
        except _plan.PlanError as exc:
            return dict(result, failed=True, msg=to_text(exc))
        peers = [(name, 'podnet_node_ip', hv.get('podnet_node_ip')) for name, hv in members if name != host]
        if node_ip6:  # an IPv6 underlay: the peers' IPv6 node addresses are tested for on-link too
            peers += [(name, 'podnet_node_ip6', hv['podnet_node_ip6']) for name, hv in members
                      if name != host and hv.get('podnet_node_ip6')]
        # node_facts names the variables people set in its messages, not its own options
        module_args = dict(node_ip=node_ip, peers=[ip for _name, _var, ip in peers],
                           names=dict(node_ip='podnet_node_ip', dev='podnet_underlay_dev',
                                      peers=['%s: %s' % (name, var) for name, var, _ip in peers]),
                           # the pods the last converge made, which the plan removes when they are no longer wanted
                           record=_plan.record_path(settings))
        if args['dev']:
            module_args['dev'] = args['dev']
        if node_ip6:
            module_args['node_ip6'] = node_ip6
            module_args['names']['node_ip6'] = 'podnet_node_ip6'
        facts = self._execute_module(module_name=NODE_FACTS, module_args=module_args, task_vars=task_vars)
        for key in ('warnings', 'deprecations'):
            if facts.get(key):
                result[key] = facts[key]
        if facts.get('failed'):
            # the rescue of the preflight tells a missing pyroute2 (which it installs) from the rest
            facts['msg'] = '%s: %s' % (host, facts.get('msg') or 'reading the underlay failed')
            facts.pop('invocation', None)
            result.update(facts)
            return result
        try:
            # nodes from cluster_check were validated together once, on the controller: not again per host
            validated = all(isinstance(c, dict) for c in cluster)
            plan = _plan.host_plan(members, host, dict(args['settings']), facts, validated=validated,
                                   prefixes=prefixes if validated else None)
        except _plan.PlanError as exc:
            return dict(result, failed=True, msg=to_text(exc))
        result['plan'] = plan
        result['changed'] = False
        return result
