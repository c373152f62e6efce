# -*- coding: utf-8 -*-
"""A container runtime's CNI calls, made with Debian's CNI plugins (containernetworking-plugins, in
/usr/lib/cni) inside a lab host: what kubelet through containerd, or Podman, do to attach a pod.

There is no ``cnitool`` in Debian or on PyPI, so this does what libcni does: for every plugin of a network
configuration list, in order, run the plugin binary with the CNI environment (``CNI_COMMAND``,
``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_PATH``) and its configuration on stdin, the
``name`` and ``cniVersion`` of the list added and the previous plugin's result as ``prevResult``; DEL in
reverse order. A single plugin's configuration is a list of one.
"""

from __future__ import annotations

import copy
import json

CNI_PATH = '/usr/lib/cni:/opt/cni/bin'  # where Debian installs the plugins, then the upstream location


class CniError(AssertionError):
    pass


def _plugins(conf):
    if 'plugins' in conf:
        return conf['plugins']
    return [dict((k, v) for k, v in conf.items() if k not in ('name', 'cniVersion'))]


def _find(host, kind):
    for folder in CNI_PATH.split(':'):
        path = '%s/%s' % (folder, kind)
        if host.run(['test', '-x', path]).returncode == 0:
            return path
    raise CniError('CNI plugin %s is not in %s on %s (install containernetworking-plugins)' % (kind, CNI_PATH, host.name))


def _call(host, command, plugin, conf, netns, container_id, ifname, prev):
    stdin = dict(copy.deepcopy(plugin), name=conf['name'], cniVersion=conf['cniVersion'])
    if prev is not None:
        stdin['prevResult'] = prev
    env = ['CNI_COMMAND=' + command, 'CNI_CONTAINERID=' + container_id, 'CNI_NETNS=/run/netns/' + netns,
           'CNI_IFNAME=' + ifname, 'CNI_PATH=' + CNI_PATH]
    proc = host.run(['env'] + env + [_find(host, plugin['type'])], input=json.dumps(stdin), timeout=60)
    if proc.returncode != 0:
        raise CniError('%s: CNI %s of %s (plugin %s) failed (rc %d): %s %s' % (
            host.name, command, container_id, plugin['type'], proc.returncode, proc.stdout.strip(), proc.stderr.strip()))
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def add(host, conf, netns, container_id=None, ifname='eth0'):
    """Attach pod namespace ``netns`` of lab host ``host`` (created here when missing) with the network
    configuration ``conf`` (a plugin's or a list's); returns the final CNI result."""
    container_id = container_id or netns
    if netns not in host.netns_list():
        host.run(['ip', 'netns', 'add', netns], check=True)
    result = None
    for plugin in _plugins(conf):
        result = _call(host, 'ADD', plugin, conf, netns, container_id, ifname, result)
    return result


def delete(host, conf, netns, result, container_id=None, ifname='eth0', remove_netns=True):
    """Detach (DEL, plugins in reverse order, each given the ADD result) and remove the namespace."""
    container_id = container_id or netns
    for plugin in reversed(_plugins(conf)):
        _call(host, 'DEL', plugin, conf, netns, container_id, ifname, result)
    if remove_netns and netns in host.netns_list():
        host.run(['ip', 'netns', 'del', netns], check=True)


def pod_ip(result):
    """The pod's IPv4 address from a CNI result (1.0.0: ips[].address with prefix)."""
    for ip in (result or {}).get('ips', []):
        address = ip['address'].split('/')[0]
        if ':' not in address:
            return address
    raise CniError('no IPv4 address in the CNI result %r' % (result,))


def check(host, conf, netns, result, container_id=None, ifname='eth0'):
    """CNI CHECK (spec 1.0.0): every plugin, in order, given the ADD result; raises when a plugin finds the pod
    not as it attached it."""
    container_id = container_id or netns
    for plugin in _plugins(conf):
        _call(host, 'CHECK', plugin, conf, netns, container_id, ifname, result)


def ping_matrix(pods, count=2):
    """Every pod pings every other: ``pods`` is [(label, LabHost, netns, ip)]. Returns (lines, failures): a row
    per source, a column per destination, 'ok' (a reply to one of ``count`` pings) or 'FAIL' in each cell.
    Two pings, not one: a CI run under load once lost both first pings of one pod right after a host-gw -> vxlan
    switch, while the pings of the other pods went through."""
    width = max(len(label) for label, _h, _n, _ip in pods) + 2
    lines = ['src \\ dst'.ljust(width) + ''.join(label.ljust(width) for label, _h, _n, _ip in pods)]
    failures = []
    for src, host, netns, _ip in pods:
        row = src.ljust(width)
        for dst, _dh, _dn, ip in pods:
            if dst == src:
                row += '-'.ljust(width)
                continue
            ok = host.ns_run(netns, ['ping', '-c', str(count), '-i', '0.3', '-W', '2', '-q', ip]).returncode == 0
            row += ('ok' if ok else 'FAIL').ljust(width)
            if not ok:
                failures.append('%s -> %s (%s)' % (src, dst, ip))
        lines.append(row.rstrip())
    return lines, failures


def echo_sources(nsenter, dev, action, count=2):
    """The IPv4 sources of the ICMP echo requests seen on ``dev`` (tcpdump run under the ``nsenter`` prefix,
    a lab host's or the lab router's) while ``action()`` runs: (action's result, sorted sources)."""
    import subprocess
    import time
    capture = subprocess.Popen(list(nsenter) + ['timeout', '15', 'tcpdump', '-l', '-nn', '-c', str(count), '-i', dev,
                                                'icmp[icmptype] == icmp-echo'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1)  # tcpdump listening before the first packet
    try:
        result = action()
    finally:
        out = capture.communicate(timeout=30)[0]
    return result, sorted(set(line.split(' IP ')[1].split(' > ')[0] for line in out.splitlines() if ' IP ' in line))
