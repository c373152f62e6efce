# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The option state, the requirements and the attributes, written once: STATE serves the modules
# without a netns option (openkube.podnet.netns), DOCUMENTATION prefixes the option netns to it.
_STATE_OPTION = r'''
  state:
    description:
      - V(present) makes the listed objects exist as described; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
'''

_REQUIREMENTS_ATTRIBUTES = r'''
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

_NETNS_OPTION = r'''
  netns:
    description:
      - Name of the network namespace on the target (as in C(/run/netns/NAME)) to act in.
      - Omit to act in the target's own network namespace.
      - The namespace is never created by this option. When it is missing, check mode
        predicts from an empty namespace and a real run fails with a clear message
        (create namespaces with M(openkube.podnet.netns)).
    type: str
'''


class ModuleDocFragment(object):
    # Options and attributes shared by every netlink module (openkube.podnet.common); the argument
    # spec beside it is COMMON_ARGSPEC in plugins/module_utils/_resource.py.
    DOCUMENTATION = 'options:' + _NETNS_OPTION.rstrip('\n') + _STATE_OPTION.rstrip('\n') + _REQUIREMENTS_ATTRIBUTES

    # The same without the option netns (openkube.podnet.common.state), for modules that act in the
    # target's own namespace only, such as openkube.podnet.netns (see _netns.ARGSPEC).
    STATE = 'options:' + _STATE_OPTION.rstrip('\n') + _REQUIREMENTS_ATTRIBUTES
