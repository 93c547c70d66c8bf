"""cgroup v1 driver, for legacy and hybrid hosts (CLI process)."""
import os

from pyrunc.cgroups.base import Manager


class V1Manager(Manager):
    """One directory per v1 hierarchy; on hybrid hosts also the cgroup2 one (key ""), as runc."""

    driver = "fs1"

    def join_files(self):
        # v1 "tasks" moves only the writing thread; for our single-threaded
        # init that is the whole process, and with pid 0 the kernel skips the
        # threadgroup rwsem (no RCU grace period: ~0.4 ms instead of ~14 ms).
        return [os.path.join(d, "tasks" if key else "cgroup.procs") for key, d in self.dirs.items()]

    def main_dir(self):
        for key in ("pids", "freezer", "memory"):
            for k, d in self.dirs.items():
                if key in k.split(","):
                    return d
        return super().main_dir()

    def _prepare(self, key, d):
        if "cpuset" in key.split(","):
            _inherit_cpuset(d)


def _inherit_cpuset(d):
    """A new v1 cpuset starts empty and refuses tasks: copy cpus/mems down from the nearest set parent."""
    chain = []
    p = d
    while True:
        cpus = _read(os.path.join(p, "cpuset.cpus"))
        if cpus is None or cpus:
            break
        chain.append(p)
        p = os.path.dirname(p)
    for child in reversed(chain):
        parent = os.path.dirname(child)
        for f in ("cpuset.cpus", "cpuset.mems"):
            v = _read(os.path.join(parent, f))
            if v:
                with open(os.path.join(child, f), "w") as out:
                    out.write(v)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None
