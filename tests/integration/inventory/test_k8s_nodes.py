# -*- coding: utf-8 -*-
"""Issue 16, point 5: the inventory plugin openkube.podnet.k8s_nodes, through ansible-inventory and a converge.

* From a nodes file (what ``kubectl get nodes -o json`` prints): hosts, variables, keyed and composed groups,
  a warning naming the node without a pod range, an error naming the node and field of a malformed object.
* From the API, through the real ``kubernetes`` Python client and a kubeconfig with a context. There is no
  kube-apiserver in Debian 12 or on PyPI, so a small HTTP server on 127.0.0.1 answers ``GET /api/v1/nodes``
  (with ``labelSelector``) with the same List; everything on the client side (kubeconfig, context, bearer
  token, request, decoding) is the client's own.
* The lab converged from that inventory alone (its connection variables in group_vars beside it): vxlan,
  pods ping across.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import urllib.parse
import uuid

import pytest
import yaml

from lab import REPO, VENV_BIN, built_lab, recap

HERE = os.path.dirname(os.path.abspath(__file__))

NODES = {'apiVersion': 'v1', 'kind': 'List', 'metadata': {'resourceVersion': ''}, 'items': [
    {'apiVersion': 'v1', 'kind': 'Node',
     'metadata': {'name': name, 'labels': {'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': zone}},
     'spec': {'podCIDR': cidr, 'podCIDRs': [cidr] if cidr else []},
     'status': {'addresses': [{'type': 'InternalIP', 'address': ip}, {'type': 'Hostname', 'address': name}]}}
    for name, ip, cidr, zone in (('worker2', '10.57.4.20', '192.168.10.0/24', 'a'),
                                 ('worker3', '10.57.4.21', '192.168.11.0/24', 'b'),
                                 ('worker9', '10.57.4.29', None, 'b'))]}
for _item in NODES['items']:
    if not _item['spec']['podCIDR']:
        del _item['spec']['podCIDR']

CONFIG = {'plugin': 'openkube.podnet.k8s_nodes',
          'keyed_groups': [{'key': "podnet_k8s_labels['topology.kubernetes.io/zone']", 'prefix': 'zone'}],
          'compose': {'podnet_mode': "'vxlan'"}}


def plain(value):
    """ansible-inventory's JSON without its marks of unsafe values (the plugin marks every value from the
    cluster unsafe: a label is data, never a template)."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory(path, *args):
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-inventory'), '-i', path, '--list'] + list(args),
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    try:
        return proc, json.loads(proc.stdout)
    except ValueError:  # -vvv prints its log before the JSON
        return proc, None


def write(folder, name, data):
    path = os.path.join(folder, name)
    with open(path, 'w') as f:
        (json.dump if name.endswith('.json') else yaml.safe_dump)(data, f)
    return path


def check_listed(proc, inv):
    assert proc.returncode == 0, proc.stderr
    hv = plain(inv['_meta']['hostvars'])
    assert isinstance(inv['_meta']['hostvars']['worker2']['podnet_k8s_labels'], dict)  # marked unsafe, all of it
    assert sorted(inv['podnet_nodes']['hosts']) == ['worker2', 'worker3']
    assert (hv['worker2']['podnet_node_ip'], hv['worker2']['podnet_pod_cidr'], hv['worker2']['ansible_host']) == (
        '10.57.4.20', '192.168.10.0/24', '10.57.4.20')
    assert hv['worker3']['podnet_mode'] == 'vxlan'
    assert inv['zone_a']['hosts'] == ['worker2'] and inv['zone_b']['hosts'] == ['worker3']
    assert 'node worker9 has no pod range yet' in proc.stderr, proc.stderr


def test_from_a_nodes_file(tmp_path):
    write(str(tmp_path), 'nodes.json', NODES)
    path = write(str(tmp_path), 'cluster.k8s_nodes.yml', dict(CONFIG, nodes_file='nodes.json'))
    check_listed(*inventory(path))


def test_a_kubeadm_node_list_with_groups_from_taints(tmp_path, capsys):
    """tests/integration/inventory/nodes-kubeadm.json: a control-plane node with its taint, a dual-stack worker, an
    ExternalIP beside an InternalIP, a node without a range; a group made from the taints (Constructable)."""
    path = write(str(tmp_path), 'kubeadm.k8s_nodes.yml', {
        'plugin': 'openkube.podnet.k8s_nodes', 'nodes_file': os.path.join(HERE, 'nodes-kubeadm.json'),
        'groups': {'control_plane': "podnet_k8s_taints | selectattr('key', 'eq', "
                                    "'node-role.kubernetes.io/control-plane') | list | length > 0"}})
    proc, inv = inventory(path)
    assert proc.returncode == 0, proc.stderr
    hv = plain(inv['_meta']['hostvars'])
    assert sorted(inv['podnet_nodes']['hosts']) == ['cp1', 'w1', 'w2'] and inv['control_plane']['hosts'] == ['cp1']
    assert (hv['w1']['podnet_pod_cidr'], hv['w1']['podnet_pod_cidr6'], hv['w1']['podnet_node_ip6']) == (
        '10.244.1.0/24', 'fd00:10:244:1::/64', 'fd57::20')
    assert hv['w2']['ansible_host'] == '10.57.4.21'
    assert 'node w3 has no pod range yet' in proc.stderr
    with capsys.disabled():
        print('\nthe inventory from nodes-kubeadm.json: ' + json.dumps(dict(
            groups=dict((g, inv[g].get('hosts', [])) for g in ('podnet_nodes', 'control_plane')),
            hostvars=dict((h, dict((k, v) for k, v in hv[h].items() if k.startswith(('podnet_', 'ansible_host'))))
                          for h in sorted(hv))), sort_keys=True))


