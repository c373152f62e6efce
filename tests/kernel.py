# -*- coding: utf-8 -*-
"""Helpers for the real-kernel module tests: running our modules, reading the kernel with iproute2.

Every namespace a test makes is removed at teardown, also when the test fails.
The kernel's state is read back with `ip -j` / `bridge -j`, never through our own code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.tmp', 'collections')
sys.path.insert(0, COLLECTIONS)
# The Python that runs the modules: the controller's venv (pyroute2 0.9), or another one given in
# PODNET_MODULE_PYTHON, for example /usr/bin/python3 with Debian's python3-pyroute2 (0.7.2), as a
# managed Debian 12 host has it. ansible-core's module_utils travel with every module (AnsiballZ);
# here the venv's ``ansible`` package alone is put on that Python's path (.tmp/module-path).
MODULE_PYTHON = os.environ.get('PODNET_MODULE_PYTHON') or sys.executable
MODULE_PATH = COLLECTIONS
if MODULE_PYTHON != sys.executable:
    MODULE_PATH = os.path.join(REPO, '.tmp', 'module-path')
    os.makedirs(MODULE_PATH, exist_ok=True)
    import ansible as _ansible
    _link = os.path.join(MODULE_PATH, 'ansible')
    if not os.path.islink(_link):
        os.symlink(os.path.dirname(_ansible.__file__), _link)
    _link = os.path.join(MODULE_PATH, 'ansible_collections')
    if not os.path.islink(_link):
        os.symlink(os.path.join(COLLECTIONS, 'ansible_collections'), _link)


def sh(*cmd, check=True, input=None):
    """Run a command; return its stdout (text)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, input=input, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (%d): %s' % (' '.join(cmd), proc.returncode, proc.stderr.strip()))
    return proc.stdout


def ipj(netns, *args):
    """`ip -j` output as data, in namespace ``netns`` (None: the caller's own)."""
    cmd = ['ip'] + (['-n', netns] if netns else []) + ['-j'] + list(args)
    out = sh(*cmd)
    return json.loads(out) if out.strip() else []


def bridgej(netns, *args):
    cmd = ['bridge'] + (['-n', netns] if netns else []) + ['-j'] + list(args)
    out = sh(*cmd)
    return json.loads(out) if out.strip() else []


def underlay(ns):
    """A host's underlay in namespace ``ns``, set up with `ip`: eth0 (a veth whose peer is ``other``) holding
    10.57.4.20/24, both up, and 10.58.0.0/24 routed via the gateway 10.57.4.1."""
    sh('ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other')
    for dev in ('eth0', 'other'):
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
    sh('ip', '-n', ns, 'addr', 'add', '10.57.4.20/24', 'dev', 'eth0')
    sh('ip', '-n', ns, 'route', 'add', '10.58.0.0/24', 'via', '10.57.4.1')
    return ns


def run_module(name, args, check=False, diff=True, prefix=()):
    """Run module openkube.podnet.<name> the way Ansible does (a Python process reading
    ANSIBLE_MODULE_ARGS), on this machine; return its JSON result. ``prefix`` runs it under a
    command, for example ``('ip', 'netns', 'exec', ns)`` for a module that acts on "its own" namespace."""
    payload = dict(args)
    payload['_ansible_check_mode'] = check
    payload['_ansible_diff'] = diff
    env = dict(os.environ, PYTHONPATH=MODULE_PATH)
    # The arguments go in on stdin: given as argv, ansible-core first stat()s them as a file path,
    # which fails with ENAMETOOLONG once the JSON has more than 255 bytes without a '/'.
    proc = subprocess.run(
        list(prefix) + [MODULE_PYTHON, '-m', 'ansible_collections.openkube.podnet.plugins.modules.' + name],
        input=json.dumps({'ANSIBLE_MODULE_ARGS': payload}),
        capture_output=True, text=True, env=env, cwd='/', check=False,
    )
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('module %s printed no JSON (rc %d): %s %s' % (name, proc.returncode, proc.stdout, proc.stderr))


def diff_lists(result):
    """A module result's diff as dict(before=[objects], after=[objects]). The module gives each side as a
    mapping of one key, its result key ({'routes': [...]}), which Ansible's callbacks render (a bare
    list makes them warn and print nothing)."""
    diff = result['diff']
    assert set(diff) == {'before', 'after'}, diff
    assert isinstance(diff['before'], dict) and isinstance(diff['after'], dict), diff
    assert len(diff['before']) == 1 and diff['before'].keys() == diff['after'].keys(), diff
    key = list(diff['before'])[0]
    return dict(before=diff['before'][key], after=diff['after'][key])


def four_runs(name, args):
    """check, apply, check again, apply again; asserts the pattern and returns the four results."""
    first_check = run_module(name, args, check=True)
    assert not first_check.get('failed'), first_check
    applied = run_module(name, args)
    assert not applied.get('failed'), applied
    assert applied['changed'] == first_check['changed'], (first_check, applied)
    second_check = run_module(name, args, check=True)
    assert not second_check.get('failed'), second_check
    assert second_check['changed'] is False, second_check
    again = run_module(name, args)
    assert again['changed'] is False, again
    return first_check, applied, second_check, again


def udp_noports(ns):
    """The namespace's count of UDP datagrams that reached no socket (/proc/net/snmp's Udp NoPorts): with nothing
    listening, every datagram a filter lets through is counted there."""
    lines = [line.split() for line in sh('ip', 'netns', 'exec', ns, 'cat', '/proc/net/snmp').splitlines() if line.startswith('Udp:')]
    return int(lines[1][lines[0].index('NoPorts')])


def send_udp(ns, source, count, port=8472, target='10.57.4.20'):
    """``count`` 50-byte UDP datagrams from ``source`` (an address of the namespace) to ``target``:``port``."""
    sh('ip', 'netns', 'exec', ns, 'python3', '-c',
       'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind((%r, 0))\n'
       'for _ in range(%d):\n    s.sendto(b"x" * 50, (%r, %d))' % (source, count, target, port))
