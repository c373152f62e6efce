# -*- coding: utf-8 -*-
"""openkube.podnet.cni_config on the real file system (a temporary folder): four runs, the file read back with
json and os.stat, never through our code; someone else's file is never overwritten or removed."""

from __future__ import annotations

import json
import os
import stat

from kernel import diff_lists, four_runs, run_module

CONFIG = {'cniVersion': '1.0.0', 'name': 'podnet', 'plugins': [
    {'type': 'bridge', 'bridge': 'cni0', 'isGateway': True, 'ipMasq': False, 'hairpinMode': True, 'mtu': 1450,
     'ipam': {'type': 'host-local', 'ranges': [[{'subnet': '192.168.10.0/24', 'rangeStart': '192.168.10.11',
                                                 'rangeEnd': '192.168.10.254', 'gateway': '192.168.10.1'}]],
              'routes': [{'dst': '0.0.0.0/0'}]}},
    {'type': 'portmap', 'capabilities': {'portMappings': True}}]}


def test_four_runs_write_compare_as_data_remove(tmp_path):
    path = str(tmp_path / 'net.d' / '10-podnet.conflist')
    first_check, applied, _second, again = four_runs('cni_config', dict(path=path, config=CONFIG))
    assert applied['actions'] == ['add CNI configuration %s (network podnet)' % path]
    with open(path) as f:
        assert json.load(f) == CONFIG
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    # the same data written another way is the same configuration
    with open(path, 'w') as f:
        json.dump(CONFIG, f, separators=(',', ':'))
    assert run_module('cni_config', dict(path=path, config=CONFIG))['changed'] is False
    # a changed plan rewrites it, and the diff shows both
    changed = dict(CONFIG, plugins=[dict(CONFIG['plugins'][0], mtu=1400), CONFIG['plugins'][1]])
    result = run_module('cni_config', dict(path=path, config=changed))
    assert result['changed'] and diff_lists(result)['before'][0]['config']['plugins'][0]['mtu'] == 1450
    with open(path) as f:
        assert json.load(f)['plugins'][0]['mtu'] == 1400
    first_check, applied, _second, again = four_runs('cni_config', dict(path=path, state='absent'))
    assert applied['changed'] and not os.path.exists(path)


def test_someone_elses_file_is_never_touched(tmp_path):
    path = str(tmp_path / '10-podnet.conflist')
    theirs = {'cniVersion': '0.4.0', 'name': 'cbr0', 'plugins': [{'type': 'flannel'}]}
    with open(path, 'w') as f:
        json.dump(theirs, f)
    failed = run_module('cni_config', dict(path=path, config=CONFIG))
    assert failed['failed'] and "holds the configuration of network 'cbr0', not of network 'podnet'" in failed['msg']
    assert run_module('cni_config', dict(path=path, state='absent'))['changed'] is False
    with open(path) as f:
        assert json.load(f) == theirs
    bad = run_module('cni_config', dict(path=path, config=dict(CONFIG, name='other')))
    assert bad['failed'] and "config: its name 'other' is not the network 'podnet'" in bad['msg']
