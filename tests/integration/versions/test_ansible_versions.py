# -*- coding: utf-8 -*-
"""The controller on the older ansible-core releases meta/runtime.yml admits (requires_ansible),
one release per test so that pytest-xdist runs them beside the other integration tests:
scripts/ansible-versions.sh X.Y makes the release's venv (.tmp/ansible-X.Y), runs ansible-test
units and sanity there, then vxlan end to end on an embedded lab of its own (site, verify, a rerun
that must change nothing, teardown).

``make test`` runs the oldest admitted release only (with 2.19, the venv's own, that brackets what
requires_ansible admits); ``make ansible-versions`` (PODNET_VERSIONS_ALL=1) runs every one of them."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest

from lab import REPO, lab_leftovers

RELEASES = ('2.17', '2.18') if os.environ.get('PODNET_VERSIONS_ALL') else ('2.17',)


@pytest.mark.parametrize('release', RELEASES)
def test_controller_on_an_older_ansible_core(release, capsys):
    run_id = uuid.uuid4().hex[:6]
    start = time.monotonic()
    proc = subprocess.run([os.path.join(REPO, 'scripts', 'ansible-versions.sh'), release], cwd=REPO,
                          env=dict(os.environ, PODNET_RUN_ID=run_id),
                          capture_output=True, text=True, check=False, timeout=1200)
    out = proc.stdout + proc.stderr
    with capsys.disabled():
        print('\nansible-core %s: %.0f s' % (release, time.monotonic() - start))
    assert proc.returncode == 0, out[-5000:]
    assert re.search(r'^=== ansible-core %s\.\d+$' % re.escape(release), out, re.M), out[-3000:]
    matrix = [line for line in out.splitlines() if line.startswith('  worker')]
    assert len(matrix) == 2 and sum(line.count('ok vxlan vni 1 udp 8472') for line in matrix) == 2, out[-3000:]
    assert 'rerun: changed=0 on both hosts' in out, out[-3000:]
    lab = 'v%s-%s' % (release.replace('.', ''), run_id)
    assert not lab_leftovers(lab), lab_leftovers(lab)
