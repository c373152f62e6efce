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

from ansible_collections.openkube.podnet.plugins.filter.plan import _members
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
    try:
        return _plan.members_from_nodes(nodes)
    except _plan.PlanError as exc:
        raise AnsibleError(str(exc))


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
            module_args = _plan.facts_request(members, host, settings, args['dev'])
        except _plan.PlanError as exc:
            return dict(result, failed=True, msg=to_text(exc))
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
        if plan.get('warnings'):
            result['warnings'] = list(result.get('warnings') or []) + list(plan['warnings'])
        result['changed'] = False
        return result
