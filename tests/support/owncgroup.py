"""A cgroup of the tests' own in every hierarchy, for clients' cgroup parents; removed with all it holds (test process side)."""
import os
import signal
import time

ROOT = "/sys/fs/cgroup"


def hierarchies():
    """Mount points of every cgroup (v1) and cgroup2 hierarchy under /sys/fs/cgroup (once each:
    mountinfo still lists those a later mount, e.g. the test sandbox's, stacked over)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mp, fstype = left.split()[4], right.split()[0]
            if fstype in ("cgroup", "cgroup2") and (mp + "/").startswith(ROOT + "/") and mp not in out:
                out.append(mp)
    return out


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

    def pids(self):
        pids = set()
        for top in self.dirs:
            for dirpath, _, _ in os.walk(top):
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
        return pids

    def children(self):
        return sorted({os.path.relpath(dp, top) for top in self.dirs for dp, _, _ in os.walk(top) if dp != top})

    def remove(self, timeout=10.0, keep_top=False):
        """Thaw, kill what is left, rmdir bottom-up (all but /NAME with keep_top). Returns the dirs that would not go."""
        deadline = time.monotonic() + timeout
        while True:
            for top in self.dirs:
                for dirpath, _, _ in os.walk(top, topdown=False):
                    for f, v in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                        try:
                            with open(os.path.join(dirpath, f), "w") as fh:
                                fh.write(v)
                        except OSError:
                            pass
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            left = []
            for top in self.dirs:
                for dirpath, _, _ in os.walk(top, topdown=False):
                    if keep_top and dirpath == top:
                        continue
                    try:
                        os.rmdir(dirpath)
                    except FileNotFoundError:
                        pass
                    except OSError:
                        left.append(dirpath)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)


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
