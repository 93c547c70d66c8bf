"""Rails for the child stages (init processes): no imports once the container's files are in reach."""
import sys


class _NoImports:
    """A meta-path finder that refuses everything: after pivot_root a lazy import
    would execute the container's files as root, before caps and seccomp apply."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        raise ImportError(f"pyrunc init: refusing to import {name!r} inside the container")


def block_imports():
    sys.meta_path.insert(0, _NoImports)
    sys.path[:] = []
    sys.path_importer_cache.clear()
