#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: converge
short_description: Converge a host's whole pod-network plan in one execution
version_added: 0.1.0
description:
  - Applies a plan computed by the action M(openkube.podnet.host_plan) (pods, forwarding, the mode's device,
    neighbour and FDB entries, the owned route table, removal of other modes' devices) in one module
    execution, with exactly the resources, comparison, check mode and diff of the per-object modules
    M(openkube.podnet.netns), M(openkube.podnet.veth), M(openkube.podnet.address), M(openkube.podnet.route),
    M(openkube.podnet.sysctl), M(openkube.podnet.ipip), M(openkube.podnet.vxlan), M(openkube.podnet.neighbor)
    and M(openkube.podnet.fdb), in the order the roles C(openkube.podnet.pod) and the mode roles run them.
  - Every step is validated before the first write.
  - The entry role C(openkube.podnet.podnet) uses it by default (C(podnet_apply=one_call)). One remote execution
    per host instead of one per table keeps a converge of many hosts near the cost of a single task.
  - Given O(nodes) instead of O(plan), it reads the host's underlay itself (as M(openkube.podnet.node_facts) does),
    computes the host's plan on the host and converges it only if that succeeded, all in the same execution. The
    host's own checks (its node IP on a device, the MTU, peers on-link for host-gw, device names, VNIs and ports
    in use) happen before its first write. The entry role does this by default (C(podnet_two_phase=false)), after
    the controller has checked every host's inventory input. Its action plugin reads O(nodes) and O(prefixes)
    from the variable that O(cluster) names, so the cluster is not templated again for every host.
options:
  plan:
    description:
      - The host's plan (the key C(plan) of the result of M(openkube.podnet.host_plan)).
      - Give either O(plan) or O(cluster) (or O(nodes)).
    type: dict
  cluster:
    description:
      - The name of the variable that holds the output of the filter C(openkube.podnet.cluster_check) with
        C(prefixes=true) (the entry role's C(__podnet_cluster)), or that output itself. The action plugin reads it
        and hands the module O(nodes) and O(prefixes); with it, O(settings) is required.
    type: raw
  nodes:
    description:
      - Every host of the cluster group, as the filter C(openkube.podnet.cluster_check) returns them (validated
        together there, once). Set by the action plugin from O(cluster).
    type: list
    elements: dict
  prefixes:
    description: The cluster-wide prefixes of C(openkube.podnet.cluster_check) with C(prefixes=true).
    type: dict
  settings:
    description:
      - The host's settings, as for M(openkube.podnet.host_plan) (the role's C(_podnet_settings)); with O(nodes).
    type: dict
  host:
    description: The host planned (its inventory name); the action plugin sets it.
    type: str
  dev:
    description: The underlay device, when known (C(podnet_underlay_dev)); the run fails before any write if it does not hold the node IP.
    type: str
  return_plan:
    description:
      - With O(nodes), return the plan computed on the host under the result's C(plan).
      - Off by default. The plan holds a route, a neighbour and an FDB entry for every other host, so every host's
        result would carry an entry per host of the cluster to the controller, which processes every result several times
        (about a third of the controller's CPU of a no-change run at 64 hosts, and memory growing with the square of
        the number of hosts). The host's record keeps the plan applied (C(podnet_state_dir/applied.json)).
    type: bool
    default: false
  parts:
    description:
      - Which parts of the plan to apply. V(pods) are the namespaces, veth pairs, addresses, pod routes and
        forwarding; V(mode) the device, neighbour and FDB entries and the owned route table (with purge);
        V(cleanup) removes the other modes' devices, and everything when the plan's state is absent;
        V(record) writes the plan, last, to the host's record of what is deployed (the plan's C(record) path,
        C(podnet_state_dir/applied.json), root's only, replaced atomically), or removes it when the state is absent;
        V(repair) installs, after it, the boot and repair units that apply the record again without Ansible
        (C(podnet-apply.service), C(podnet-repair.timer)), or removes them first when the state is absent or the
        plan does not want them.
    type: list
    elements: str
    choices: [pods, mode, cleanup, record, repair]
    default: [pods, mode, cleanup, record, repair]
requirements:
  - pyroute2 >= 0.7.2 on the managed host
