#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# This module extends openkube.podnet.common.state, not openkube.podnet.common: the latter also
# documents the option netns (act inside a namespace), which this module does not have (see
# _netns.ARGSPEC).
DOCUMENTATION = r'''
module: netns
short_description: Create or remove a named network namespace
version_added: 0.1.0
description:
  - Makes the named network namespace C(/run/netns/NAME) exist or not, with pyroute2
    (the same kind of namespace C(ip netns add) makes).
  - The name is matched exactly. A namespace whose name merely contains, or is contained in,
    O(name) is never taken for it (unlike C(community.general.ip_netns), which matches substrings).
  - Removing a namespace deletes the interfaces that live only in it (a veth end in it takes its peer along).
extends_documentation_fragment:
  - openkube.podnet.common.state
options:
  name:
    description: Name of the namespace, as in C(/run/netns/NAME). No C(/), not C(.) or C(..).
    type: str
    required: true
notes:
  - Unlike the other modules of this collection, this one has no C(netns) option, because
    namespaces are always named in the target's own C(/run/netns).
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
- name: A namespace for pod 1
  openkube.podnet.netns:
    name: ns1

- name: Remove it
  openkube.podnet.netns:
    name: ns1
    state: absent
'''

RETURN = r'''
namespaces:
  description: The namespace after the run (or as predicted in check mode); an empty list when it is absent.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Name of the namespace.
      type: str
      returned: always
  sample: [{name: ns1}]
actions:
  description: What was (or, in check mode, would be) done.
  returned: success
  type: list
  elements: str
  sample: ["add network namespace ns1"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.openkube.podnet.plugins.module_utils._netns import ARGSPEC, Namespace, wanted_from_params
from ansible_collections.openkube.podnet.plugins.module_utils._resource import run_module


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    run_module(module, Namespace, wanted_from_params, purge_option=False)


if __name__ == '__main__':
    main()
