# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify role's filters: deployed_plan (what the host's record says is deployed) and verify_matrix
(the reachability and encapsulation matrix)."""

from __future__ import annotations

import base64

from ansible_collections.openkube.podnet.plugins.module_utils._encap import ENCAPS, MODE_ENCAP


def deployed_plan(slurped, host, path, mode=''):
    """The plan the host's record holds, from an ansible.builtin.slurp result of ``path``.

    Returns {plan, problem}: ``problem`` (None when the record is usable) names the host and says what
    to do; ``mode`` (-e mode=..., may be empty) must be the deployed mode, since verify checks what is
    deployed and a different mode would only be a different expectation.
    """
    slurped = slurped or {}
    if slurped.get('failed') or 'content' not in slurped:
        why = slurped.get('msg') or 'it was not read'
        if 'not found' in why or 'No such file' in why:
            why = 'there is no %s' % path
        return dict(plan=None, problem='%s: nothing is deployed (%s): run site.yml first, or check podnet_state_dir'
                    % (host, why))
    try:
        text = base64.b64decode(slurped['content']).decode('utf-8')
    except (ValueError, UnicodeDecodeError) as exc:
        return dict(plan=None, problem='%s: %s cannot be read (%s)' % (host, path, exc))
    # imported here: _record is a resource module (pyroute2 through _netlink); Ansible loads every filter file of the
    # collection in each worker that looks up one of its filters (host_check runs for every host)
    from ansible_collections.openkube.podnet.plugins.module_utils._record import parse_record
    document, problem = parse_record(text, path)
    if problem:
        return dict(plan=None, problem='%s: %s: run site.yml again to replace it' % (host, problem))
    plan = document['plan']
    if mode and mode != plan.get('mode'):
        return dict(plan=plan, problem='%s: mode %r was asked for (-e mode=%s), but what is deployed is mode %r (%s): '
                    'verify checks what is deployed; run site.yml -e mode=%s first, or verify without -e mode'
                    % (host, mode, mode, plan.get('mode'), path, mode))
    return dict(plan=plan, problem=None)


def expected_encap(plan, dst, key='ip'):
    """How ``plan``'s host reaches peer ``dst``'s pods at their address ``key`` (ip, or ip6): 'none', 'ipip', 'vxlan'
    (per peer in crosssubnet), or for the IPv6 pods 'vxlan6' (podnet_vxlan_underlay ipv6)."""
    for peer in plan.get('peers', []):
        if peer['name'] == dst:
            if key == 'ip6' and peer.get('encap6'):
                return peer['encap6']
            if peer.get('encap'):
                return peer['encap']
    return MODE_ENCAP.get(plan['mode']) or plan.get('encap')


def _underlay_family(encap, key):
    """The family of the outer header the pods' packets at ``key`` show on the wire: 'IPv6' or 'IPv4'."""
    if ENCAPS[encap].family == 6 or (encap == 'none' and key == 'ip6'):
        return 'IPv6'
    return 'IPv4'


def _cell(src, dst, src_vars, dst_vars, key='ip'):
    """One cell of the matrix: did src's first pod's ping to dst's first pod get answers (at the pod address ``key``:
    ip, or ip6 for the IPv6 matrix), and how did the pings travel on dst's underlay."""
    plan = src_vars['__podnet_verify_plan']
    src_ip = plan['pods'][0][key]
    dst_ip = dst_vars['__podnet_verify_plan']['pods'][0][key]
    answered = False
    for loop_result in (src_vars.get('__podnet_pings') or {}).get('results', []):
        if loop_result.get('item', {}).get(key) != src_ip:  # the loop's item is the pod
            continue
        for r in loop_result.get('results', []):
            if r['target'] == dst_ip and r['received'] > 0:
                answered = True
    seen = [p for p in (dst_vars.get('__podnet_capture') or {}).get('packets', [])
            if p.get('inner_src') == src_ip and p.get('inner_dst') == dst_ip]
    want = expected_encap(plan, dst, key)
    want_family = _underlay_family(want, key)
    want = ENCAPS[want].seen_as or want  # the name the capture gives it (vxlan6: vxlan)
    problems = []
    encap = sorted(set(p['encap'] for p in seen))
    text = '/'.join(encap) or 'nothing captured'
    if encap == ['vxlan']:
        vnis = sorted(set(p['vni'] for p in seen if p['encap'] == 'vxlan'))
        ports = sorted(set(p['port'] for p in seen if p['encap'] == 'vxlan'))
        text = 'vxlan vni %s udp %s' % (','.join(map(str, vnis)), ','.join(map(str, ports)))
        if vnis != [plan['vxlan_vni']] or ports != [plan['vxlan_port']]:
            problems.append('vxlan with vni %s port %s, expected vni %s port %s'
                            % (vnis, ports, plan['vxlan_vni'], plan['vxlan_port']))
    elif len(encap) == 1 and encap[0] in ENCAPS:
        text = ENCAPS[encap[0]].wire
    families = sorted(set('IPv6' if ':' in p['outer_src'] else 'IPv4' for p in seen))
    if key == 'ip6' and seen:  # the IPv6 matrix says which underlay family carried the IPv6 pods
        text += ' over %s' % '/'.join(families)
    if seen and families != [want_family]:
        problems.append('on %s\'s underlay %s -> %s travelled over %s, expected over %s'
                        % (dst, src_ip, dst_ip, '/'.join(families), want_family))
    if not answered:
        problems.append('no reply from %s (%s) to %s (%s)' % (dst, dst_ip, src, src_ip))
    if encap != [want]:
        problems.append('on %s\'s underlay %s -> %s travelled as %s, expected %s'
                        % (dst, src_ip, dst_ip, '/'.join(encap) or 'nothing', want))
    return ('ok ' if not problems else 'FAIL ') + text, problems


