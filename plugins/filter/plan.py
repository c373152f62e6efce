# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the inventory into each host's plan (see plugins/module_utils/_plan.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.openkube.podnet.plugins.module_utils import _plan

NODE_VARS = ('podnet_node_ip', 'podnet_pod_cidr', 'podnet_vxlan_mac')


def _members(hosts, hostvars):
    members = []
    for host in hosts:
        hv = hostvars[host]
        members.append((host, dict((var, hv.get(var)) for var in NODE_VARS)))
    return members


def host_plan(hosts, hostvars, host, settings, facts):
    try:
        return _plan.host_plan(_members(hosts, hostvars), host, dict(settings), dict(facts))
    except _plan.PlanError as exc:
        raise AnsibleFilterError(str(exc))


def cluster_check(hosts, hostvars):
    """Validate the cluster's host variables; returns the normalised nodes (name, node_ip, pod_cidr, vtep_*)."""
    try:
        nodes = _plan.validate_cluster(_members(hosts, hostvars))
    except _plan.PlanError as exc:
        raise AnsibleFilterError(str(exc))
    return [dict((k, val) for k, val in n.items() if not k.startswith('_')) for n in nodes]


class FilterModule(object):
    def filters(self):
        return {'host_plan': host_plan, 'cluster_check': cluster_check}
