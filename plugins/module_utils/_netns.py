# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces: one entry, present when /run/netns/NAME exists.

The name is checked as one exact path (a mount at ``/run/netns/NAME``), never by scanning
a listing for a substring, so ``pnt-abc`` is not taken for present when only
``pnt-abcd`` exists. Namespaces are created and removed with pyroute2
(``pyroute2.netns.create``/``remove``, through ``_netlink.create_netns``), never by running ``ip``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

from ansible_collections.openkube.podnet.plugins.module_utils import _validate as v
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import (
    NETNS_RUN_DIR, PodnetError, create_netns, netns_exists)
from ansible_collections.openkube.podnet.plugins.module_utils._resource import COMMON_ARGSPEC, Resource

try:
    from pyroute2 import netns as pyroute2_netns
except ImportError:  # pragma: no cover - reported by run_module through missing_required_lib
    pyroute2_netns = None

# The common option ``netns`` (act inside a namespace) makes no sense for a module that
# manages namespaces themselves: they are always named in the target's /run/netns, so the
# option is dropped here rather than documented as ignored.
ARGSPEC = dict(
    dict((k, spec) for k, spec in COMMON_ARGSPEC.items() if k != 'netns'),
    name=dict(type='str', required=True),
)


def wanted_from_params(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [dict(name=v.nsname('name', params['name']))]


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


class Namespace(Resource):
    result_key = 'namespaces'

    def read(self) -> List[Dict[str, Any]]:
        # Exactly the wanted paths: a namespace is present when its own file exists.
        return [dict(name=entry['name']) for entry in self.wanted if netns_exists(entry['name'])]

    def key(self, entry: Dict[str, Any]) -> str:
        return entry['name']

    def add(self, entry: Dict[str, Any]) -> None:
        try:
            create_netns(entry['name'])
        except (OSError, TimeoutError, RuntimeError) as exc:
            raise PodnetError('create network namespace %r failed: %s' % (entry['name'], exc))
        if not netns_exists(entry['name']):
            raise PodnetError('create network namespace %r failed: %s was not made'
                              % (entry['name'], netns_path(entry['name'])))

    def delete(self, entry: Dict[str, Any]) -> None:
        try:
            pyroute2_netns.remove(entry['name'])
        except FileNotFoundError:
            pass  # already gone: that is what was wanted
        except OSError as exc:
            raise PodnetError('remove network namespace %r failed: %s' % (entry['name'], exc))

    def describe(self, entry: Dict[str, Any]) -> str:
        return 'network namespace %s' % entry['name']
