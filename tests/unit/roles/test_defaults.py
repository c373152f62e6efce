# -*- coding: utf-8 -*-
"""Every default is said once: each role's defaults/main.yml, its meta/argument_specs.yml and the plan's
DEFAULTS (what a caller of the action host_plan gets without the role) agree, value for value."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.openkube.podnet.plugins.module_utils import _plan

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles')


def read(role, *path):
    with open(os.path.join(ROLES, role, *path)) as handle:
        return yaml.safe_load(handle) or {}


def roles_with_specs():
    return sorted(role for role in os.listdir(ROLES) if os.path.exists(os.path.join(ROLES, role, 'meta', 'argument_specs.yml')))


@pytest.mark.parametrize('role', roles_with_specs())
def test_defaults_file_and_argument_spec_agree(role):
    defaults = read(role, 'defaults', 'main.yml')
    options = read(role, 'meta', 'argument_specs.yml')['argument_specs']['main'].get('options', {})
    public = dict((name, value) for name, value in defaults.items() if not name.startswith('_'))
    assert sorted(set(public) - set(options)) == [], 'defaults without an argument spec entry'
    for name, value in public.items():
        assert options[name].get('default') == value, (role, name, options[name].get('default'), value)
    for name, option in options.items():
        if 'default' in option and option['default'] is not None:
            assert name in defaults, (role, name, 'has a default in the spec only')


def test_plan_defaults_are_the_role_defaults():
    """_plan.DEFAULTS fills what a caller of the filter leaves out; the role passes every setting."""
    defaults = read('podnet', 'defaults', 'main.yml')
    # one template of a dict literal, {'mode': podnet_mode, ...}: its keys, each taken from podnet_<key>
    template = read('podnet', 'vars', 'main.yml')['_podnet_settings']
    settings = dict(re.findall(r"'(\w+)': (podnet_\w+)", template))
    assert sorted(settings) == sorted(_plan.DEFAULTS)
    assert all(var == 'podnet_' + key for key, var in settings.items()), settings
    for key, value in _plan.DEFAULTS.items():
        role_value = defaults['podnet_' + key]
        if key == 'mtu':  # the role's 0 and the plan's None both mean: from the underlay
            assert (value, role_value) == (None, 0)
        else:
            assert role_value == value, (key, role_value, value)


#: the entry role's node variables, which cluster_check reads from every host's hostvars, and the underlay device,
#: which the converge checks on the host (the option dev of openkube.podnet.converge)
NODE_VARS = ('podnet_node_ip', 'podnet_pod_cidr', 'podnet_pod_cidr6', 'podnet_node_ip6', 'podnet_vxlan_mac', 'podnet_underlay_dev')


def test_every_argument_of_the_entry_role_is_checked_without_ansible():
    """site.yml runs the role with rolespec_validate false: each variable of its argument specification is a setting
    of the plan (normalise_settings), a node's (cluster_check, the converge) or one of _plan.ROLE_ARGS, with the
    specification's type and choices; and the role's _podnet_role passes exactly ROLE_ARGS."""
    options = read('podnet', 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    role_args = dict(('podnet_' + k, kind) for k, kind in _plan.ROLE_ARGS.items())
    settings = set('podnet_' + k for k in _plan.DEFAULTS)
    assert sorted(set(options) - settings - set(role_args) - set(NODE_VARS)) == []
    assert sorted(set(role_args) & (settings | set(NODE_VARS))) == []
    for name, kind in role_args.items():
        if isinstance(kind, tuple):
            assert (options[name]['type'], sorted(options[name]['choices'])) == ('str', sorted(kind)), name
        else:
            assert options[name]['type'] == kind.__name__, name
    template = read('podnet', 'vars', 'main.yml')['_podnet_role']
    assert dict(re.findall(r"'(\w+)': (podnet_\w+)", template)) == dict((k, 'podnet_' + k) for k in _plan.ROLE_ARGS)
    assert '| bool' not in read('podnet', 'vars', 'main.yml')['_podnet_settings']
