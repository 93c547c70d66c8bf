"""pyrunc: a low-level OCI container runtime; package root, kept import-free for the CLI's start-up."""
__version__ = "0.1.0"
OCI_VERSION = "1.2.0"
