# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's whole run in one execution: read its underlay, compute its plan there, converge it.

The module converge does this when it is given the cluster's nodes instead of a plan (the entry role's default,
podnet_two_phase false). Kept apart from _converge.py, whose imports are what the repair units copy to the host
(_repair.CODE): the runner applies a recorded plan and never plans.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.openkube.podnet.plugins.module_utils import _converge, _node, _plan
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import Netlink, PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError


def plan_and_run(host: str, nodes: Sequence[Dict[str, Any]], settings: Dict[str, Any],
                 prefixes: Optional[Dict[str, List[str]]] = None, dev: Optional[str] = None,
                 parts: Sequence[str] = _converge.PARTS, check_mode: bool = False) -> Dict[str, Any]:
    """Read the underlay (node_facts' read), compute ``host``'s plan and, only if that succeeded, converge it.

    ``nodes`` and ``prefixes`` are the output of the filter cluster_check (validated together on the controller,
    once); ``settings`` the host's, raw or normalised. Every check of the plan (the underlay's MTU, peers on-link,
    names, VNIs and ports taken, the CNI plugins) comes before the first write, so a failure changes nothing on this
    host. Returns the module result with the plan under ``plan``; raises PodnetError or ValidationError (PlanError)
    with a message that starts with the host."""
    members = _plan.members_from_nodes(nodes)
    request = _plan.facts_request(members, host, _plan.normalise_settings(host, settings), dev)
    try:
        wanted = _node.validate(request)
        with Netlink() as nl:
            facts = _node.read(nl, wanted)
    except (PodnetError, ValidationError) as exc:
        raise PodnetError('%s: %s' % (host, exc))
    plan = _plan.host_plan(members, host, dict(settings), facts, validated=True, prefixes=prefixes)
    result = _converge.run(plan, parts, check_mode=check_mode)
    result['plan'] = plan
    if plan.get('warnings'):  # for example: no ip set support, the encapsulation filter falls back to rules
        result['warnings'] = list(plan['warnings'])
    return result
