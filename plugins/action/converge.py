# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action openkube.podnet.converge: one execution of the module converge per host.

With ``plan`` the module runs as any module does. With ``cluster`` (the name of the variable holding the output of
the filter cluster_check, or that output), the action hands the module the cluster's nodes and prefixes and the
host's name, and the module reads the underlay, plans and converges in the same execution
(_converge_host.plan_and_run). Reading the variable here, instead of templating ``{{ __podnet_cluster }}`` into the task's
arguments, spares every host's task a template of the whole cluster.
The documentation is in plugins/modules/converge.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase


def _plain(value):
    """Plain dicts, lists and strings (the controller's variables may be lazy containers)."""
    if isinstance(value, Mapping):
        return dict((to_text(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return to_text(value)
    return value


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        host = task_vars.get('inventory_hostname')
        cluster = args.pop('cluster', None)
        if cluster is not None:
            name = None
            if isinstance(cluster, str):
                name = cluster
                if name not in task_vars:
                    return dict(result, failed=True, msg='%s: cluster: there is no variable %r (the output of the filter '
                                'openkube.podnet.cluster_check with prefixes=true, set once for the play)' % (host, name))
                cluster = task_vars[name]
            if not isinstance(cluster, Mapping) or not isinstance(cluster.get('nodes'), (list, tuple)):
                return dict(result, failed=True, msg='%s: cluster: %s is not the output of the filter '
                            'openkube.podnet.cluster_check with prefixes=true' % (host, name or type(cluster).__name__))
            args.update(nodes=_plain(cluster['nodes']), prefixes=_plain(cluster.get('prefixes')), host=host)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        module = self._execute_module(module_args=args, task_vars=task_vars, wrap_async=wrap_async)
        if cluster is not None:
            # the cluster is in the task's variables: the result need not carry it once per host
            module_args = (module.get('invocation') or {}).get('module_args')
            if isinstance(module_args, dict):
                module_args.pop('nodes', None)
                module_args.pop('prefixes', None)
                module_args['cluster'] = name or '(given)'
            if module.get('failed') and not to_text(module.get('msg', '')).startswith('%s: ' % host):
                # the rescue of the role tells a missing pyroute2 (which it installs) from the rest by the message
                module['msg'] = '%s: %s' % (host, module.get('msg') or 'the converge failed')
        result.update(module)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
