# -*- coding: utf-8 -*-
"""openkube.podnet.ipip, for real: under User-Mode Linux, since this machine's kernel has no ipip.

One guest boot runs every check of uml_ipip_checks.py with pytest inside the guest (four runs,
`ip -j -d link` state, re-creation on incompatible changes, in-place MTU/up, absent, foreign kinds,
bad input, check mode). This test passes only if all of them passed there: a skip inside the guest,
a missing check or a guest that did not run them is a failure here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.uml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CHECKS = os.path.relpath(os.path.join(HERE, 'uml_ipip_checks.py'), REPO)


def collected_checks():
    """The check ids, as collected on this machine (importing the file touches no kernel)."""
    proc = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider', CHECKS],
                          capture_output=True, text=True, cwd=REPO, check=False)
    ids = [line for line in proc.stdout.splitlines() if '::' in line]
    assert proc.returncode == 0 and ids, proc.stdout + proc.stderr
    return ids


def test_ipip_module_under_user_mode_linux(uml):
    expected = collected_checks()
    script = (
        'set -o pipefail\n'
        'test -d /sys/module/ipip || { echo "no ipip in the guest kernel"; exit 90; }\n'
        '%s -m pytest -p no:cacheprovider -q -rfEs -o console_output_style=classic %s\n'
        'rc=$?\n'
        'leftover=$(ip netns list)\n'
        '[ -z "$leftover" ] || { echo "namespaces left behind: $leftover"; exit 91; }\n'
        'exit $rc\n' % (os.path.join(REPO, '.venv', 'bin', 'python'), CHECKS))
    result = uml(script, timeout=600)
    print('User-Mode Linux boot + %d ipip checks: %.1f s' % (len(expected), result.seconds))
    print(result.output)
    assert result.rc == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    assert re.search(r'\b%d passed\b' % len(expected), summary), summary
    for word in ('failed', 'skipped', 'error', 'xfail', 'deselected'):
        assert word not in summary, summary
