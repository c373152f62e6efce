# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's whole plan converged in one execution, with the per-object resources.

``steps()`` is the one description of what a plan (see _plan.py) applies and in
what order. ``run()`` applies those steps inside one Python process (the
converge module); the roles pod/host_gw/ipip/vxlan and podnet's roles path make
the same calls one task each, through the filter ``openkube.podnet.steps``:
the same validation, the same comparison, the same check mode and diff, only
with one remote execution per step. One process is what keeps a converge over
many hosts close to the cost of a single no-op task per host.

Every step is validated before the first write.
"""

from __future__ import annotations

import posixpath
from typing import Any, Dict, List, NamedTuple, Sequence

from ansible_collections.openkube.podnet.plugins.module_utils import (
    _address, _bpf_filter, _bridge, _cni, _fdb, _firewall, _ipip, _ipset, _neighbor, _netns, _nftables, _record, _repair, _route,
    _sysctl, _veth, _vxlan,
)
from ansible_collections.openkube.podnet.plugins.module_utils._encap import DEVICE_ENCAPS, ENCAPS
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import Netlink
from ansible_collections.openkube.podnet.plugins.module_utils._resource import NoKernel, converge

PARTS = ('pods', 'mode', 'cleanup', 'record', 'repair')

RESOURCES = {
    'netns': (_netns, _netns.Namespace),
    'veth': (_veth, _veth.VethPair),
    'bridge': (_bridge, _bridge.Bridge),
    'cni_config': (_cni, _cni.CniConfig),
    'address': (_address, _address.Addresses),
    'route': (_route, _route.RouteTable),
    'sysctl': (_sysctl, _sysctl.Sysctl),
    'ipip': (_ipip, _ipip.Ipip),
    'vxlan': (_vxlan, _vxlan.Vxlan),
    'neighbor': (_neighbor, _neighbor.NeighborTable),
    'fdb': (_fdb, _fdb.FdbTable),
    'firewall': (_firewall, _firewall.Firewall),
    'ipset': (_ipset, _ipset.IpSets),
    'nftables': (_nftables, _nftables.NfTables),
    'bpf_filter': (_bpf_filter, _bpf_filter.BpfFilters),
    'record': (_record, _record.Record),
    'repair': (_repair, _repair.Units),
}
#: the resources that are files on the host, not kernel objects: no netlink socket for them
FILE_RESOURCES = ('record', 'repair', 'cni_config')


def with_defaults(spec, given):
    """Module parameters as AnsibleModule would fill them: defaults, None for the rest."""
    params = {}
    for name, option in spec.items():
        value = given.get(name, option.get('default'))
        if value is not None and option.get('options') and option.get('type') == 'list':
            value = [with_defaults(option['options'], item) for item in value]
        params[name] = value
    unknown = set(given) - set(spec)
    if unknown:
        raise ValueError('unknown options %s' % ', '.join(sorted(unknown)))
    return params


class Step(NamedTuple):
    """One module call of a plan: the module (or resource) name, its arguments, and the role of the
    roles path that makes this call (pod, the mode's role, or podnet for cleanup and the record)."""
    module: str
    args: Dict[str, Any]
    role: str


def _sets_absent(plan: Dict[str, Any]) -> Dict[str, Any]:
    """The ipset call that removes the collection's sets the plan does not want (after the chains that match them)."""
    return dict(sets=[dict(name=name) for name in plan['absent_ipsets']], state='absent')


def _present(*addresses: Any) -> List[str]:
    """The addresses that are given (an IPv6 one only in a dual-stack plan)."""
    return [a for a in addresses if a]


def _address(role: str, args: Dict[str, Any]) -> Step:
    """An address call; with an IPv6 address, without duplicate address detection (each host's own range: unique by
    construction, and usable at once rather than after DAD)."""
    if any(':' in a for a in args['addresses']):
        args = dict(args, nodad=True)
    return Step('address', args, role)


def steps(plan: Dict[str, Any], parts: Sequence[str] = PARTS) -> List[Step]:
    """The plan as an ordered list of module calls: the one description of what is applied and in
    what order. The converge module runs it in one process (run() below); the roles path
    (podnet_apply: roles) makes the same calls, one task each, through the filter
    ``openkube.podnet.steps``, each role taking its own contiguous slice."""
    present = plan['state'] == 'present'
    mode_role = plan.get('apply_role') or 'podnet'
    todo: List[Step] = []

    def add(role, module, args):
        todo.append(_address(role, args) if module == 'address' else Step(module, args, role))

    repair = plan.get('repair')
    if 'repair' in parts and repair and repair['state'] == 'absent':
        # First: the boot and repair units stop before anything they would apply again is removed
        add('podnet', 'repair', dict(state='absent', state_dir=repair['state_dir'], unit_dir=repair['unit_dir']))

    if 'pods' in parts and present:
        bridge = plan.get('bridge')
        if bridge:  # podnet_attach bridge: the bridge holds the gateway, the pods' veths are its ports
            add('pod', 'bridge', dict(name=bridge['name'], mtu=bridge['mtu'], mac=bridge['mac']))
            add('pod', 'address', dict(dev=bridge['name'], addresses=_present(bridge['address'], bridge.get('address6')),
                                       purge=True))
        for pod in plan['pods']:
            veth = dict(name=pod['host_dev'], peer=pod['dev'], peer_netns=pod['name'], mtu=pod['mtu'])
            if pod.get('master'):
                veth['master'] = pod['master']
            add('pod', 'netns', dict(name=pod['name']))
            add('pod', 'veth', veth)
            gateways = _present(pod.get('gateway_address'), pod.get('gateway_address6'))
            add('pod', 'address', dict(dev=pod['host_dev'], addresses=gateways, purge=True))
            add('pod', 'address', dict(netns=pod['name'], dev=pod['dev'], addresses=_present(pod['address'], pod.get('address6')),
                                       purge=True))
            defaults = [dict(dst='default', via=pod['gateway'], dev=pod['dev'])]
            if pod.get('gateway6'):
                defaults.append(dict(dst='::/0', via=pod['gateway6'], dev=pod['dev']))
            for default in defaults:
                if pod.get('onlink', True):
                    default['onlink'] = True
            add('pod', 'route', dict(netns=pod['name'], purge=True, routes=defaults))
        if plan.get('cni'):  # the CNI configuration a container runtime attaches its pods with
            add('pod', 'cni_config', dict(path=plan['cni']['path'], network=plan['cni']['network'],
                                          config=plan['cni']['config']))
        if 'mode' not in parts:
            # the pods on their own: their host routes (otherwise the mode's route table, with purge,
            # holds them too) and forwarding (without purge: the mode's settings are not touched)
            host_devs = set(p['host_dev'] for p in plan['pods'])
            add('pod', 'route', dict(routes=[r for r in plan['routes'] if r.get('dev') in host_devs]))
            add('pod', 'sysctl', dict(settings=dict(plan['sysctl'])))
    if 'mode' in parts and present:
        for name in DEVICE_ENCAPS:  # the device of the plan's encapsulation (_encap.py), its address and entries
            if not plan.get(name):
                continue
            device = dict(plan[name])
            addresses = _present(device.pop('address'), device.pop('address6', None))
            add(mode_role, ENCAPS[name].device_module, device)
            add(mode_role, 'address', dict(dev=device['name'], addresses=addresses, purge=True))
            neighbors, fdb = ENCAPS[name].entries  # the plan's keys of this device's entries
            if ENCAPS[name].neighbor:
                add(mode_role, 'neighbor', dict(dev=device['name'], neighbors=plan[neighbors], purge=True))
            if ENCAPS[name].fdb:
                add(mode_role, 'fdb', dict(dev=device['name'], entries=plan[fdb], purge=True))
        add(mode_role, 'route', dict(routes=plan['routes'], purge=True))
        # The ip sets the firewall's rules match exist, with their members, before the rules that use them; the
        # collection's sets this plan does not want are destroyed after the rules are gone (the kernel refuses to
        # destroy a set in use). Two calls on different sets: check mode predicts each as the real run does it.
        # A plan recorded before the sets (no keys ipsets, absent_ipsets) makes neither call.
        # The filter's nftables tables come first and the removal of the collection's tables last, so that a switch
        # between nftables and the iptables chain never leaves the encapsulation unfiltered. A plan without the key
        # nftables (None: no nft on the host, or recorded before) makes no call.
        # The eBPF filter (backend bpf) likewise: in place before the others go, removed after them. A plan without
        # the key bpf_filters (None: never had one) makes no call.
        tables, bpf = plan.get('nftables'), plan.get('bpf_filters')
        if tables:
            add(mode_role, 'nftables', dict(tables=tables, purge=True))
        if bpf:
            add(mode_role, 'bpf_filter', dict(filters=bpf, purge=True))
        if plan.get('ipsets'):
            add(mode_role, 'ipset', dict(sets=plan['ipsets']))
        if plan.get('firewall'):
            add(mode_role, 'firewall', dict(plan['firewall']))
        if plan.get('absent_ipsets'):
            add(mode_role, 'ipset', _sets_absent(plan))
        if tables is not None and not tables:
            add(mode_role, 'nftables', dict(tables=[], purge=True))
        if bpf is not None and not bpf:
            add(mode_role, 'bpf_filter', dict(filters=[], purge=True))
    if 'cleanup' in parts:
        for encap in DEVICE_ENCAPS:
            for name in plan['absent_devices'][encap]:
                add('podnet', ENCAPS[encap].device_module, dict(name=name, state='absent'))
        # the collection's own pods of the last applied plan that this one no longer has (_plan._absent_pods)
        gone = plan.get('absent_pods') or []
        for pod in gone:
            if pod['host_dev']:
                add('podnet', 'veth', dict(name=pod['host_dev'], state='absent'))
        for pod in gone:
            if pod['name']:
                add('podnet', 'netns', dict(name=pod['name'], state='absent'))
        # the pods' bridge and CNI configuration of the last applied plan that this one does not want
        if plan.get('absent_cni'):
            add('podnet', 'cni_config', dict(path=plan['absent_cni'], state='absent'))
        if plan.get('absent_bridge'):
            add('podnet', 'bridge', dict(name=plan['absent_bridge'], state='absent'))
        if not present:
            if plan.get('firewall'):
                add('podnet', 'firewall', dict(plan['firewall'], chains=[], purge=True))
            if plan.get('absent_ipsets'):  # after the chains that match them
                add('podnet', 'ipset', _sets_absent(plan))
            if plan.get('nftables') is not None:
                add('podnet', 'nftables', dict(tables=[], purge=True))
            if plan.get('bpf_filters') is not None:
                add('podnet', 'bpf_filter', dict(filters=[], purge=True))
            add('podnet', 'route', dict(routes=[], purge=True))
            for pod in plan['pods']:
                add('podnet', 'veth', dict(name=pod['host_dev'], state='absent'))
            for pod in plan['pods']:
                add('podnet', 'netns', dict(name=pod['name'], state='absent'))
            if plan.get('cni'):
                add('podnet', 'cni_config', dict(path=plan['cni']['path'], state='absent'))
            if plan.get('bridge'):
                add('podnet', 'bridge', dict(name=plan['bridge']['name'], state='absent'))
    if (present and 'mode' in parts) or (not present and 'cleanup' in parts):
        # Last, once the other modes' devices are gone: ip_forward and the devices' rp_filter, with
        # purge, so what an earlier mode (or run) changed and no longer wants gets its old value back.
        removed = [name for encap in DEVICE_ENCAPS for name in plan['absent_devices'][encap]] if 'cleanup' in parts else []
        add('podnet', 'sysctl', dict(settings=dict(plan['sysctl'], **plan.get('device_sysctl') or {}), purge=True,
                                     removed_devices=removed))
    if 'record' in parts and plan.get('record'):
        # Last, once everything else is in place: the record of what is deployed (_record.py)
        add('podnet', 'record', dict(path=plan['record'], plan=plan) if present
            else dict(path=plan['record'], state='absent'))
    if 'repair' in parts and repair and repair['state'] == 'present' and plan.get('record'):
        # After the record they apply: the boot and repair units (_repair.py)
        add('podnet', 'repair', dict(state_dir=repair['state_dir'], unit_dir=repair['unit_dir'], record=plan['record'],
                                     interval=repair['interval']))
    return todo


class _Sockets(object):
    """One netlink socket per namespace for all the steps of a run (opening one costs about as
    much as a step's dump). A namespace that is missing is looked up again at its next step."""

    def __init__(self):
        self._open = {}

    def get(self, netns):
        nl = self._open.get(netns)
        if nl is None or nl.ns_missing:
            nl = self._open[netns] = Netlink(netns)
        nl.forget_links()  # the previous step may have made or removed links
        return nl

    def close(self):
        for nl in self._open.values():
            nl.close()
        self._open = {}


def run(plan, parts=PARTS, check_mode=False, lock=True):
    """Validate every step, then converge them in order. Returns the module result.

    A real run holds the lock of the record's folder (``_record.lock``) throughout: a converge and the
    repair runner (_repair.py, which takes it itself and passes ``lock=False``) never interleave."""
    prepared = []
    for module, args, _role in steps(plan, parts):
        utils, resource_cls = RESOURCES[module]
        params = with_defaults(utils.ARGSPEC, args)
        prepared.append((module, params, resource_cls, utils.wanted_from_params(params)))
    results = []
    sockets = _Sockets()
    held = _record.lock(posixpath.dirname(plan['record'])) if lock and not check_mode and plan.get('record') else None
    try:
        for module, params, resource_cls, wanted in prepared:
            nl = NoKernel() if module in FILE_RESOURCES else sockets.get(params.get('netns'))
            result = converge(resource_cls(nl, params, wanted), wanted, state=params.get('state') or 'present',
                              purge=bool(params.get('purge')), check_mode=check_mode)
            if module == 'netns':
                sockets.close()  # namespaces made or removed: the next steps open theirs afresh
            where = ' in %s' % params['netns'] if params.get('netns') else ''
            results.append(dict(module=module, where=params.get('netns'), changed=result['changed'],
                                actions=['%s%s: %s' % (module, where, a) for a in result['actions']],
                                diff=result['diff']))
    finally:
        sockets.close()
        _record.unlock(held)
    changed_steps = [r for r in results if r['changed']]
    return dict(
        changed=bool(changed_steps),
        actions=[a for r in results for a in r['actions']],
        steps=[dict(module=r['module'], netns=r['where'], changed=r['changed']) for r in results],
        diff=[dict(before_header='%s%s' % (r['module'], ' (netns %s)' % r['where'] if r['where'] else ''),
                   after_header='%s%s' % (r['module'], ' (netns %s)' % r['where'] if r['where'] else ''),
                   before=r['diff']['before'], after=r['diff']['after']) for r in changed_steps],
    )
