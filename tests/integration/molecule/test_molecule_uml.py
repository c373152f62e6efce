# -*- coding: utf-8 -*-
"""The molecule scenario ipip, run as a user runs it (`molecule test -s ipip`), inside the second
kernel (tests/uml/harness.py: this machine's kernel has no ipip), which sees the same files. A file
of its own, so that pytest-xdist runs it beside the scenarios on this machine's kernel. Collected with
`make molecule` (PODNET_MOLECULE_ALL=1) only: see conftest.py."""

from __future__ import annotations

import re

import pytest

from lab import LAB_ROOT, REPO, VENV_BIN
from molecule_kit import check_run


UML_SCRIPT = '''\
export PATH={venv_bin}:$PATH NO_COLOR=1 ANSIBLE_NOCOLOR=1 MOLECULE_EPHEMERAL_DIRECTORY=/run/tmp/molecule-ipip
cd {repo}
# This User-Mode Linux kernel has no nf_tables for IPv4 (`nft add table ip t` fails with EOPNOTSUPP):
# the role's encapsulation filter takes the legacy iptables backend there (podnet_iptables).
molecule test -s ipip -- -e podnet_iptables=iptables-legacy
rc=$?
# /run is the guest's own tmpfs: anything of the lab left there would show here.
echo "leftover-labs: $(ls {lab_root} 2>/dev/null | tr '\\n' ' ')"
echo "leftover-netns: $(ip netns list 2>/dev/null | wc -l)"
exit $rc
'''


UML_IPTABLES_MODULES = ('ip_tables', 'iptable_filter', 'xt_tcpudp', 'iptable_nat', 'xt_MASQUERADE')


@pytest.mark.uml
def test_ipip_scenario_under_uml(uml, capsys):
    result = uml(UML_SCRIPT.format(venv_bin=VENV_BIN, repo=REPO, lab_root=LAB_ROOT), timeout=1200, mem='2G',
                 modules=UML_IPTABLES_MODULES)
    with capsys.disabled():
        print('\nmolecule test -s ipip under User-Mode Linux: %.0f s (boot included)' % result.seconds)
    check_run('ipip', result.rc, result.output)
    assert 'leftover-labs: \n' in result.output or re.search(r'^leftover-labs: *$', result.output, re.M), result.output[-2000:]
    assert re.search(r'^leftover-netns: 0$', result.output, re.M), result.output[-2000:]