def test_malformed_node_is_an_error_naming_node_and_field(tmp_path):
    bad = json.loads(json.dumps(NODES))
    bad['items'][1]['spec']['podCIDRs'] = ['192.168.11.7/24']
    write(str(tmp_path), 'nodes.json', bad)
    path = write(str(tmp_path), 'cluster.k8s_nodes.yml', dict(CONFIG, nodes_file='nodes.json'))
    proc, _inv = inventory(path, '-vvv')
    # ansible-inventory goes on without a source it cannot parse (a warning, no hosts); the reason is named
    assert "node worker3: spec.podCIDRs[0] '192.168.11.7/24' is not an IP range" in proc.stderr + proc.stdout
    assert 'worker2' not in (proc.stdout if proc.returncode == 0 else '')


class _Api(http.server.BaseHTTPRequestHandler):
    """GET /api/v1/nodes[?labelSelector=k=v] -> the NodeList (with the bearer token checked)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urllib.parse.urlparse(self.path)
        if url.path != '/api/v1/nodes' or self.headers.get('Authorization') != 'Bearer podnet-test':
            self.send_response(403 if url.path == '/api/v1/nodes' else 404)
            self.end_headers()
            return
        selector = urllib.parse.parse_qs(url.query).get('labelSelector', [''])[0]
        items = NODES['items']
        if selector:
            key, value = selector.split('=')
            items = [n for n in items if n['metadata']['labels'].get(key) == value]
        body = json.dumps(dict(NODES, kind='NodeList', items=items)).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_from_the_api_with_a_context(tmp_path, api):
    kubeconfig = write(str(tmp_path), 'kubeconfig', {
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'other',
        'clusters': [{'name': 'lab', 'cluster': {'server': api}}, {'name': 'nowhere', 'cluster': {'server': 'http://127.0.0.1:9'}}],
        'users': [{'name': 'podnet', 'user': {'token': 'podnet-test'}}],
        'contexts': [{'name': 'lab', 'context': {'cluster': 'lab', 'user': 'podnet'}},
                     {'name': 'other', 'context': {'cluster': 'nowhere', 'user': 'podnet'}}]})
    path = write(str(tmp_path), 'cluster.k8s_nodes.yml', dict(CONFIG, kubeconfig=kubeconfig, context='lab'))
    check_listed(*inventory(path))
    # a label selector is the API's: only zone b (worker3, and worker9 without a range)
    zone = dict(CONFIG, kubeconfig=kubeconfig, context='lab', label_selector='topology.kubernetes.io/zone=b')
    path = write(str(tmp_path), 'zone.k8s_nodes.yml', zone)
    proc, inv = inventory(path)
    assert proc.returncode == 0 and inv['podnet_nodes']['hosts'] == ['worker3'], proc.stderr
    # the current context points nowhere: the error says which kubeconfig and context
    path = write(str(tmp_path), 'bad.k8s_nodes.yml', dict(CONFIG, kubeconfig=kubeconfig))
    proc, _inv = inventory(path, '-vvv')
    assert 'cannot list the nodes of the API server (kubeconfig %s, context current)' % kubeconfig in proc.stderr + proc.stdout


def test_the_lab_converged_from_kubernetes_nodes(tmp_path):
    """The collection's main job with the cluster from a k8s_nodes inventory (and the lab's connection)."""
    folder = str(tmp_path / 'inv')
    os.makedirs(os.path.join(folder, 'group_vars'))
    write(folder, 'nodes.json', NODES)
    path = write(folder, 'cluster.k8s_nodes.yml', dict(CONFIG, nodes_file='nodes.json'))
    name = 'k8-' + uuid.uuid4().hex[:4]
    with open(os.path.join(REPO, 'inventories', 'lab', 'group_vars', 'podnet_lab.yml')) as f:
        connection = yaml.safe_load(f)
    write(os.path.join(folder, 'group_vars'), 'podnet_nodes.yml', dict(connection, podnet_lab_name=name))
    with built_lab('inventories/lab', name=name) as lab:
        proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', path, 'playbooks/site.yml'],
                              capture_output=True, text=True, cwd=REPO, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert all(c['changed'] > 0 for c in recap(proc.stdout).values()), proc.stdout[-2000:]
        w2 = lab.hosts['worker2']
        assert w2.ipj('-d', 'link', 'show', 'podnet.vxlan')[0]['linkinfo']['info_kind'] == 'vxlan'
        assert w2.ns_run('ns1', ['ping', '-c', '2', '-W', '2', '-q', '192.168.11.10']).returncode == 0
