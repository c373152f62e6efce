# -*- coding: utf-8 -*-
# Copyright (c) openkube.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: lab_host
short_description: Run tasks inside a simulated host of the embedded lab
version_added: 0.1.0
description:
  - Runs every command inside the network, mount and UTS namespaces of one lab host built by the
    module M(openkube.podnet.lab_namespaces) (or C(playbooks/lab.yml)), with
    C(nsenter --net=F --mount=F --uts=F), where the files are
    C(/run/podnet/LAB/HOST/{net,mnt,uts}) on the controller.
  - The host therefore has its own hostname, interfaces, routes, C(/run/netns) and C(/sys); it shares the
    controller's file system otherwise, so files are put and fetched by copying them locally, and the
    controller's Python (with pyroute2) runs unchanged inside it.
  - Commands run as the controller's user (root, which the lab needs), in its home directory (C($HOME)),
    which is also what C(~) means on a lab host (see O(remote_user)).
  - Supports pipelining.
  - Fails with a clear message when the lab host does not exist (build the lab first with C(playbooks/lab.yml)).
author:
  - openkube.podnet engineers (@openkube)
extends_documentation_fragment:
  - connection_pipelining
options:
  remote_addr:
    description:
      - Name of the lab host (its directory under C(/run/podnet/LAB/)).
      - The inventory name by default; C(podnet_lab_host) overrides it.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: podnet_lab_host
  lab_name:
    description: Name of the lab (its directory under C(/run/podnet/)).
    type: str
    default: lab
    vars:
      - name: podnet_lab_name
    env:
      - name: PODNET_LAB_NAME
  remote_user:
    description:
      - Not settable, always unset. Commands run as the controller's user, and an unset remote user makes
        Ansible expand C(~) on a lab host with the shell (C(echo ~)), that is to the controller's C($HOME), the
        same directory that C(async_wrapper) (which uses C($HOME)) writes its job files to and that the commands
        start in.
      - With the user's name, Ansible would expand C(~root) from the password database instead; where that
        differs from C($HOME) (under User-Mode Linux, C(HOME=/run/home)), C(async_status) looked for the job
        in the wrong directory ("could not find job") and remote temporary files went to the password
        database's home.
    type: str
  lab_root:
    description: Directory that holds the labs.
    type: str
    default: /run/podnet
    vars:
      - name: podnet_lab_root
  nsenter_path:
    description: Path of C(nsenter) on the controller.
    type: str
    default: nsenter
    vars:
      - name: podnet_lab_nsenter
  become_success_timeout:
    description:
      - Number of seconds to wait for become to succeed when enabled (as for the local connection).
    type: int
    default: 10
    vars:
      - name: ansible_local_become_success_timeout
  become_strip_preamble:
    description: Strip internal become output preceding command execution (as for the local connection).
    type: bool
    default: true
    vars:
      - name: ansible_local_become_strip_preamble
notes:
  - The inventories C(inventories/lab*) set C(ansible_connection=openkube.podnet.lab_host) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}) for the lab hosts.
'''

import os
import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display

display = Display()

NS_KINDS = ('net', 'mnt', 'uts')


class Connection(LocalConnection):
    """Local connection whose every command enters the lab host's namespaces."""

    transport = 'openkube.podnet.lab_host'
    has_pipelining = True

    def _ns_files(self):
        host = self.get_option('remote_addr') or self._play_context.remote_addr
        lab = self.get_option('lab_name')
        hdir = os.path.join(self.get_option('lab_root'), lab, host)
        files = [os.path.join(hdir, kind) for kind in NS_KINDS]
        missing = [f for f in files if not os.path.exists(f)]
        if missing:
            raise AnsibleConnectionFailure(
                'lab host %r of lab %r is not built (%s is missing): run playbooks/lab.yml first '
                '(ansible-playbook playbooks/lab.yml -i <this inventory>)' % (host, lab, missing[0]))
        return host, files

    def _connect(self):
        host, self._podnet_files = self._ns_files()
        if not self._connected:
            display.vvv('ESTABLISH LAB CONNECTION TO %s (%s)' % (host, os.path.dirname(self._podnet_files[0])),
                        host=host)
        return super(Connection, self)._connect()

    def exec_command(self, cmd, in_data=None, sudoable=True):
        host, files = self._ns_files()
        if not isinstance(cmd, (str, bytes)):
            cmd = ' '.join(shlex.quote(str(part)) for part in cmd)
        if isinstance(cmd, bytes):
            cmd = cmd.decode('utf-8', 'surrogateescape')
        wrapped = ' '.join(shlex.quote(part) for part in [
            self.get_option('nsenter_path'),
            '--net=' + files[0], '--mount=' + files[1], '--uts=' + files[2],
            '--wd=' + os.path.expanduser('~'),
            '--', '/bin/sh', '-c', cmd,
        ])
        display.vvvv('LAB %s: %s' % (host, wrapped), host=host)
        return super(Connection, self).exec_command(wrapped, in_data=in_data, sudoable=sudoable)
