"""cgroup v2 (unified) driver (CLI process)."""
from pyrunc import oslite as os  # posix without os.py: see oslite
import time

from pyrunc.cgroups.base import Manager, _read, _write
from pyrunc.errors import Error


class V2Manager(Manager):
    """The container's directory in the single cgroup2 hierarchy."""

    driver = "fs2"

    @property
    def dir(self):
        return self.dirs[""]

    def _prepare(self, key, d):
        _enable_controllers(d)

    def _apply_devices(self, insns):
        from pyrunc.cgroups import devices, ebpf
        fd = os.open(self.dir, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            ebpf.install(fd, devices.encode(insns))
        except OSError as e:
            raise Error(f"cannot install the device filter on {self.dir}: {e.strerror}") from None
        finally:
            os.close(fd)

    def kill_all(self, sig):
        if not (sig == 9 and self._cgroup_kill()):
            super().kill_all(sig)

    def signal_all(self, sig):
        if not (sig == 9 and self._cgroup_kill()):
            super().signal_all(sig)

    def _cgroup_kill(self):
        """cgroup.kill (5.14+): SIGKILL the whole subtree atomically, tasks forking meanwhile included."""
        try:
            _write(os.path.join(self.dir, "cgroup.kill"), "1")
        except FileNotFoundError:
            return not os.path.isdir(self.dir)   # no cgroup left: nothing to kill
        return True

    # -- freezer ---------------------------------------------------------
    def freeze(self, quiet=False):
        path = os.path.join(self.dir, "cgroup.freeze")
        if not os.path.exists(path):
            return super().freeze(quiet)
        _write(path, "1")
        # the write only starts freezing: cgroup.events says when every task is frozen
        deadline = time.monotonic() + 10
        while "frozen 1" not in (_read(os.path.join(self.dir, "cgroup.events")) or ""):
            if time.monotonic() > deadline:
                _write(path, "0")
                raise Error("timeout of 10s reached waiting for the cgroup to freeze")
            time.sleep(0.001)
        return True

    def thaw(self):
        try:
            _write(os.path.join(self.dir, "cgroup.freeze"), "0")
        except OSError:
            pass

    # -- statistics ------------------------------------------------------
    def stats(self):
        from pyrunc.cgroups import stats
        from pyrunc.cgroups.fs1 import _page_sizes
        return stats.v2(lambda _ctrl, f: _read(os.path.join(self.dir, f)), _page_sizes())

    def oom_kills(self):
        from pyrunc.cgroups.stats import oom_kills
        return oom_kills(_read(os.path.join(self.dir, "memory.events")))

    def oom_watch(self):
        """memory.events, which the kernel marks for poll() (POLLPRI) on every change."""
        try:
            return os.open(os.path.join(self.dir, "memory.events"), os.O_RDONLY | os.O_CLOEXEC), "poll"
        except FileNotFoundError:
            return None


def _enable_controllers(d):
    """Delegate every controller down to the container's parent, as runc's CreateCgroupPath does.

    A write to cgroup.subtree_control takes the global threadgroup rwsem for
    writing (an RCU grace period, ~10 ms), so an ancestor that already
    delegates everything it can is only read.  Ancestors that hold processes
    refuse (no internal processes), which is fine: runc ignores that too.
    """
    root = d
    while os.path.exists(os.path.join(os.path.dirname(root), "cgroup.controllers")):
        root = os.path.dirname(root)
    wanted = set((_read(os.path.join(root, "cgroup.controllers")) or "").split())
    chain = []
    p = d
    while p != root:
        p = os.path.dirname(p)
        chain.append(p)
    for p in reversed(chain):
        have = set((_read(os.path.join(p, "cgroup.controllers")) or "").split())
        enabled = set((_read(os.path.join(p, "cgroup.subtree_control")) or "").split())
        missing = sorted((wanted & have) - enabled)
        if not missing or (p != root and (_read(os.path.join(p, "cgroup.procs")) or "").strip()):
            continue   # nothing to add, or a cgroup with processes, which would refuse (EBUSY)
        ctl = os.path.join(p, "cgroup.subtree_control")
        try:
            _write(ctl, " ".join("+" + c for c in missing))
        except OSError:
            for c in missing:
                try:
                    _write(ctl, "+" + c)
                except OSError:
                    pass
