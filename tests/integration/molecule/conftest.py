# -*- coding: utf-8 -*-
"""make test collects the ipip scenario under the second kernel only with PODNET_MOLECULE_ALL=1 (make molecule):
ipip is proven in make test by the second-kernel suites of lifecycle, hardening and machines, and molecule
itself by the vxlan scenario (molecule_kit.SCENARIOS_HERE)."""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get('PODNET_MOLECULE_ALL') == '1' else ['test_molecule_uml.py']
