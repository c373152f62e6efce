# -*- coding: utf-8 -*-
"""The boot and repair units as files: written root's only, unchanged on a rerun, updated when the
interval changes, removed without a trace; the runner's code is the closure of what it imports; the
runner refuses a record it cannot use and changes nothing. (systemd is not PID 1 here: the
activation is tested on the booted machines, tests/integration/machines/test_repair.py.)"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _record, _repair
from ansible_collections.openkube.podnet.plugins.module_utils._netlink import PodnetError
from ansible_collections.openkube.podnet.plugins.module_utils._resource import NoKernel, converge
from ansible_collections.openkube.podnet.plugins.module_utils._validate import ValidationError


@pytest.fixture(autouse=True)
def no_systemd(monkeypatch):
    # this machine has no systemd as PID 1; make sure of it whatever runs the tests
    monkeypatch.setattr(_repair, 'systemd_running', lambda: False)


def params(tmp_path, state='present', seconds=60):
    return dict(state=state, state_dir=str(tmp_path / 'state'), unit_dir=str(tmp_path / 'units'),
                record=str(tmp_path / 'state' / 'applied.json'), interval=seconds)


def run(p, check_mode=False):
    wanted = _repair.wanted_from_params(p)
    return converge(_repair.Units(NoKernel(), p, wanted), wanted, state=p['state'], check_mode=check_mode)


def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), str(root)) for d, _dirs, fs in os.walk(str(root)) for f in fs)


def test_written_then_unchanged_then_removed(tmp_path):
    (tmp_path / 'units').mkdir()
    first = run(params(tmp_path))
    assert first['changed']
    assert [a for a in first['actions'] if 'unit' in a] == [
        'add unit %s/units/podnet-apply.service (systemd is not running here: written, not enabled)' % tmp_path,
        'add unit %s/units/podnet-repair.timer (systemd is not running here: written, not enabled)' % tmp_path]
    code = 'state/lib/ansible_collections/openkube/podnet/plugins/module_utils'
    assert files(tmp_path) == sorted(['%s/%s.py' % (code, name) for name in _repair.CODE]
                                     + ['state/lib/podnet-apply', 'units/podnet-apply.service', 'units/podnet-repair.timer'])

    def mode(rel):
        return stat.S_IMODE(os.stat(str(tmp_path / rel)).st_mode)

    assert (mode('state/lib/podnet-apply'), mode(code + '/_converge.py'), mode('units/podnet-repair.timer')) == (0o700, 0o600, 0o644)
    assert mode('state/lib') == 0o700
    # the diff shows the units and the runner, the code by its digest only
    after = first['diff']['after']['repair']
    assert all('content' not in e for e in after if e['kind'] == 'code')
    assert 'OnUnitInactiveSec=60s' in [e for e in after if e['path'].endswith('.timer')][0]['content']

    assert not run(params(tmp_path))['changed']
    slower = run(params(tmp_path, seconds=120))
    assert len(slower['actions']) == 1, slower['actions']
    assert slower['actions'][0].startswith('update unit %s/units/podnet-repair.timer (sha256: ' % tmp_path)
    assert 'OnUnitInactiveSec=120s' in (tmp_path / 'units' / 'podnet-repair.timer').read_text()

    gone = run(params(tmp_path, state='absent'))
    assert gone['changed'] and files(tmp_path) == []
    assert sorted(os.listdir(str(tmp_path / 'state'))) == []  # the lib folder too
    assert not run(params(tmp_path, state='absent'))['changed']


def test_check_mode_writes_nothing(tmp_path):
    check = run(params(tmp_path), check_mode=True)
    assert check['changed'] and files(tmp_path) == []


def test_the_runner_uses_this_python_and_the_record(tmp_path):
    run(params(tmp_path))
    runner = (tmp_path / 'state' / 'lib' / 'podnet-apply').read_text().splitlines()
    assert runner[0] == '#!%s -IB' % sys.executable
    assert repr(str(tmp_path / 'state' / 'applied.json')) in runner[-1]
    service = (tmp_path / 'units' / 'podnet-apply.service').read_text()
    assert 'ExecStart=%s/state/lib/podnet-apply' % tmp_path in service
    assert 'ConditionPathExists=%s/state/applied.json' % tmp_path in service
    assert 'After=network-online.target' in service and 'Before=kubelet.service' in service.replace('\n', ' ')


@pytest.mark.parametrize('value,message', [
    ('soon', "interval: 'soon' must be a whole number of seconds"),
    (True, 'interval: True must be a whole number of seconds'),
    (2, 'interval: 2 must be between 5 and 86400 seconds'),
    ('1.5', "interval: '1.5' must be a whole number of seconds"),
])
def test_bad_interval(tmp_path, value, message):
    with pytest.raises(ValidationError, match='^%s$' % message.replace('(', r'\(').replace(')', r'\)')):
        _repair.wanted_from_params(params(tmp_path, seconds=value))


def test_the_code_is_the_closure_of_what_the_runner_imports(tmp_path):
    """A copy holding only CODE imports _repair and _converge, and nothing else of ours gets imported."""
    run(params(tmp_path))
    lib = str(tmp_path / 'state' / 'lib')
    probe = ('import sys; sys.path.insert(0, %r)\n'
             'from ansible_collections.openkube.podnet.plugins.module_utils import _repair, _converge\n'
             'print(",".join(sorted(m.rsplit(".", 1)[1] for m in sys.modules '
             'if m.startswith("ansible_collections.openkube.podnet.plugins.module_utils."))))\n'
             'print(_converge.__file__)' % lib)
    out = subprocess.run([sys.executable, '-I', '-B', '-c', probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[0].split(',') == sorted(_repair.CODE)
    assert out[1].startswith(lib)


@pytest.mark.parametrize('text,why', [
    ('{not json', 'is not JSON'),
    ('{"format": 99, "plan": {}}', 'has record format 99'),
    ('{"format": 1, "plan": {"state": "absent"}}', 'is not the plan of a present host'),
])
def test_the_runner_refuses_a_record_it_cannot_use(tmp_path, text, why):
    record = tmp_path / 'applied.json'
    record.write_text(text)
    out = io.StringIO()
    assert _repair.main(str(record), [], out=out) == 2
    line = out.getvalue().strip()
    assert line.startswith('refused: ') and why in line and line.endswith('; nothing changed'), line
    assert record.read_text() == text


def test_the_runner_without_a_record(tmp_path):
    out = io.StringIO()
    assert _repair.main(str(tmp_path / 'none' / 'applied.json'), [], out=out) == 2
    assert 'there is no' in out.getvalue()


def test_the_runner_waits_for_the_lock_then_gives_up(tmp_path):
    held = _record.lock(str(tmp_path))
    try:
        with pytest.raises(PodnetError, match='cannot lock'):
            _record.lock(str(tmp_path), wait=0.5)
    finally:
        _record.unlock(held)
    _record.unlock(_record.lock(str(tmp_path), wait=0.5))
    assert _record.lock(str(tmp_path / 'missing')) is None


def test_a_plan_that_is_not_one_fails_cleanly(tmp_path):
    record = tmp_path / 'applied.json'
    record.write_text(json.dumps({'format': 1, 'plan': {'state': 'present', 'pods': []}}))
    out = io.StringIO()
    assert _repair.main(str(record), ['--check'], out=out) == 1
    assert out.getvalue().startswith('failed: the record is not a plan this code can apply'), out.getvalue()


def test_where_systemd_runs_the_units_are_enabled_after_their_files_and_disabled_before(tmp_path, monkeypatch):
    """systemctl is faked here (this machine has no systemd): what matters is the order against the files."""
    calls = []
    enabled = {'on': False}

    class Proc(object):
        returncode = 0

        def __init__(self, stdout):
            self.stdout = stdout

    def systemctl(*args, **kwargs):
        calls.append((args, os.path.exists(str(tmp_path / 'units' / 'podnet-apply.service'))))
        if args[0] == 'enable':
            enabled['on'] = True
        elif args[0] == 'disable':
            enabled['on'] = False
        if args[0] == 'is-enabled':
            return Proc('enabled\nenabled\n' if enabled['on'] else 'disabled\ndisabled\n')
        if args[0] == 'is-active':
            return Proc('active\n' if enabled['on'] else 'inactive\n')
        return Proc('')

    monkeypatch.setattr(_repair, 'systemd_running', lambda: True)
    monkeypatch.setattr(_repair, '_systemctl', systemctl)
    first = run(params(tmp_path))
    assert first['actions'][-1] == 'enable podnet-apply.service (boot), enable and start podnet-repair.timer'
    writes = [(args, unit_there) for args, unit_there in calls if args[0] not in ('is-enabled', 'is-active')]
    assert writes == [(('daemon-reload',), True), (('enable', 'podnet-apply.service'), True),
                      (('enable', '--now', 'podnet-repair.timer'), True)]
    calls[:] = []
    assert not run(params(tmp_path))['changed']
    gone = run(params(tmp_path, state='absent'))
    assert gone['actions'][0] == 'stop and disable podnet-repair.timer, disable podnet-apply.service'
    writes = [(args, unit_there) for args, unit_there in calls if args[0] not in ('is-enabled', 'is-active')]
    assert writes[:2] == [(('disable', '--now', 'podnet-repair.timer'), True), (('disable', 'podnet-apply.service'), True)]
    assert writes[2:] == [(('daemon-reload',), False)]
