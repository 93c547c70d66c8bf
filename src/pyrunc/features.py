"""`features` (CLI process): what this pyrunc really supports, as runtime-spec's features.md describes it.

containerd's CRI plugin reads it: linux.mountExtensions.idmap.enabled turns
on user namespaces for pods, and "rro" in mountOptions recursive read-only.
"""
import os

from pyrunc import OCI_VERSION, __version__
from pyrunc.linux import caps, mountplan, seccomp
from pyrunc.linux.namespaces import TYPES
from pyrunc.spec import HOOK_KINDS


def mount_options():
    return sorted(set(mountplan.FLAG_OPTIONS) | set(mountplan.PROPAGATION_OPTIONS)
                  | set(mountplan.RECURSIVE_OPTIONS) | mountplan.EXTENSION_OPTIONS)


def _kernel_has(path):
    return os.path.exists(path)


def features():
    namespaces = [t for t, (_flag, name) in TYPES.items() if _kernel_has(f"/proc/self/ns/{name}")]
    sec, sec_annotations = seccomp.features()
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOK_KINDS),
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": sorted(namespaces),
            "capabilities": list(caps.NAMES[:caps.last_cap() + 1]),
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": True, "rdma": True},
            "seccomp": sec,
            # what the runtime supports, not what this host has (runtime-spec's features.md, runc's)
            "apparmor": {"enabled": True},
            "selinux": {"enabled": True},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": True}},
        },
        "annotations": dict(sec_annotations, **{"org.opencontainers.pyrunc.version": __version__}),
    }
