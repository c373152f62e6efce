# -*- coding: utf-8 -*-
"""The filter host_check in the entry role's form (cluster_check once, with its index, then host_check per host)
refuses every row of the plan's bad-input table (tests/unit/plugins/module_utils/test__plan_bad_input.py) with the
message host_plan gives, except the rows that need the host's facts. Here, not beside the table: the filter is
controller code, which ansible-test's module_utils context cannot import."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.openkube.podnet.plugins.filter.plan import cluster_check, host_check
from ansible_collections.openkube.podnet.plugins.module_utils import _plan
from ansible_collections.openkube.podnet.tests.unit.plugins.module_utils.test__plan_bad_input import (
    CASES, FACTS, NEEDS_THE_HOST, members)


@pytest.mark.parametrize('settings,hostvars,expect', CASES)
def test_the_indexed_host_check_refuses_as_the_plan_does(settings, hostvars, expect, request):
    """The entry role's form: cluster_check once (with its index), then host_check per host reading only that host's
    node and the nodes without an IPv6 node address; the same message as host_plan for every row it can refuse."""
    planned = 'worker2' if expect[0] == 'worker2' else 'worker3'
    with pytest.raises(_plan.PlanError) as planned_err:
        _plan.host_plan(members(hostvars), planned, dict(dict(mode='vxlan'), **settings), FACTS)
    hosts, hvs = [m[0] for m in members(hostvars)], dict(members(hostvars))
    try:
        cluster = cluster_check(hosts, hvs, prefixes=True)
        host_check(dict(dict(mode='vxlan'), **settings), planned, cluster)
    except AnsibleFilterError as exc:
        assert str(exc) == str(planned_err.value)
    else:
        assert request.node.callspec.id in NEEDS_THE_HOST


def test_host_check_refuses_the_role_variables_beside_the_settings():
    """With role (the entry role's _podnet_role) the filter checks the role's other variables too, and returns the
    settings only."""
    hosts, hvs = [m[0] for m in members({})], dict(members({}))
    cluster = cluster_check(hosts, hvs, prefixes=True)
    role = dict(apply='one_call', two_phase='no', cluster_group='podnet_nodes', install_pyroute2=True, pyroute2_package='p',
                pyroute2_venv='', pyroute2_venv_package='v', pyroute2_pip_spec='pyroute2', pyroute2_pip_args='')
    checked = host_check(dict(mode='vxlan'), 'worker2', cluster, role=role)
    assert checked == host_check(dict(mode='vxlan'), 'worker2', cluster) and 'apply' not in checked
    with pytest.raises(AnsibleFilterError, match=r"^worker2: podnet_two_phase 'maybe' must be a boolean"):
        host_check(dict(mode='vxlan'), 'worker2', cluster, role=dict(role, two_phase='maybe'))
    with pytest.raises(AnsibleFilterError, match=r"^worker2: podnet_apply 'both' is not one of one_call, roles"):
        host_check(dict(mode='vxlan'), 'worker2', cluster, role=dict(role, apply='both'))
