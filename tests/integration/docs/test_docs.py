# -*- coding: utf-8 -*-
"""The collection's documentation builds: `ansible-doc` renders every module, filter, connection
and inventory plugin found in plugins/ (and every role's argument spec), and
`antsibull-docs lint-collection-docs --plugin-docs` accepts the collection.

The plugin list comes from the files, not from ansible-doc's own listing, so a plugin whose
documentation cannot be loaded still shows up here (as a failure).
"""

from __future__ import annotations

import glob
import importlib
import json
import os
import re
import subprocess
import warnings

import pytest

from lab import REPO, VENV_BIN

COLLECTION = 'openkube.podnet'
PLUGINS = os.path.join(REPO, 'plugins')

# antsibull-docs lint findings in files owned by other work in progress, each with what is wrong.
# A finding in a file not listed here fails the test; a listed file that has become clean is
# reported as a warning (take it off the list). Keep this empty once the owners have fixed their files.
KNOWN_LINT_FINDINGS = {}

# Plugins whose documentation ansible-doc cannot load, {(kind, name): why} (others' work in progress).
# Each is a strict xfail: once it renders, the test fails until the entry is removed.
KNOWN_ANSIBLE_DOC_FAILURES = {}


def _names(kind):
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(PLUGINS, kind, '*.py'))
                  if not os.path.basename(p).startswith('_'))


def _filter_names():
    """Every filter the collection's filter plugin files export (FilterModule.filters())."""
    names = []
    for module in _names('filter'):
        mod = importlib.import_module('ansible_collections.openkube.podnet.plugins.filter.' + module)
        names.extend(mod.FilterModule().filters())
    return sorted(names)


def _roles():
    return sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                  for p in glob.glob(os.path.join(REPO, 'roles', '*', 'meta', 'argument_specs.yml')))


DOCUMENTED = ([('module', n) for n in _names('modules')] + [('filter', n) for n in _filter_names()]
              + [('connection', n) for n in _names('connection')] + [('inventory', n) for n in _names('inventory')]
              + [('role', n) for n in _roles()])


def ansible_doc(*args):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               PATH=VENV_BIN + os.pathsep + env.get('PATH', '/usr/bin:/bin'))
    return subprocess.run([os.path.join(VENV_BIN, 'ansible-doc')] + list(args), cwd=REPO, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def test_every_plugin_kind_is_found():
    kinds = set(kind for kind, _name in DOCUMENTED)
    assert kinds == {'module', 'filter', 'connection', 'inventory', 'role'}, DOCUMENTED


@pytest.mark.parametrize('kind,name', [
    pytest.param(kind, name, id='%s-%s' % (kind, name), marks=[pytest.mark.xfail(
        strict=True, reason=KNOWN_ANSIBLE_DOC_FAILURES[(kind, name)])] if (kind, name) in KNOWN_ANSIBLE_DOC_FAILURES else [])
    for kind, name in DOCUMENTED])
def test_ansible_doc_renders(kind, name):
    fqcn = '%s.%s' % (COLLECTION, name)
    text = ansible_doc('-t', kind, fqcn)
    problems = [line for line in text.stderr.splitlines() if 'WARNING' in line or 'ERROR' in line]
    assert text.returncode == 0 and not problems, 'ansible-doc -t %s %s: rc %d\n%s' % (
        kind, fqcn, text.returncode, text.stderr.strip())
    assert fqcn in text.stdout and len(text.stdout) > 200, text.stdout

    as_json = ansible_doc('-t', kind, '--json', fqcn)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert fqcn in data, 'ansible-doc -t %s --json %s returned no documentation: %s' % (kind, fqcn, as_json.stdout[:500])
    entry = data[fqcn]
    if kind == 'role':
        main = entry['entry_points']['main']
        assert main.get('short_description'), main
        return
    doc = entry['doc']
    assert doc.get('short_description') and doc.get('description'), doc
    if kind != 'filter':
        assert doc.get('author'), '%s: no author' % fqcn
    if kind in ('module', 'filter'):
        assert entry.get('examples'), '%s: no EXAMPLES' % fqcn
    if kind == 'module':
        assert entry.get('return') is not None, '%s: no RETURN' % fqcn
        assert set(doc.get('attributes', {})) >= {'check_mode', 'diff_mode'}, '%s: attributes %s' % (
            fqcn, sorted(doc.get('attributes', {})))


def _lint_findings(output):
    """{file: [messages]} from antsibull-docs lint output (`path:line:col: message`, continued by indented lines)."""
    findings = {}
    current = None
    for line in output.splitlines():
        match = re.match(r'^(\S+?):\d+:\d+: (.*)$', line)
        if match:
            current = match.group(1)
            findings.setdefault(current, []).append(match.group(2))
        elif current and line.startswith(' ') and line.strip():
            findings[current][-1] += ' | ' + line.strip()
    return findings


def test_antsibull_docs_lint():
    antsibull_docs = os.path.join(VENV_BIN, 'antsibull-docs')
    assert os.access(antsibull_docs, os.X_OK), 'antsibull-docs is missing: run make setup (requirements-dev.txt)'
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))
    env.update(PATH=VENV_BIN + os.pathsep + env.get('PATH', '/usr/bin:/bin'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.tmp', 'collections'))
    proc = subprocess.run([antsibull_docs, 'lint-collection-docs', '--plugin-docs', '.'], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    output = proc.stdout + proc.stderr
    findings = _lint_findings(output)
    assert proc.returncode == 0 or findings, 'antsibull-docs failed without findings (rc %d):\n%s' % (
        proc.returncode, output[-3000:])
    new = dict((path, msgs) for path, msgs in findings.items() if path not in KNOWN_LINT_FINDINGS)
    fixed = sorted(set(KNOWN_LINT_FINDINGS) - set(findings))
    assert not new, 'antsibull-docs lint-collection-docs:\n' + '\n'.join(
        '%s: %s' % (path, msg[:400]) for path, msgs in sorted(new.items()) for msg in msgs)
    if fixed:
        warnings.warn('antsibull-docs: these files are clean now; take them off KNOWN_LINT_FINDINGS: %s' % fixed)
