# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: k8s_nodes
short_description: The cluster's hosts and pod ranges from Kubernetes Node objects
version_added: 0.1.0
description:
  - Reads the Node objects of a Kubernetes cluster, either from O(nodes_file) (what C(kubectl get nodes -o json)
    prints) or from the API server (O(kubeconfig) and O(context), through the C(kubernetes) Python client), and
    makes every node a host of group C(podnet_nodes), named after the node.
  - "The node's first C(InternalIP) of each family fills the collection's variables: the IPv4 one C(podnet_node_ip)
    (and C(ansible_host)), the IPv6 one C(podnet_node_ip6) (and C(ansible_host) when the node has no IPv4 one).
    C(spec.podCIDRs) (or C(spec.podCIDR)) fills C(podnet_pod_cidr) (IPv4) and C(podnet_pod_cidr6) (IPv6)."
  - The node's labels are C(podnet_k8s_labels) and its taints C(podnet_k8s_taints) (C(key), C(value), C(effect) each),
    for O(keyed_groups), O(groups) and O(compose); a control-plane node is a host like any other (its pods need
    the pod network too).
  - A node without a pod range yet (the controller manager has not allocated one) is left out, with a warning
    that names it. A malformed object is an error that names the node and the field.
  - The file name must end in C(k8s_nodes.yml) or C(k8s_nodes.yaml).
  - C(kubernetes.core)'s own inventory plugin lists pods and services, never nodes, and is removed in its 6.0.
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [openkube.podnet.k8s_nodes]
  nodes_file:
    description:
      - A file holding Node objects as JSON or YAML, as C(kubectl get nodes -o json) prints them (a C(List) with
        C(items)), or one Node. A relative path is relative to the folder of the inventory file.
      - When it is not given, the nodes are read from the API server.
    type: str
  kubeconfig:
    description: The kubeconfig file for the API server; the client's default (C(KUBECONFIG), C(~/.kube/config)) otherwise.
    type: path
    env:
      - name: K8S_AUTH_KUBECONFIG
  context:
    description: The kubeconfig context; its current context otherwise.
    type: str
    env:
      - name: K8S_AUTH_CONTEXT
  label_selector:
    description: Only the nodes with these labels (a Kubernetes label selector, for example C(podnet=yes)).
    type: str
requirements:
  - the C(kubernetes) Python client on the controller, to read the API server (not for O(nodes_file))
extends_documentation_fragment:
  - ansible.builtin.constructed
author:
  - openkube.podnet engineers (@openkube)
'''

EXAMPLES = r'''
# inventory/cluster.k8s_nodes.yml, from the output of: kubectl get nodes -o json > nodes.json
plugin: openkube.podnet.k8s_nodes
nodes_file: nodes.json
keyed_groups:
  - key: podnet_k8s_labels['topology.kubernetes.io/zone'] | default('none')
    prefix: zone
groups:
  control_plane: podnet_k8s_taints | selectattr('key', 'eq', 'node-role.kubernetes.io/control-plane') | list | length > 0

