# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters on the controller: the cluster's variables checked once (see plugins/module_utils/_plan.py),
and a plan turned into the module calls that apply it (plugins/module_utils/_converge.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.openkube.podnet.plugins.module_utils import _plan


def _members(hosts, hostvars):
    members = []
    for host in hosts:
        hv = hostvars[host]
        members.append((host, dict((var, hv.get(var)) for var in _plan.NODE_VARS)))
    return members


def cluster_check(hosts, hostvars, prefixes=False):
    """Validate the cluster's host variables; returns the normalised nodes (name, node_ip, pod_cidr, vtep_*), or with
    ``prefixes`` {nodes, prefixes, index, without_ip6}: the nodes, the cluster-wide prefixes every host's firewall
    uses, each node's position by name and the names of the nodes without podnet_node_ip6 (what host_check needs of
    the other hosts, so that checking a host costs the same in a cluster of any size)."""
    try:
        checked = _plan.validate_cluster(_members(hosts, hostvars))
    except _plan.PlanError as exc:
        raise AnsibleFilterError(str(exc))
    nodes = [dict((k, val) for k, val in n.items() if not k.startswith('_')) for n in checked]
    if not prefixes:
        return nodes
    return dict(nodes=nodes, prefixes=_plan.cluster_prefixes(checked),
                index=dict((n['name'], i) for i, n in enumerate(nodes)),
                without_ip6=[n['name'] for n in nodes if not n.get('node_ip6')])


def _node(nodes, index, name):
    """One node of cluster_check's output, normalised (as on the host), found by its position."""
    return _plan.normalise_node(name, _plan.members_from_nodes([nodes[index[name]]])[0][1])


def host_check(settings, host, cluster, role=None):
    """``host``'s settings (the role's _podnet_settings), checked against its node in ``cluster`` (the output of
    cluster_check, either form) without reading the host; returns them normalised. Fails naming host, variable and
    value: the one-execution path runs it for every host before any host is changed. With cluster_check's index
    (prefixes=true) it reads the host's own node and the nodes without an IPv6 node address only: O(1) in the
    cluster's size, where the list form costs O(N) per host. ``role``: the role's other variables (_podnet_role),
    checked too (site.yml runs the role without Ansible's own check of its argument specification)."""
    nodes = cluster.get('nodes') if isinstance(cluster, Mapping) else cluster
    index = cluster.get('index') if isinstance(cluster, Mapping) else None
    try:
        if role is not None:
            if not isinstance(role, Mapping):
                raise AnsibleFilterError('host_check: role must be a dict of the role variables (_podnet_role): %r' % (role,))
            _plan.check_role_args(host, dict(role))
        if isinstance(nodes, Sequence) and isinstance(index, Mapping):
            if host not in index:
                raise _plan.PlanError(_plan.not_in_cluster(host))
            me = _node(nodes, index, host)
            without = [me] if me.get('node_ip6') is None else []
            without += [_node(nodes, index, name) for name in cluster.get('without_ip6') or () if name != host]
            return _plan.check_settings(host, me, dict(settings), without)['settings']
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise AnsibleFilterError('host_check: the cluster is not the output of openkube.podnet.cluster_check: %r'
                                     % (type(cluster).__name__,))
        return _plan.check_host(_plan.members_from_nodes(nodes), host, dict(settings), validated=True)['settings']
    except _plan.PlanError as exc:
        raise AnsibleFilterError(str(exc))


def steps(plan, parts=None, role=None):
    """The plan's module calls in order ({module, args, role}), as the converge module makes them;
    only those of ``role`` when it is given."""
    # imported here: _converge imports every resource module and pyroute2, which the other filters of this file
    # (cluster_check, host_check, run in a worker for every host) do not need
    from ansible_collections.openkube.podnet.plugins.module_utils import _converge
    if not isinstance(plan, dict) or 'state' not in plan:
        raise AnsibleFilterError('steps: the input is not a host plan (the key plan of openkube.podnet.host_plan\'s result): %r' % (plan,))
    parts = list(parts) if parts else list(_converge.PARTS)
    unknown = [p for p in parts if p not in _converge.PARTS]
    if unknown:
        raise AnsibleFilterError('steps: unknown parts %s: choose from %s' % (', '.join(unknown), ', '.join(_converge.PARTS)))
    return [dict(module=step.module, args=step.args, role=step.role)
            for step in _converge.steps(plan, parts) if role is None or step.role == role]


class FilterModule(object):
    def filters(self):
        return {'cluster_check': cluster_check, 'host_check': host_check, 'steps': steps}
