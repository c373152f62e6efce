# -*- coding: utf-8 -*-
"""_codecache: the collection's compiled code kept in the host's copy of the code, read and written by a Python that
imports our package from a zip as AnsiballZ sends it (a real interpreter in a subprocess, a real zip, real files)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.openkube.podnet.plugins.module_utils import _codecache

PACKAGE_DIR = _codecache.PACKAGE.replace('.', '/')
SAMPLE = "VALUE = %d\n\n\ndef where():\n    return where.__code__.co_filename\n"
PROBE = '''
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.openkube.podnet.plugins.module_utils import _codecache
stats = _codecache.use(sys.argv[2], write=sys.argv[3] == 'write')
from ansible_collections.openkube.podnet.plugins.module_utils import _sample
print(json.dumps(dict(stats, value=_sample.VALUE, file=_sample.__file__, code=_sample.where(),
                      source=_sample.__loader__.get_source(_sample.__name__))))
'''


def make_zip(path, value):
    """What AnsiballZ holds of ours: the packages' __init__ files, _codecache and one module."""
    with zipfile.ZipFile(str(path), 'w') as z:
        parts = PACKAGE_DIR.split('/')
        for depth in range(1, len(parts) + 1):
            z.writestr('/'.join(parts[:depth]) + '/__init__.py', '')
        with open(_codecache.__file__) as handle:
            z.writestr(PACKAGE_DIR + '/_codecache.py', handle.read())
        z.writestr(PACKAGE_DIR + '/_sample.py', SAMPLE % value)
    return str(path)


def probe(zip_path, state_dir, write=True):
    out = subprocess.run([sys.executable, '-I', '-B', '-c', PROBE, zip_path, str(state_dir), 'write' if write else 'check'],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.fixture
def host(tmp_path):
    """A state folder with the repair runner's copy of the code (0700, as _repair writes it)."""
    copy = tmp_path / 'state' / 'lib' / PACKAGE_DIR
    copy.mkdir(parents=True)
    copy.chmod(0o700)
    return tmp_path


def cached(host):
    return host / 'state' / 'lib' / PACKAGE_DIR / '__pycache__' / ('_sample.%s.pyc' % sys.implementation.cache_tag)


def test_compiled_once_then_read_from_the_cache(host):
    z = make_zip(host / 'one.zip', 1)
    first = probe(z, host / 'state')
    assert (first['value'], first['compiled'], first['written'], first['loaded']) == (1, 1, 1, 0)
    assert first['folder'] == str(host / 'state' / 'lib' / PACKAGE_DIR / '__pycache__')
    assert stat.S_IMODE(os.stat(first['folder']).st_mode) == 0o700
    assert stat.S_IMODE(cached(host).stat().st_mode) == 0o600
    # the module is the zip's (its file, its source); tracebacks name the host's copy of the file
    assert first['file'] == z + '/' + PACKAGE_DIR + '/_sample.py'
    assert first['source'] == SAMPLE % 1
    assert first['code'] == str(host / 'state' / 'lib' / PACKAGE_DIR / '_sample.py')

    again = probe(z, host / 'state')
    assert (again['value'], again['compiled'], again['written'], again['loaded']) == (1, 0, 0, 1)
    assert again['code'] == first['code']


def test_a_changed_source_is_compiled_again(host):
    probe(make_zip(host / 'one.zip', 1), host / 'state')
    newer = probe(make_zip(host / 'two.zip', 2), host / 'state')
    assert (newer['value'], newer['compiled'], newer['written'], newer['loaded']) == (2, 1, 1, 0)
    back = probe(make_zip(host / 'one.zip', 1), host / 'state')
    assert (back['value'], back['compiled'], back['loaded']) == (1, 1, 0)


def test_check_mode_reads_and_writes_nothing(host):
    z = make_zip(host / 'one.zip', 1)
    checked = probe(z, host / 'state', write=False)
    assert (checked['value'], checked['folder'], checked['written']) == (1, None, 0)
    assert not (host / 'state' / 'lib' / PACKAGE_DIR / '__pycache__').exists()
    probe(z, host / 'state')
    assert probe(z, host / 'state', write=False)['loaded'] == 1


def test_nothing_without_the_copy_of_the_code(tmp_path):
    (tmp_path / 'state').mkdir(mode=0o700)
    res = probe(make_zip(tmp_path / 'one.zip', 1), tmp_path / 'state')
    assert (res['value'], res['folder'], res['compiled'], res['loaded']) == (1, None, 0, 0)
    assert sorted(os.listdir(str(tmp_path / 'state'))) == []


def test_a_folder_others_may_write_is_never_read(host):
    """Code planted where another user may write is not run, even with the right source hash in its header."""
    z = make_zip(host / 'one.zip', 1)
    probe(z, host / 'state')
    planted = compile('VALUE = 666\n\n\ndef where():\n    return "planted"\n', 'x', 'exec')
    cached(host).write_bytes(_codecache.pyc_bytes(planted, (SAMPLE % 1).encode()))
    assert probe(z, host / 'state')['value'] == 666  # the header matches: only the folder's owner may write there
    cached(host).parent.chmod(0o770)
    res = probe(z, host / 'state')
    assert (res['value'], res['loaded'], res['compiled'], res['written']) == (1, 0, 1, 0)


def test_python_reads_the_cache_for_the_copy_of_the_code(host):
    """The repair runner imports the copy's files (python -IB): the same pycs serve it."""
    z = make_zip(host / 'one.zip', 1)
    probe(z, host / 'state')
    copy = host / 'state' / 'lib' / PACKAGE_DIR
    (copy / '_sample.py').write_text(SAMPLE % 1)
    out = subprocess.run([sys.executable, '-I', '-B', '-v', '-c', 'import sys; sys.path.insert(0, %r)\n'
                          'from ansible_collections.openkube.podnet.plugins.module_utils import _sample\n'
                          'print(_sample.VALUE)' % str(host / 'state' / 'lib')], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '1'
    assert "code object from '%s'" % cached(host) in out.stderr