def _has_pods(hostvars, host):
    plan = hostvars[host].get('__podnet_verify_plan')
    return bool(plan and plan.get('pods'))


def verify_targets(hosts, hostvars, me):
    """The address of the first own pod of every other host that has one (both addresses of a dual-stack pod): what
    this host's pods ping. A host with ``podnet_pods: []`` (its pods made by a container runtime) is neither source
    nor target."""
    targets = []
    for h in hosts:
        if h != me and _has_pods(hostvars, h):
            pod = hostvars[h]['__podnet_verify_plan']['pods'][0]
            targets += [pod[key] for key in ('ip', 'ip6') if pod.get(key)]
    return targets


def _table(hosts, hostvars, key, title):
    """The lines of one matrix (a row per source, a column per destination) and its failures."""
    rows, failures = [], []
    for src in hosts:
        row = {}
        for dst in hosts:
            if src == dst:
                row[dst] = '-'
                continue
            cell, problems = _cell(src, dst, hostvars[src], hostvars[dst], key)
            row[dst] = cell
            failures.extend('%s -> %s%s: %s' % (src, dst, ' (IPv6)' if key == 'ip6' else '', p) for p in problems)
        rows.append((src, row))
    width = max([len(h) for h in hosts] + [len(c) for _s, r in rows for c in r.values()] + [10])
    lines = [title, ' | '.join(['src \\ dst'.ljust(width)] + [h.ljust(width) for h in hosts])]
    for src, row in rows:
        lines.append(' | '.join([src.ljust(width)] + [row[d].ljust(width) for d in hosts]))
    return lines, failures, dict(rows)


def verify_matrix(hosts, hostvars):
    planned = [h for h in hosts if '__podnet_verify_plan' in hostvars[h]]
    hosts = [h for h in planned if _has_pods(hostvars, h)]
    podless = [h for h in planned if h not in hosts]
    mode = hostvars[hosts[0]]['__podnet_verify_plan']['mode'] if hosts else '?'
    lines, failures, matrix = _table(hosts, hostvars, 'ip', 'mode %s: source (rows) -> destination (columns)' % mode)
    result = dict(lines=lines, failures=failures, matrix=matrix, mode=mode)
    # dual-stack: a second matrix for the pods' IPv6 addresses, with the underlay family that carried them
    if any(hostvars[h]['__podnet_verify_plan']['pods'][0].get('ip6') for h in hosts):
        lines6, failures6, matrix6 = _table(hosts, hostvars, 'ip6', 'mode %s, IPv6 pods: source (rows) -> '
                                            'destination (columns)' % mode)
        lines.extend(lines6)
        failures.extend(failures6)
        result['matrix6'] = matrix6
    if podless:
        lines.append('not verified (no pods of the collection\'s own, podnet_pods: []): %s' % ', '.join(podless))
    return result


class FilterModule(object):
    def filters(self):
        return {'verify_matrix': verify_matrix, 'verify_targets': verify_targets, 'deployed_plan': deployed_plan}