attributes:
  check_mode:
    support: full
    description: No netlink write is made; C(changed) is predicted by the same comparison a real run makes.
  diff_mode:
    support: full
    description: One before/after section per step that changes.
  platform:
    support: full
    platforms: posix
    description: Linux only (netlink).
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: Check the cluster's variables once
  ansible.builtin.set_fact:
    cluster: "{{ groups['podnet_nodes'] | openkube.podnet.cluster_check(hostvars, prefixes=true) }}"
  run_once: true

- name: Read the underlay, compute this host's plan and apply it, in one execution
  openkube.podnet.converge:
    cluster: cluster  # the variable's name: read by the action, not templated for every host
    settings:
      mode: vxlan
    return_plan: true  # result.plan is the plan applied
  register: result

- name: Read the underlay and compute this host's plan
  openkube.podnet.host_plan:
    cluster: "{{ groups['podnet_nodes'] }}"
    settings:
      mode: vxlan
  register: preflight

- name: Apply this host's plan
  openkube.podnet.converge:
    plan: "{{ preflight.plan }}"
'''

RETURN = r'''
plan:
  description: The plan computed on the host (see M(openkube.podnet.host_plan)).
  returned: success, with O(nodes) and O(return_plan)
  type: dict
actions:
  description: What was (or, in check mode, would be) done, one line per object, prefixed by the module.
  returned: success
  type: list
  elements: str
  sample: ["route: add 192.168.11.0/24 via 10.57.4.21 dev eth0"]
steps:
  description: The steps in order, with the module, the namespace and whether it changed something.
  returned: success
  type: list
  elements: dict
  sample: [{module: netns, netns: null, changed: false}]
code_cache:
  description:
    - The host's cache of the collection's compiled code (the C(__pycache__) of the repair runner's copy of the
      code in the C(state_dir) of O(settings)), which spares a run compiling the sources Ansible sends.
    - C(folder) is null where nothing is cached (no copy of the code on the host, or not run from Ansible's zip);
      C(loaded), C(compiled) and C(written) count this run's modules taken from the cache, compiled, and
      stored (never in check mode).
  returned: success
  type: dict
  sample: {folder: /var/lib/podnet/lib/ansible_collections/openkube/podnet/plugins/module_utils/__pycache__, loaded: 31,
           compiled: 0, written: 0}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils import _codecache

#: the plan's parts, as _converge.PARTS (imported after the arguments are parsed: see main)
PARTS = ('pods', 'mode', 'cleanup', 'record', 'repair')


def main():
    module = AnsibleModule(argument_spec=dict(
        plan=dict(type='dict'),
        cluster=dict(type='raw'),
        nodes=dict(type='list', elements='dict'),
        prefixes=dict(type='dict'),
        settings=dict(type='dict'),
        host=dict(type='str'),
        dev=dict(type='str'),
        parts=dict(type='list', elements='str', choices=list(PARTS), default=list(PARTS)),
        return_plan=dict(type='bool', default=False),
    ), supports_check_mode=True, required_one_of=[('plan', 'nodes')], mutually_exclusive=[('plan', 'nodes')],
        required_by=dict(nodes=('settings', 'host')))
    p = module.params
    # The rest of the collection's code, through the host's cache of its compiled code (_codecache.py): the
    # cache's folder comes from the arguments, so these imports wait for them.
    state_dir = (p['settings'] or {}).get('state_dir') or ((p['plan'] or {}).get('repair') or {}).get('state_dir')
    cache = _codecache.use(state_dir, write=not module.check_mode)
    # pylint: disable=import-outside-toplevel
    from ansible_collections.openkube.podnet.plugins.module_utils._converge import run
    from ansible_collections.openkube.podnet.plugins.module_utils._converge_host import plan_and_run
    from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
    from ansible_collections.openkube.podnet.plugins.module_utils._resource import require_pyroute2
    from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError
    require_pyroute2(module)
    try:
        result = (run(p['plan'], p['parts'], check_mode=module.check_mode) if p['plan'] is not None else
                  plan_and_run(p['host'], p['nodes'], p['settings'], p['prefixes'], p['dev'], p['parts'], module.check_mode))
    except (PodnetError, ValidationError, KeyError, ValueError) as exc:
        module.fail_json(msg='%s: %s' % (type(exc).__name__, exc) if isinstance(exc, KeyError) else str(exc))
    if not module._diff:
        result.pop('diff')
    if not p['return_plan']:
        result.pop('plan', None)
    result['code_cache'] = dict(cache)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
