# -*- coding: utf-8 -*-
"""The ipip parts of the hardening, under User-Mode Linux (this machine's kernel has no ipip), in one
boot: MTU with DF pings, rp_filter strict beforehand, FORWARD policy DROP, forged IP-in-IP from a host
outside the cluster, crosssubnet with ipip on the routed lab, then ipip on that lab (IP protocol 4 to
the same-subnet peer and across the router, pods of all four hosts reachable; the rerun of ipip with the set
and legacy iptables changing nothing is test_machines_uml.py's, over SSH).
Last, issue 18 under this kernel: IPv6 pod ranges on the routed lab (whose underlay is dual-stack) and
crosssubnet with vxlan over the IPv6 underlay (podnet_vxlan_underlay ipv6): the same-subnet peer's IPv6 pods
routed via its IPv6 node address, the other subnet's through vxlan over the routed IPv6 underlay, both
reached with ping -6."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import textwrap


from hardening_kit import HERE, write_inventory
from lab import REPO, inventory_copy, with_ipv6_pod_ranges

SCRIPT = textwrap.dedent('''\
    set -e
    export PATH={repo}/.venv/bin:$PATH ANSIBLE_NOCOLOR=1
    cd {repo}
    INV={inv}
    # no lab teardown: the labs vanish with the guest (their mounts live in its tmpfs /run)
    n() {{ h=$1; shift; nsenter --net=/run/podnet/$LAB/$h/net --mount=/run/podnet/$LAB/$h/mnt --uts=/run/podnet/$LAB/$h/uts -- "$@"; }}
    echos() {{ n worker2 ip netns exec ns1 awk '/^Icmp:/ {{ if (!h) {{ for (i=1;i<=NF;i++) if ($i=="InEchos") c=i; h=1 }} else print $c }}' /proc/net/snmp; }}
    pl() {{ ansible-playbook "$@" > /run/pl.log || {{ tail -60 /run/pl.log; exit 1; }}; }}
    # the wire (the verify role's asynchronous capture does not complete under UML): what arrives on
    # DST's eth0 while worker2's pod pings DST's pod
    wire() {{ dst=$1; ip=$2; tag=$3
      n $dst timeout 60 tcpdump -l -nn -Q in -i eth0 -c 2 'icmp or ip proto 4 or udp port 8472' > /run/cap.txt 2>/dev/null &
      sleep 3
      n worker2 ip netns exec ns1 ping -c 3 -W 2 $ip | grep transmitted | sed "s/^/$tag ping $dst /"
      wait
      sed "s/^/$tag cap $dst /" /run/cap.txt; }}
    LAB=uh
    pl -i $INV playbooks/lab.yml -e podnet_lab_name=uh
    for h in worker2 worker3; do
      n $h sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
      n $h iptables-legacy -w -P FORWARD DROP  # this UML kernel has no nf_tables for IPv4
    done
    # first on a kernel without ip set support: ip_set, its hash:net type and xt_set unloaded, none loadable on
    # demand; the filter falls back to one rule per prefix, and the run warns (on stderr, hence its own log)
    echo /bin/false > /proc/sys/kernel/modprobe
    modprobe -d /run/mr -r xt_set ip_set_hash_net ip_set
    ansible-playbook -i $INV playbooks/site.yml -e podnet_lab_name=uh -e mode=ipip -e podnet_iptables=iptables-legacy \
      > /run/fb.log 2>&1 || {{ tail -60 /run/fb.log; exit 1; }}
    grep -o 'sysctl: update [^"]*' /run/fb.log | sed 's/^/report /'
    grep -o '[[]WARNING[]]: worker[23]: podnet_encap_filter: this kernel has no' /run/fb.log | sort -u | sed 's/^/fallback /'
    grep -o 'no nftables table either: [^;]*' /run/fb.log | sort -u | sed 's/^/fallback /'
    n worker2 iptables-legacy-save -t filter | grep -- '-A PODNET-INPUT' | sed 's/^/fallback rule /'
    # then with them: the set replaces the rules
    echo /run/modprobe > /proc/sys/kernel/modprobe
    for m in ip_set ip_set_hash_net xt_set; do modprobe -d /run/mr $m; done
    pl -i $INV playbooks/site.yml -e podnet_lab_name=uh -e mode=ipip -e podnet_iptables=iptables-legacy
    grep -o 'ipset: add set [^"]*' /run/pl.log | sed 's/^/switch /'
    # the nftables filter insisted on: refused on every host, before any change (this kernel has no nf_tables for IPv4)
    for h in worker2 worker3; do n $h iptables-legacy-save | grep -- '^-A' > /run/before-$h.txt; done
    ansible-playbook -i $INV playbooks/site.yml -e podnet_lab_name=uh -e mode=ipip -e podnet_iptables=iptables-legacy \
      -e podnet_encap_filter_backend=nftables > /run/nft.log 2>&1 && echo 'nft refused no' || echo 'nft refused yes'
    grep -o "worker[23]: podnet_encap_filter_backend 'nftables' cannot filter the encapsulation here: [^;]*" /run/nft.log \
      | sort -u | sed 's/^/nft /'
    for h in worker2 worker3; do
      n $h iptables-legacy-save | grep -- '^-A' | cmp -s - /run/before-$h.txt && echo "nft unchanged $h"; done
    wire worker3 192.168.11.10 ipip
    echo "mtu ipip=$(n worker2 cat /sys/class/net/podnet.ipip/mtu) veth=$(n worker2 cat /sys/class/net/veth-ns1/mtu)"
    n worker2 ip netns exec ns1 ping -M do -s 1452 -c1 -W2 192.168.11.10 >/dev/null && echo "df 1452 crosses"
    n worker2 ip netns exec ns1 ping -M do -s 1453 -c1 -W2 192.168.11.10 2>&1 | grep -qi 'message too long' && echo "df 1453 refused"
    n worker2 ip netns exec ns1 python3 -c "import sys; sys.path.insert(0, '{repo}/.tmp/collections')
    from ansible_collections.openkube.podnet.plugins.module_utils._probe import ping
    print('probe 1452', ping('192.168.11.10', 1, 2.0, 1452, True)['received'], ping('192.168.11.10', 1, 1.0, 1453, True)['error'])"
    n worker3 ping -c1 -W2 -I 10.57.4.21 192.168.10.10 >/dev/null && echo "rp peer-node-to-pod passes"
    n worker3 ip netns exec ns1 ping -c1 -W2 10.57.4.20 >/dev/null && echo "rp peer-pod-to-node passes"
    n worker2 sysctl -qw net.ipv4.conf.podnet/ipip.rp_filter=1
    n worker3 ping -c1 -W2 -I 10.57.4.21 192.168.10.10 >/dev/null || echo "rp strict on podnet.ipip drops peer-node-to-pod"
    n worker2 sysctl -qw net.ipv4.conf.podnet/ipip.rp_filter=2
    b=$(echos); n rogue python3 {forge} ipip 10.57.4.20 192.168.11.10 192.168.10.10; sleep 1; a=$(echos)
    echo "forged ipip with filter: $((a - b)) reached the pod"
    n worker2 iptables-legacy -w -L PODNET-INPUT -v -x -n | grep DROP | sed 's/^/counter /'
    n worker2 iptables-legacy-save -t filter | grep -- '-A PODNET-INPUT' | sed 's/^/input rule /'
    n worker2 python3 {ipsets} | sed 's/^/input /'
    n worker2 iptables-legacy -w -D INPUT -j PODNET-INPUT
    b=$(echos); n rogue python3 {forge} ipip 10.57.4.20 192.168.11.10 192.168.10.10; sleep 1; a=$(echos)
    echo "forged ipip without filter: $((a - b)) reached the pod"
    n worker2 iptables-legacy -w -I INPUT 1 -j PODNET-INPUT
    LAB=ur
    pl -i inventories/lab-routed playbooks/lab.yml -e podnet_lab_name=ur
    pl -i inventories/lab-routed playbooks/site.yml -e podnet_lab_name=ur -e mode=crosssubnet \\
      -e podnet_crosssubnet_encap=ipip -e podnet_iptables=iptables-legacy
    wire worker3 192.168.11.10 xsub
    wire worker4 192.168.12.10 xsub
    # crosssubnet -> ipip on the same routed lab: every peer through the tunnel, across the router too
    pl -i inventories/lab-routed playbooks/site.yml -e podnet_lab_name=ur -e mode=ipip -e podnet_iptables=iptables-legacy
    wire worker3 192.168.11.10 routed
    wire worker4 192.168.12.10 routed
    n worker2 ip netns exec ns1 ping -c 3 -W 2 192.168.13.10 | grep transmitted | sed "s/^/routed ping worker5 /"
    n worker4 ip netns exec ns1 ping -c 3 -W 2 192.168.10.10 | grep transmitted | sed "s/^/routed ping 4to2 /"
    # dual-stack pods on the same routed lab (its underlay has IPv6 too): crosssubnet with vxlan over the routed
    # IPv6 underlay (podnet_vxlan_underlay ipv6); vxlan carrying IPv6 pods over IPv4 is proven on this kernel
    pl -i {inv6} playbooks/site.yml -e podnet_lab_name=ur -e mode=crosssubnet -e podnet_iptables=iptables-legacy -e podnet_vxlan_underlay=ipv6
    n worker2 ip -6 route show proto 57 | sed 's/^/six route /'
    n worker2 ip -d link show podnet.vxlan6 | grep -o 'vxlan id [0-9]* local [^ ]*' | sed 's/^/six link /'
    n worker2 ip netns exec ns1 ping -6 -c 2 -W 2 fd00:10:244:11::a | grep transmitted | sed 's/^/six ping worker3 /'
    n worker2 ip netns exec ns1 ping -6 -c 2 -W 2 fd00:10:244:12::a | grep transmitted | sed 's/^/six ping worker4 /'
    n worker2 ip6tables-legacy-save -t filter | grep -- '-A PODNET-INPUT' | sed 's/^/six rule /'
    n worker2 python3 {ipsets} | sed 's/^/six /'
''')


def test_ipip_hardening_under_uml(uml, capsys):
    inv = tempfile.mkdtemp(prefix='hardening-inv-', dir=os.path.join(REPO, '.tmp'))  # the guest's /tmp is its own
    try:
        write_inventory(inv)
        inv6 = inventory_copy(os.path.join(REPO, 'inventories', 'lab-routed'), inv + '-routed6', with_ipv6_pod_ranges)
        result = uml(SCRIPT.format(repo=REPO, inv=inv, inv6=inv6, forge=os.path.join(HERE, 'forge.py'),
                                   ipsets=os.path.join(REPO, 'tests', 'ipsets.py')), timeout=1500,
                     mem='2G', modules=('ip_tables', 'iptable_filter', 'xt_tcpudp', 'iptable_nat', 'xt_MASQUERADE',
                                        'ip6_tables', 'ip6table_filter', 'ip6table_nat'))
    finally:
        shutil.rmtree(inv, ignore_errors=True)
        shutil.rmtree(inv + '-routed6', ignore_errors=True)
    out = result.output
    with capsys.disabled():
        print('\nUML hardening run: %.0f s\n%s' % (result.seconds, '\n'.join(
            line for line in out.splitlines() if not line.startswith(('PLAY', 'TASK', 'ok:', 'changed:')))))
    assert result.rc == 0, out[-5000:]
    # with strict rp_filter and FORWARD policy DROP set before the converge
    assert 'ipip ping worker3 3 packets transmitted, 3 received' in out, out[-3000:]
    cap = [line for line in out.splitlines() if line.startswith('ipip cap ')]
    assert len(cap) == 2 and all('IP 10.57.4.20 > 10.57.4.21: IP 192.168.10.10 > 192.168.11.10: ICMP echo request' in c
                                 for c in cap), cap
    assert 'report sysctl: update net/ipv4/conf/podnet.ipip/rp_filter = 2 (value: 1 -> 2)' in out
    assert 'mtu ipip=1480 veth=1480' in out
    assert 'df 1452 crosses' in out and 'df 1453 refused' in out
    assert 'probe 1452 1 Message too long' in out
    # all.rp_filter=1 (strict) beforehand: a peer host's traffic from its node IP to our pod arrives
    # through podnet.ipip with a source whose route back is eth0, and our pod's answer to the peer's
    # node IP arrives plain on the peer's eth0 with a source routed back through the tunnel. Loose
    # mode (2) on both devices lets both pass -- on a device with an IPv4 address: the kernel's
    # loose check fails on a device without one, which is why podnet.ipip holds the pod range's .0.
    assert 'rp peer-node-to-pod passes' in out and 'rp peer-pod-to-node passes' in out, out[-3000:]
    assert 'rp strict on podnet.ipip drops peer-node-to-pod' in out, out[-3000:]
    assert 'forged ipip with filter: 0 reached the pod' in out
    assert 'forged ipip without filter: 3 reached the pod' in out
    assert int(re.search(r'counter\s+(\d+)', out).group(1)) >= 3
    # without ip set support: the former chain, one rule per prefix, and a warning naming each host
    assert 'fallback [WARNING]: worker2: podnet_encap_filter: this kernel has no' in out, out[-5000:]
    assert 'fallback [WARNING]: worker3: podnet_encap_filter: this kernel has no' in out, out[-5000:]
    # auto looked for the nftables table first, and says why it could not use one either
    assert ('fallback no nftables table either: the kernel refuses an nftables filter table of family ip '
            '(Could not process rule: Operation not supported)') in out, out[-5000:]
    # podnet_encap_filter_backend nftables: refused on both hosts, naming the host, the variable and why; nothing changed
    assert 'nft refused yes' in out, out[-5000:]
    for host in ('worker2', 'worker3'):
        assert ("nft %s: podnet_encap_filter_backend 'nftables' cannot filter the encapsulation here: the kernel "
                "refuses an nftables filter table of family ip (Could not process rule: Operation not supported)"
                % host) in out, out[-5000:]
        assert 'nft unchanged %s' % host in out, out[-5000:]
    assert [line for line in out.splitlines() if line.startswith('fallback rule ')] == [
        'fallback rule -A PODNET-INPUT -s 10.57.4.20/31 -p ipencap -j RETURN',
        'fallback rule -A PODNET-INPUT -p ipencap -j DROP'], out[-5000:]
    assert 'switch ipset: add set podnet-peers hash:net family inet [10.57.4.20/31]' in out, out[-5000:]
    # admitted through the set: one rule, the peer worker3 and worker2's own address as its one member
    assert [line for line in out.splitlines() if line.startswith('input ')] == [
        'input rule -A PODNET-INPUT -p ipencap -m set --match-set podnet-peers src -j RETURN',
        'input rule -A PODNET-INPUT -p ipencap -j DROP', 'input set podnet-peers inet 10.57.4.20/31'], out
    xsub = [line for line in out.splitlines() if line.startswith('xsub ')]
    assert 'xsub ping worker3 3 packets transmitted, 3 received' in out and 'xsub ping worker4 3 packets transmitted, 3 received' in out, xsub
    same = [line for line in xsub if line.startswith('xsub cap worker3 ')]
    across = [line for line in xsub if line.startswith('xsub cap worker4 ')]
    assert len(same) == 2 and all('IP 192.168.10.10 > 192.168.11.10: ICMP echo request' in c for c in same), xsub
    assert len(across) == 2 and all('IP 10.57.4.20 > 10.57.5.20: IP 192.168.10.10 > 192.168.12.10: ICMP echo request' in c
                                    for c in across), xsub
    # then ipip on the routed lab: IP protocol 4 to the same-subnet peer and across the router, pods of all
    # four hosts reach each other
    routed = [line for line in out.splitlines() if line.startswith('routed ')]
    for peer in ('worker3', 'worker4', 'worker5', '4to2'):
        assert 'routed ping %s 3 packets transmitted, 3 received' % peer in out, routed
    same = [line for line in routed if line.startswith('routed cap worker3 ')]
    across = [line for line in routed if line.startswith('routed cap worker4 ')]
    assert len(same) == 2 and all('IP 10.57.4.20 > 10.57.4.21: IP 192.168.10.10 > 192.168.11.10: ICMP echo request' in c
                                  for c in same), routed
    assert len(across) == 2 and all('IP 10.57.4.20 > 10.57.5.20: IP 192.168.10.10 > 192.168.12.10: ICMP echo request' in c
                                    for c in across), routed
    # issue 18 under this kernel: the same-subnet peer's IPv6 pods via its IPv6 node address, the other subnet's
    # through vxlan over the routed IPv6 underlay (podnet_vxlan_underlay ipv6)
    six = [line for line in out.splitlines() if line.startswith('six ')]
    assert any(line.startswith('six route fd00:10:244:11::/64 via fd57:4::21 dev eth0 ') for line in six), six
    assert any(line.startswith('six route fd00:10:244:12::/64 via fd00:10:244:12:: dev podnet.vxlan6 ') for line in six), six
    assert 'six link vxlan id 1 local fd57:4::20' in six, six
    for peer in ('worker3', 'worker4'):
        assert 'six ping %s 2 packets transmitted, 2 received' % peer in out, six
    # the encapsulation filter through the set under this kernel's ip_set and xt_set (legacy iptables): one rule, the
    # peers' IPv6 node addresses as the set's members
    assert 'six rule -A PODNET-INPUT -p udp -m udp --dport 8472 -m set --match-set podnet-peers6 src -j RETURN' in six, six
    assert 'six set podnet-peers6 inet6 fd57:4::20/127 fd57:5::20/127' in six, six
    assert 'six set podnet-peers inet 10.57.4.20/31 10.57.5.20/31' in six, six
