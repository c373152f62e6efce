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
  - pyroute2 >= 0.7.2 on the managed host (the distribution's C(python3-pyroute2) is enough; the role
    C(openkube.podnet.podnet) installs it with the OS package manager when it is missing; see the README).
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

    # The attributes of the two lab modules (openkube.podnet.lab_namespaces, openkube.podnet.lab_machines),
    # which run on the machine that holds the lab and return a list of actions instead of a diff.
    LAB = r'''
attributes:
  check_mode:
    support: full
    description: Reports what would be created, booted, rebooted or removed, and changes nothing.
  diff_mode:
    support: none
    description: No diff is returned; RV(actions) lists what was (or would be) done.
  platform:
    support: full
    platforms: posix
    description: Linux only.
'''