# or straight from the API server
# plugin: openkube.podnet.k8s_nodes
# kubeconfig: ~/.kube/config
# context: prod
# compose:
#   ansible_user: "'debian'"
'''

import ipaddress
import json
import os

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.unsafe_proxy import wrap_var

GROUP = 'podnet_nodes'


class NodeError(ValueError):
    """A Node object the plugin cannot use; the message names the node and the field."""


def _fail(node, field, value, why):
    raise NodeError('node %s: %s %r %s' % (node, field, value, why))


def _items(document, source):
    if isinstance(document, dict) and isinstance(document.get('items'), list):
        return document['items']
    if isinstance(document, dict) and document.get('kind') == 'Node':
        return [document]
    if isinstance(document, list):
        return document
    raise NodeError('%s: holds no Node objects (expected the output of kubectl get nodes -o json: a List with items)'
                    % source)


def _family_first(node, values, network):
    """{4: first IPv4, 6: first IPv6} of ``values``, [(field, text)]: addresses, or ranges when ``network``."""
    found = {}
    for field, text in values:
        try:
            if network:
                if not isinstance(text, str) or '/' not in text:
                    raise ValueError(text)
                value = ipaddress.ip_network(text)
            else:
                value = ipaddress.ip_address(text)
        except (TypeError, ValueError):
            _fail(node, field, text, 'is not an IP range in CIDR notation (host bits clear)' if network
                  else 'is not an IP address')
        found.setdefault(value.version, value)
    return found


def node_vars(obj, index=0):
    """(name, {variable: value}) of one Node object, or (name, None) when it has no pod range yet."""
    if not isinstance(obj, dict):
        raise NodeError('items[%d]: %r is not a Node object' % (index, obj))
    meta = obj.get('metadata') or {}
    name = meta.get('name')
    if not isinstance(name, str) or not name:
        raise NodeError('items[%d]: metadata.name %r is missing or not a string' % (index, name))
    kind = obj.get('kind', 'Node')
    if kind != 'Node':
        _fail(name, 'kind', kind, 'is not Node')
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    addresses = status.get('addresses') or []
    if not isinstance(addresses, list):
        _fail(name, 'status.addresses', addresses, 'is not a list')
    internal = []
    for i, entry in enumerate(addresses):
        if not isinstance(entry, dict) or not isinstance(entry.get('type'), str) or 'address' not in entry:
            _fail(name, 'status.addresses[%d]' % i, entry, 'is not {type, address}')
        if entry['type'] == 'InternalIP':
            internal.append(('status.addresses[%d].address' % i, entry['address']))
    if not internal:
        _fail(name, 'status.addresses', [e.get('type') for e in addresses], 'has no InternalIP')
    ips = _family_first(name, internal, network=False)
    cidrs = spec.get('podCIDRs')
    field = 'spec.podCIDRs'
    if cidrs is None and spec.get('podCIDR'):
        cidrs, field = [spec['podCIDR']], 'spec.podCIDR'
    if cidrs is not None and not isinstance(cidrs, list):
        _fail(name, field, cidrs, 'is not a list')
    if not cidrs:
        return name, None
    ranges = _family_first(name, [('%s[%d]' % (field, i) if field.endswith('s') else field, text)
                                  for i, text in enumerate(cidrs)], network=True)
    taints = spec.get('taints') or []
    if not isinstance(taints, list) or not all(isinstance(t, dict) for t in taints):
        _fail(name, 'spec.taints', taints, 'is not a list of taints')
    variables = {'podnet_k8s_labels': dict(meta.get('labels') or {}),
                 'podnet_k8s_taints': [dict((k, t.get(k)) for k in ('key', 'value', 'effect')) for t in taints]}
    if 4 in ips:
        variables['podnet_node_ip'] = str(ips[4])
    if 6 in ips:
        variables['podnet_node_ip6'] = str(ips[6])
    variables['ansible_host'] = str(ips.get(4) or ips[6])
    if 4 in ranges:
        variables['podnet_pod_cidr'] = str(ranges[4])
    if 6 in ranges:
        variables['podnet_pod_cidr6'] = str(ranges[6])
    return name, variables


def nodes_from(document, source):
    """([(name, variables)], [names without a pod range]) of a document of Node objects."""
    hosts, pending, seen = [], [], set()
    for i, obj in enumerate(_items(document, source)):
        name, variables = node_vars(obj, i)
        if name in seen:
            raise NodeError('%s: node %s is listed twice' % (source, name))
        seen.add(name)
        if variables is None:
            pending.append(name)
        else:
            hosts.append((name, variables))
    return hosts, pending


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = 'openkube.podnet.k8s_nodes'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('k8s_nodes.yml', 'k8s_nodes.yaml'))

    def _from_file(self, path, nodes_file):
        nodes_file = os.path.expanduser(nodes_file)
        if not os.path.isabs(nodes_file):
            nodes_file = os.path.join(os.path.dirname(os.path.abspath(path)), nodes_file)
        try:
            document = self.loader.load_from_file(nodes_file)
        except Exception as exc:  # the loader's own errors name the file and the line
            raise AnsibleParserError('%s: nodes_file %s cannot be read: %s' % (path, nodes_file, to_native(exc)))
        return document, 'nodes_file %s' % nodes_file

    def _from_api(self, path):
        try:
            from kubernetes import client, config
        except ImportError:
            raise AnsibleParserError('%s: reading the nodes from the API server needs the kubernetes Python client on '
                                     'the controller (pip install kubernetes), or give nodes_file (kubectl get nodes '
                                     '-o json)' % path)
        kubeconfig, context = self.get_option('kubeconfig'), self.get_option('context')
        try:
            api = config.new_client_from_config(config_file=kubeconfig, context=context)
            listed = client.CoreV1Api(api).list_node(label_selector=self.get_option('label_selector') or '')
            document = api.sanitize_for_serialization(listed)  # the API's JSON, as kubectl prints it
        except Exception as exc:  # the client raises many kinds (config, HTTP, TLS): all mean "cannot read"
            raise AnsibleParserError('%s: cannot list the nodes of the API server (kubeconfig %s, context %s): %s'
                                     % (path, kubeconfig or 'default', context or 'current', to_native(exc)))
        return json.loads(json.dumps(document)), 'the API server (context %s)' % (context or 'current')

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        nodes_file = self.get_option('nodes_file')
        document, source = self._from_file(path, nodes_file) if nodes_file else self._from_api(path)
        try:
            hosts, pending = nodes_from(document, source)
        except NodeError as exc:
            raise AnsibleParserError('%s: %s' % (path, exc))
        if nodes_file and self.get_option('label_selector'):
            self.display.warning('%s: label_selector applies to the API server only; nodes_file is read whole' % path)
        for name in pending:
            self.display.warning('%s: node %s has no pod range yet (spec.podCIDRs is empty): left out of %s until '
                                 'Kubernetes allocates one' % (path, name, GROUP))
        self.inventory.add_group(GROUP)
        strict = self.get_option('strict')
        for name, variables in hosts:
            self.inventory.add_host(name, group=GROUP)
            for key, value in variables.items():
                # what the cluster says (labels above all) is data, never a template
                self.inventory.set_variable(name, key, wrap_var(value))
            self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)
