"""cgroup v2 (unified) driver (CLI process)."""
import time

from pyrunc import oslite  # posix without os.py: see oslite
from pyrunc.cgroups.driver import no_freezer, sub_cgroup
from pyrunc.cgroups.fscommon import Cgroupfs, page_sizes, read, resolve, write, write_quiet
from pyrunc.errors import Error, Problem


class V2Manager(Cgroupfs):
    """The container's directory in the single cgroup2 hierarchy."""

    name = "fs2"

    @classmethod
    def new(cls, cgroups_path, cid, hierarchies, resources, cgroupns):
        return cls(resolve(cgroups_path, cid, hierarchies), resources)

    @classmethod
    def from_state(cls, state):
        return cls(state["dirs"], state.get("resources"))

    @property
    def dir(self):
        return self.dirs.get("", "")

    def join_files(self, subs=None):
        # "0" into cgroup.procs moves the writer's whole thread group
        subs = dict(subs or {})
        sub = subs.pop("", None)
        if subs:
            raise Error("--cgroup: controller:path is only for cgroup v1 hosts (cgroup v2 has one hierarchy)")
        return [oslite.path.join(sub_cgroup(self.dir, sub) if sub else self.dir, "cgroup.procs")]

    def main_dir(self):
        return self.dir

    def dir_of(self, ctrl):
        return self.dir

    def controllers(self):
        return ()     # resources.plan only checks v1 hierarchies

    def _prepare(self, key, d):
        _enable_controllers(d)

    def _apply_devices(self, insns):
        from pyrunc.cgroups import devices, ebpf
        fd = oslite.open(self.dir, oslite.O_DIRECTORY | oslite.O_RDONLY | oslite.O_CLOEXEC)
        try:
            ebpf.install(fd, devices.encode(insns))
        except OSError as e:
            raise Error(f"cannot install the device filter on {self.dir}: {e.strerror}") from None
        finally:
            oslite.close(fd)

    def _unavailable(self, plan, inherited):
        from pyrunc.cgroups.resources import BY_LINE, MISSING_OK
        parent = inherited(oslite.path.dirname(self.dir))
        have = _delegable(parent, _root_of(parent))
        out = []
        for _ctrl, file, _value, flags, hint in plan.writes:
            ctrl = file.partition(".")[0]
            if flags & MISSING_OK or ctrl == "cgroup" or ctrl in have:
                continue
            out.append(Problem("/linux/resources", hint if flags & BY_LINE and hint else
                               f"cannot set {file}: the {ctrl} controller is not available below {parent}"))
        return out

    # -- processes -------------------------------------------------------
    def kill_all(self, sig):
        if not (sig == 9 and self._cgroup_kill()):
            super().kill_all(sig)

    def signal_all(self, sig):
        if not (sig == 9 and self._cgroup_kill()):
            super().signal_all(sig)

    def _cgroup_kill(self):
        """cgroup.kill (5.14+): SIGKILL the whole subtree atomically, tasks forking meanwhile included."""
        try:
            write(oslite.path.join(self.dir, "cgroup.kill"), "1")
        except FileNotFoundError:
            return not oslite.path.isdir(self.dir)   # no cgroup left: nothing to kill
        return True

    # -- freezer ---------------------------------------------------------
    def freezer(self):
        # cgroup.freeze exists in every non-root cgroup since Linux 5.2
        if not self.dir:
            return None
        return (oslite.path.join(self.dir, "cgroup.freeze"), "0", "1", oslite.path.join(self.dir, "cgroup.events"),
                "frozen 1")

    def freeze(self, quiet=False):
        path = oslite.path.join(self.dir, "cgroup.freeze")
        if not oslite.path.exists(path):
            return no_freezer(quiet)
        write(path, "1")
        # the write only starts freezing: cgroup.events says when every task is frozen
        deadline = time.monotonic() + 10
        while "frozen 1" not in (read(oslite.path.join(self.dir, "cgroup.events")) or ""):
            if time.monotonic() > deadline:
                write(path, "0")
                raise Error("timeout of 10s reached waiting for the cgroup to freeze")
            time.sleep(0.001)
        return True

    def thaw(self):
        write_quiet(oslite.path.join(self.dir, "cgroup.freeze"), "0")

    # -- statistics ------------------------------------------------------
    def stats(self):
        from pyrunc.cgroups import stats
        return stats.v2(lambda _ctrl, f: read(oslite.path.join(self.dir, f)), page_sizes())

    def oom_kills(self):
        from pyrunc.cgroups.stats import oom_kills
        return oom_kills(read(oslite.path.join(self.dir, "memory.events")))

    def oom_watch(self):
        """memory.events, which the kernel marks for poll() (POLLPRI) on every change."""
        try:
            return oslite.open(oslite.path.join(self.dir, "memory.events"), oslite.O_RDONLY | oslite.O_CLOEXEC), "poll"
        except FileNotFoundError:
            return None


def _root_of(d):
    """The root of the cgroup2 hierarchy holding `d` (whose parent has no cgroup.controllers)."""
    while oslite.path.exists(oslite.path.join(oslite.path.dirname(d), "cgroup.controllers")):
        d = oslite.path.dirname(d)
    return d


def _words(d, file):
    return set((read(oslite.path.join(d, file)) or "").split())


def _refuses(p, root):
    """A cgroup holding processes refuses to delegate controllers (no internal processes: EBUSY), but the root."""
    return p != root and bool((read(oslite.path.join(p, "cgroup.procs")) or "").strip())


def _delegable(p, root):
    """Controllers the children of `p` get once _enable_controllers has run."""
    return _words(p, "cgroup.subtree_control" if _refuses(p, root) else "cgroup.controllers")


def _enable_controllers(d):
    """Delegate every controller down to the container's parent, as runc's CreateCgroupPath does.

    A write to cgroup.subtree_control takes the global threadgroup rwsem for
    writing (an RCU grace period, ~10 ms), so an ancestor that already
    delegates everything it can is only read.  Ancestors that hold processes
    refuse (no internal processes), which is fine: runc ignores that too.
    """
    root = _root_of(d)
    wanted = _words(root, "cgroup.controllers")
    chain = []
    p = d
    while p != root:
        p = oslite.path.dirname(p)
        chain.append(p)
    for p in reversed(chain):
        missing = sorted((wanted & _words(p, "cgroup.controllers")) - _words(p, "cgroup.subtree_control"))
        if not missing or _refuses(p, root):
            continue
        ctl = oslite.path.join(p, "cgroup.subtree_control")
        try:
            write(ctl, " ".join("+" + c for c in missing))
        except OSError:
            for c in missing:
                try:
                    write(ctl, "+" + c)
                except OSError:
                    pass
