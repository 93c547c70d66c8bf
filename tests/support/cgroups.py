"""Finding and reading a container's cgroups from the test side, on v1 (legacy, hybrid) and v2 hosts."""
import contextlib
import os

import pytest

from tests.conftest import pure_cgroup_v2

CGROUP_ROOT = "/sys/fs/cgroup"


def v1_mounts():
    """{controller: mountpoint} of the visible v1 hierarchies."""
    out = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mp, fstype, opts = line.split()[:4]
            if fstype == "cgroup":
                for o in opts.split(","):
                    out[o] = mp
    return out


V1 = bool(v1_mounts()) and not pure_cgroup_v2()
# one parameter per cgroup version: v1 runs on legacy/hybrid hosts, v2 in the v2 VM (-m cgroupv2)
DRIVERS = [pytest.param("v1", marks=pytest.mark.skipif(not V1, reason="needs cgroup v1 hierarchies"), id="v1"),
           pytest.param("v2", marks=pytest.mark.cgroupv2, id="v2")]


class Cgroup:
    """The cgroups of a process (the container's init), as /proc/PID/cgroup names them."""

    def __init__(self, version, pid):
        self.version = version
        self.paths = {}
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for c in ctrls.split(",") if ctrls else [""]:
                    self.paths[c] = path
        self.mounts = v1_mounts()

    def dir(self, ctrl=""):
        if self.version == "v2":
            return CGROUP_ROOT + self.paths[""]
        if ctrl == "":
            return os.path.join(CGROUP_ROOT, "unified") + self.paths[""]
        return self.mounts[ctrl] + self.paths[ctrl]

    def read(self, ctrl, file):
        with open(os.path.join(self.dir(ctrl), file)) as f:
            return f.read().strip()

    def value(self, v1, v2):
        """Read (controller, file) v1 or the cgroup2 file v2, depending on the version."""
        return self.read(*v1) if self.version == "v1" else self.read("", v2)

    def dirs(self):
        if self.version == "v2":
            return [self.dir()]
        return sorted({self.dir(c) for c in self.paths if c and c in self.mounts})


def hierarchies(version):
    """The mountpoint of every cgroup hierarchy a container's cgroups go into (v1 and a hybrid's cgroup2)."""
    with open("/proc/self/mounts") as f:
        mps = {m[1] for m in (line.split() for line in f) if m[2] in ("cgroup", "cgroup2")}
    return sorted(mps) if version == "v1" else [CGROUP_ROOT]


@contextlib.contextmanager
def frozen_cgroup(version, cid):
    """The cgroup an absolute cgroupsPath /<cid> names, made and frozen beforehand (v1: in the freezer
    hierarchy only); yields (its freezer file, the frozen value); thawed and removed after."""
    if version == "v1":
        knob, frozen, thawed = os.path.join(v1_mounts()["freezer"], cid, "freezer.state"), "FROZEN", "THAWED"
    else:
        knob, frozen, thawed = os.path.join(CGROUP_ROOT, cid, "cgroup.freeze"), "1", "0"
    os.mkdir(os.path.dirname(knob))
    try:
        with open(knob, "w") as f:
            f.write(frozen)
        yield knob, frozen
    finally:
        with open(knob, "w") as f:
            f.write(thawed)
        os.rmdir(os.path.dirname(knob))
