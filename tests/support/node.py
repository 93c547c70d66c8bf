"""What the node tests read from systemd, the node's cgroup manager (test process side, in the node VM).

A container run with the systemd cgroup driver is a transient scope in a
slice: these helpers find its unit, its properties and its cgroup directory
from outside, through systemctl, as an administrator of the node would.
"""
import os
import subprocess
import time

ROOT = "/sys/fs/cgroup"


def systemctl(*args, check=True):
    p = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"systemctl {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def properties(unit, *names):
    """{name: value} of a unit, as systemd reports them."""
    out = systemctl("show", unit, *(f"--property={n}" for n in names)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def slice_path(name):
    """systemd's cgroup path of a slice: `a-b.slice` lives at a.slice/a-b.slice."""
    stem = name[:-len(".slice")]
    parts = stem.split("-")
    return "/".join("-".join(parts[:i + 1]) + ".slice" for i in range(len(parts)))


def unit_of(pid):
    """The (slice, unit) systemd files a process under, from its cgroup path."""
    with open(f"/proc/{pid}/cgroup") as f:
        path = f.read().split("::", 1)[1].strip()
    parts = path.strip("/").split("/")
    return parts[-2], parts[-1]


class Slice:
    """A slice of the tests' own, the cgroup parent of their containers; stopping it stops all below."""

    def __init__(self, name):
        self.path = name                               # what a client is given as its cgroup parent
        self.dir = os.path.join(ROOT, slice_path(name))

    def units(self):
        try:
            return sorted(e for e in os.listdir(self.dir) if e.endswith((".scope", ".slice")))
        except FileNotFoundError:
            return []

    children = units     # what the clients' leftover checks ask of a cgroup parent (as OwnCgroup)

    def remove(self, keep_top=False, timeout=30):
        """Stop every unit in the slice (and the slice, unless keep_top); returns what is left."""
        for unit in self.units():
            systemctl("stop", unit, check=False)
        if not keep_top:
            systemctl("stop", self.path, check=False)
        deadline = time.monotonic() + timeout
        while self.units() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.units()


class Node:
    """The node the tests run on: slices handed out by tag, all stopped at the end."""

    def __init__(self, tag):
        self.tag = tag
        self.slices = []

    def slice(self, name):
        s = Slice(f"pyrunc{self.tag}-{name}.slice")
        self.slices.append(s)
        return s

    def close(self):
        return [u for s in self.slices for u in s.remove()]
