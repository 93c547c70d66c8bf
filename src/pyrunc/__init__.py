"""pyrunc: a low-level OCI container runtime; package root, import-free so the CLI starts fast.

The Python API (pyrunc.Container, pyrunc.containers, pyrunc.check, pyrunc.Error)
is loaded on first use.
"""
__version__ = "0.1.0"
OCI_VERSION = "1.2.0"
GC_THRESHOLD = 50_000    # the collector's first threshold in the CLI and stage 1: cli.run_and_exit says why
_API = {"Container": "pyrunc.api", "containers": "pyrunc.api", "check": "pyrunc.api", "Error": "pyrunc.errors"}


def __getattr__(name):
    if name in _API:
        import importlib
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'pyrunc' has no attribute {name!r}")
