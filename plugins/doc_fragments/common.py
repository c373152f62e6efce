# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # The option netns of every netlink module but openkube.podnet.netns; the argument spec beside
    # it is COMMON_ARGSPEC in plugins/module_utils/_resource.py. Modules extend it together with
    # openkube.podnet.common.state (ansible-test wants each fragment as one literal string).
    DOCUMENTATION = r'''
options:
  netns:
    description:
      - Name of the network namespace on the target (as in C(/run/netns/NAME)) to act in.
      - Omit to act in the target's own network namespace.
      - The namespace is never created by this option. When it is missing, check mode
        predicts from an empty namespace and a real run fails with a clear message
        (create namespaces with M(openkube.podnet.netns)).
    type: str
'''

    # The option state, the requirements and the attributes shared by every netlink module
    # (openkube.podnet.netns extends only this one: it has no option netns).
    STATE = r'''
options:
  state:
    description:
      - V(present) makes the listed objects exist as described; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pyroute2 >= 0.9 on the managed host (the role C(openkube.podnet.podnet) installs it
    with pip when it is missing; see the README).
attributes:
  check_mode:
    support: full
    description: Nothing is changed; C(changed) is predicted by the same comparison a real run makes.
  diff_mode:
    support: full
    description: Returns the managed objects before and after.
  platform:
    support: full
    platforms: posix
    description: Linux only.
'''
