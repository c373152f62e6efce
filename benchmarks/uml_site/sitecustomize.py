# -*- coding: utf-8 -*-
"""Only for the benchmark's User-Mode Linux guest (PYTHONPATH=benchmarks/uml_site): longer pyroute2 timeouts.

pyroute2 gives the helper process that opens a socket in a named namespace 2 s to answer (10 s in all);
inside User-Mode Linux on a busy machine that is too short. This raises both timeouts once pyroute2 is
imported, in every Python process of the guest (the benchmark and the modules Ansible runs there).
"""

import importlib.abc
import sys


class _Patch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != 'pyroute2.config':
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, 'find_spec') else None
            if spec is not None:
                break
        else:
            return None
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            module.default_create_socket_timeout = 120
            module.default_communicate_timeout = 30
        spec.loader.exec_module = patched
        return spec


sys.meta_path.insert(0, _Patch())
