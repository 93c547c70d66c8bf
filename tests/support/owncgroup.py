"""A cgroup of the tests' own in every hierarchy, for clients' cgroup parents; removed with all it holds (test process side)."""
import os
import signal
import time

ROOT = "/sys/fs/cgroup"


def hierarchies():
    """Mount points of the visible cgroup (v1) and cgroup2 filesystems under /sys/fs/cgroup.

    mountinfo also lists mounts that a later one covers (the host's, under the
    test sandbox's tmpfs on /sys/fs/cgroup): a later mount hides every earlier
    one at or below its mount point.
    """
    visible = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mp, fstype = left.split()[4], right.split()[0]
            visible = [m for m in visible if m != mp and not m.startswith(mp.rstrip("/") + "/")]
            if fstype in ("cgroup", "cgroup2") and (mp + "/").startswith(ROOT + "/"):
                visible.append(mp)
    return visible


def purge(tops, keep=(), timeout=10.0):
    """Thaw, kill every process in, and rmdir bottom-up every cgroup at or below tops (but those
    in keep), again until none is left or timeout has passed; returns those that would not go."""
    deadline = time.monotonic() + timeout
    while True:
        dirs = [dirpath for top in tops for dirpath, _, _ in os.walk(top, topdown=False)]
        for d in dirs:
            for knob, thawed in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                try:
                    with open(os.path.join(d, knob), "w") as f:
                        f.write(thawed)
                except OSError:
                    pass
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                pids = []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        left = []
        for d in dirs:
            if d in keep:
                continue
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(d)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


class OwnCgroup:
    """/NAME in every hierarchy: created here, so that a client's containers land below it."""

    def __init__(self, name):
        self.name = name.strip("/")
        self.dirs = []
        for mp in hierarchies():
            d = os.path.join(mp, self.name)
            os.mkdir(d)
            self.dirs.append(d)
            # a v1 cpuset child starts empty and refuses tasks: inherit the parent's
            for key in ("cpuset.cpus", "cpuset.mems"):
                if os.path.exists(os.path.join(mp, key)) and not os.path.exists(os.path.join(mp, "cgroup.subtree_control")):
                    with open(os.path.join(mp, key)) as src, open(os.path.join(d, key), "w") as dst:
                        dst.write(src.read().strip() or "\n")

    @property
    def path(self):
        return "/" + self.name

    def children(self):
        return sorted({os.path.relpath(dp, top) for top in self.dirs for dp, _, _ in os.walk(top) if dp != top})

    def remove(self, timeout=10.0, keep_top=False):
        """Thaw, kill what is left, rmdir bottom-up (all but /NAME with keep_top). Returns the dirs that would not go."""
        return purge(self.dirs, keep=self.dirs if keep_top else (), timeout=timeout)


def proc_cgroups(pid):
    """[(hierarchy id, controllers, path)] of a process, paths as this process's cgroup namespace sees them."""
    with open(f"/proc/{pid}/cgroup") as f:
        return [tuple(line.rstrip("\n").split(":", 2)) for line in f]


def cgroup_file(pid, ctrl, v1_name, v2_name):
    """Host path of one interface file of pid's cgroup: in ctrl's v1 hierarchy if there is one, else cgroup2."""
    entries = proc_cgroups(pid)
    for _, ctrls, path in entries:
        if ctrl in ctrls.split(","):
            return f"{ROOT}/{ctrl}{path}/{v1_name}"
    unified = next(mp for mp in hierarchies() if os.path.exists(os.path.join(mp, "cgroup.controllers")))
    path = next(p for h, _, p in entries if h == "0")
    return f"{unified}{path}/{v2_name}"
