"""cgroup v1 driver, for legacy and hybrid hosts (CLI process)."""
import time

from pyrunc import oslite  # posix without os.py: see oslite
from pyrunc.cgroups.driver import no_freezer, sub_cgroup
from pyrunc.cgroups.fscommon import Cgroupfs, page_sizes, read, resolve, write, write_quiet
from pyrunc.errors import Error, Problem


class V1Manager(Cgroupfs):
    """One directory per v1 hierarchy; on hybrid hosts also the cgroup2 one (key "").

    runc also moves the init into the hybrid host's cgroup2 hierarchy.  That
    write ("0" into cgroup.procs) takes the global cgroup_threadgroup_rwsem
    for writing, which waits for an RCU grace period: measured here 8.8-9.8
    ms on average (max 17-41) per create, while "0" into the v1 `tasks` files
    of all nine hierarchies costs 0.40-0.44 ms, and a pid written from
    outside 9.2-12.7 ms (max 40-47).  clone3(CLONE_INTO_CGROUP) costs 0.23 ms
    with the fork, but only a C child that execs can use it, and stage 2 must
    run Python (a second interpreter start costs 12-15 ms plus imports).  So
    the init joins cgroup2 only when that is observable: with a cgroup
    namespace, whose root is taken from the cgroups the init is in.  Hybrid
    hosts keep only hugetlb (here) or nothing in cgroup2, and pyrunc applies
    no limit there, so nothing else depends on it; the directory is still
    created (and bind-mounted when the container mounts its cgroups).
    """

    name = "fs1"

    def __init__(self, dirs, resources=None, join_unified=True):
        super().__init__(dirs, resources)
        self.join_unified = join_unified

    @classmethod
    def new(cls, cgroups_path, cid, hierarchies, resources, cgroupns):
        return cls(resolve(cgroups_path, cid, hierarchies), resources, join_unified=cgroupns)

    @classmethod
    def from_state(cls, state):
        return cls(state["dirs"], state.get("resources"), state.get("join_unified", True))

    def to_state(self):
        return dict(super().to_state(), join_unified=self.join_unified)

    def join_files(self, subs=None):
        # v1 "tasks" moves only the writing thread; for our single-threaded
        # stages that is the whole process, and with pid 0 the kernel skips the
        # threadgroup rwsem (no RCU grace period, see the class comment).
        subs = dict(subs or {})
        everywhere = subs.pop("", None)
        known = self.controllers()
        for ctrl in subs:
            if ctrl not in known:
                raise Error(f"unknown controller {ctrl} in --cgroup")
        out = []
        for key, d in self.dirs.items():
            if not key and not self.join_unified:
                continue
            sub = everywhere or next((subs[c] for c in key.split(",") if c in subs), None)
            out.append(oslite.path.join(sub_cgroup(d, sub) if sub else d, "tasks" if key else "cgroup.procs"))
        return out

    def main_dir(self):
        for key in ("pids", "freezer", "memory"):
            d = self._find(key)
            if d:
                return d
        return next(iter(self.dirs.values()), "")

    def _find(self, ctrl):
        for k, d in self.dirs.items():
            if k and ctrl in k.split(","):
                return d
        return None

    def dir_of(self, ctrl):
        return self._find(ctrl) or ""

    def controllers(self):
        return {c for k in self.dirs if k for c in k.split(",")}

    def _prepare(self, key, d):
        if "cpuset" in key.split(","):
            _inherit_cpuset(d)

    def _apply_devices(self, target):
        from pyrunc.cgroups import devices
        now = devices.from_list(read(oslite.path.join(self.dir_of("devices"), "devices.list")) or "")
        # a deny-list cannot be read back exactly (devices.list shows "a *:* rwm"), only its mode
        if now.default_allow != target.default_allow or (not target.default_allow and now != target):
            raise Error("the devices cgroup does not match the rules after writing them "
                        f"(devices.list of {self.dir_of('devices')})")

    def _unavailable(self, plan, inherited):
        from pyrunc.cgroups.resources import MISSING_OK
        out = []
        for ctrl, file, _value, flags, _hint in plan.writes:
            d = self.dir_of(ctrl)
            if not d or flags & MISSING_OK:
                continue    # a missing hierarchy is a problem of the plan already
            d = inherited(d)
            # a child has every file of its parent, but a hierarchy's root (the only cgroup with
            # cgroup.sane_behavior) lacks some (pids.max): nothing to compare with there
            if oslite.path.exists(oslite.path.join(d, "cgroup.sane_behavior")):
                continue
            if not oslite.path.exists(oslite.path.join(d, file)):
                out.append(Problem("/linux/resources", f"cannot set {file}: this kernel has no such file in {d}"))
        return out

    # -- freezer ---------------------------------------------------------
    def freezer(self):
        d = self._find("freezer")
        if d is None:
            return None
        path = oslite.path.join(d, "freezer.state")
        return (path, "THAWED", "FROZEN", path, "FROZEN")

    def freeze(self, quiet=False):
        d = self._find("freezer")
        if d is None:
            return no_freezer(quiet)
        path = oslite.path.join(d, "freezer.state")
        try:
            # runc's loop: a task forking while the cgroup freezes keeps it in
            # FREEZING; writing FROZEN again (and thawing now and then) gets through
            for i in range(1000):
                if i % 50 == 49:
                    write(path, "THAWED")
                    time.sleep(0.01)
                write(path, "FROZEN")
                if i % 25 == 24:
                    time.sleep(0.00001)
                state = (read(path) or "").strip()
                if state == "FROZEN":
                    return True
                if state != "FREEZING":
                    raise Error(f"unexpected freezer state {state!r} while freezing")
            raise Error("unable to freeze")
        except BaseException:
            write_quiet(path, "THAWED")
            raise

    def thaw(self):
        d = self._find("freezer")
        if d is not None:
            write_quiet(oslite.path.join(d, "freezer.state"), "THAWED")

    # -- statistics ------------------------------------------------------
    def stats(self):
        from pyrunc.cgroups import stats
        return stats.v1(lambda ctrl, f: read(oslite.path.join(self.dir_of(ctrl), f)) if self._find(ctrl) else None,
                        lambda ctrl: self._find(ctrl) is not None, page_sizes())

    def oom_kills(self):
        from pyrunc.cgroups.stats import oom_kills
        d = self._find("memory")
        return oom_kills(read(oslite.path.join(d, "memory.oom_control"))) if d else 0

    def oom_watch(self):
        """An eventfd the kernel signals on each OOM of the cgroup (and when the cgroup goes away)."""
        d = self._find("memory")
        if d is None:
            return None
        efd = oslite.eventfd(0, oslite.EFD_CLOEXEC)
        ofd = oslite.open(oslite.path.join(d, "memory.oom_control"), oslite.O_RDONLY | oslite.O_CLOEXEC)
        try:
            write(oslite.path.join(d, "cgroup.event_control"), f"{efd} {ofd}")
        except BaseException:
            oslite.close(efd)
            raise
        finally:
            oslite.close(ofd)
        return efd, "eventfd"


def _inherit_cpuset(d):
    """A new v1 cpuset starts empty and refuses tasks: copy cpus/mems down from the nearest set parent."""
    chain = []
    p = d
    while True:
        cpus = read(oslite.path.join(p, "cpuset.cpus"))
        if cpus is None or cpus.strip():
            break
        chain.append(p)
        p = oslite.path.dirname(p)
    for child in reversed(chain):
        parent = oslite.path.dirname(child)
        for f in ("cpuset.cpus", "cpuset.mems"):
            v = (read(oslite.path.join(parent, f)) or "").strip()
            if v:
                write(oslite.path.join(child, f), v)
