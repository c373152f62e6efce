# -*- coding: utf-8 -*-
"""An execution environment for AWX / Ansible Automation Platform: ansible-builder finds the
collection's Python and system dependencies (meta/execution-environment.yml) in the built and
installed collection, and `ansible-builder create` writes the build context of an execution
environment that holds it. There is no container engine here, so the image itself is not built."""

from __future__ import annotations

import glob
import os
import subprocess

import yaml

from lab import REPO, VENV_BIN

EE_DEFINITION = '''\
---
version: 3
images:
  base_image:
    name: quay.io/ansible/awx-ee:latest
dependencies:
  ansible_core:
    package_pip: ansible-core>=2.17
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: {tarball}
        type: file
'''


def run(*cmd, cwd=REPO):
    proc = subprocess.run(list(cmd), capture_output=True, text=True, cwd=cwd, check=False, timeout=300)
    assert proc.returncode == 0, '%s failed (rc %d):\n%s\n%s' % (' '.join(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def test_ansible_builder_finds_the_dependencies_and_creates_the_context(tmp_path):
    galaxy = os.path.join(VENV_BIN, 'ansible-galaxy')
    run(galaxy, 'collection', 'build', '--output-path', str(tmp_path / 'build'))
    tarball = glob.glob(str(tmp_path / 'build' / 'openkube-podnet-*.tar.gz'))[0]
    # (outside the checkout: its ansible.cfg would find the collection already installed)
    run(galaxy, 'collection', 'install', '--offline', '-p', str(tmp_path / 'collections'), tarball, cwd=str(tmp_path))

    found = yaml.safe_load(run(os.path.join(VENV_BIN, 'ansible-builder'), 'introspect', '--sanitize',
                               str(tmp_path / 'collections')))
    python = [line.split('#')[0].strip() for line in found['python']]
    system = [line.split('#')[0].strip() for line in found['system']]
    assert python == ['pyroute2>=0.7.2'], found
    assert 'iproute2 [platform:dpkg]' in system and 'iptables [platform:dpkg platform:rpm]' in system, found
    assert 'util-linux [platform:dpkg platform:rpm]' in system, found

    (tmp_path / 'context').mkdir()
    definition = tmp_path / 'execution-environment.yml'
    definition.write_text(EE_DEFINITION.format(tarball=tarball))
    run(os.path.join(VENV_BIN, 'ansible-builder'), 'create', '-f', str(definition), '-c', str(tmp_path / 'context'),
        '--output-filename', 'Containerfile', cwd=str(tmp_path))
    containerfile = (tmp_path / 'context' / 'Containerfile').read_text()
    assert 'ansible-galaxy collection install' in containerfile or 'install-from-bindep' in containerfile, containerfile
    requirements = yaml.safe_load((tmp_path / 'context' / '_build' / 'requirements.yml').read_text())
    assert requirements['collections'][0]['type'] == 'file', requirements
