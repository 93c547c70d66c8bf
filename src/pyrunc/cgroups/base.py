"""The cgroup Manager interface and the driver choice (CLI process); drivers live in fs1/fs2/null."""
import errno
from pyrunc import oslite as os  # posix without os.py: see oslite
import time

from pyrunc import log
from pyrunc.errors import Error


class Manager:
    """A container's cgroup in every hierarchy the driver uses.

    `dirs` maps a hierarchy key (comma-joined v1 controllers, "" for cgroup2)
    to the container's directory in it; `resources` are the LinuxResources
    last applied.  Everything a later CLI call needs is in to_state(), so
    `delete`, `kill`, `ps`, `update` and `events` never re-detect the host.
    """

    driver = "base"
    # file the single-threaded init writes "0" into to move itself (cheap:
    # no RCU grace period, unlike writing a pid from outside)
    SELF_JOIN = "cgroup.procs"

    def __init__(self, dirs, resources=None):
        self.dirs = dict(dirs)
        self.resources = resources or {}

    def to_state(self):
        return {"driver": self.driver, "dirs": self.dirs, "resources": self.resources}

    # -- lifecycle -------------------------------------------------------
    def create(self, linux_devices=()):
        """mkdir -p every directory, refuse a cgroup that already holds processes, apply the resources.

        Runs before the init exists, so every limit and the device filter
        hold from the init's first instruction inside the cgroup.
        """
        created = []
        try:
            for key, d in self.dirs.items():
                created.extend(self._mkdirs(d))
                self._prepare(key, d)
            if self.pids():
                raise Error(f"cgroup {self.main_dir()} is not empty: it already holds processes")
            self.apply(self.resources, linux_devices=linux_devices)
        except BaseException:
            for d in reversed(created):
                _rmdir(d)
            raise
        return created

    def _mkdirs(self, d):
        made = []
        todo = []
        p = d
        while not os.path.isdir(p):
            todo.append(p)
            p = os.path.dirname(p)
        for p in reversed(todo):
            try:
                os.mkdir(p, 0o755)
                made.append(p)
            except FileExistsError:
                pass
        return made

    def _prepare(self, key, d):
        """Per-hierarchy set-up after mkdir (cpuset inheritance on v1, controllers on v2)."""

    def join_files(self):
        """Files the init writes "0" into, to move itself into every hierarchy."""
        return [os.path.join(d, self.SELF_JOIN) for d in self.dirs.values()]

    def main_dir(self):
        return next(iter(self.dirs.values()), "")

    # -- resources -------------------------------------------------------
    def dir_of(self, ctrl):
        """The directory holding controller `ctrl` (v2: the only one)."""
        return self.dirs.get("", "")

    def controllers(self):
        return ()

    def apply(self, res, skip_devices=False, linux_devices=()):
        """Write `res` into the cgroup files (runc's Set); warnings go to the log."""
        from pyrunc.cgroups import resources
        facts = {}
        for ctrl, file in resources.probes(res, self.driver, skip_devices):
            facts[(ctrl, file)] = _read(os.path.join(self.dir_of(ctrl), file))
        plan = resources.plan(res, self.driver, facts, self.controllers(), skip_devices, linux_devices)
        for w in plan.warnings:
            log.warning(w)
        retry = []
        for op in plan.writes:
            if not self._write_op(op, retry_later=True):
                retry.append(op)
        for op in retry:
            self._write_op(op, retry_later=False)
        if plan.devices is not None:
            self._apply_devices(plan.devices)
        self.resources = res

    def _write_op(self, op, retry_later):
        from pyrunc.cgroups.resources import BY_LINE, MISSING_OK, READBACK, RETRY
        ctrl, file, value, flags, hint = op
        path = os.path.join(self.dir_of(ctrl), file)
        try:
            for chunk in ([x for x in value.split("\n") if x] or [value] if flags & BY_LINE else [value]):
                _write(path, chunk)
        except OSError as e:
            if e.errno == errno.ENOENT and flags & MISSING_OK:
                return True
            if e.errno == errno.EINVAL and flags & RETRY and retry_later:
                return False
            if flags & BY_LINE and hint and e.errno in (errno.ENOENT, errno.EPERM, errno.EACCES):
                raise Error(hint) from None
            raise Error(f"cannot write {value!r} to {path}: {e.strerror}") from None
        if flags & READBACK:
            got = int(_read(path) or 0)
            if int(value) != got:
                bound = "maximum" if int(value) > got else "minimum"
                raise Error(f"the {bound} allowed {hint} is {got}")
        return True

    # -- processes -------------------------------------------------------
    def pids(self):
        """Host pids of every process in the container's cgroup and below."""
        d = self.main_dir()
        out = []
        for root, _dirs, _files in os.walk(d):
            try:
                with open(os.path.join(root, "cgroup.procs")) as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
        return out

    def signal_all(self, sig):
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def kill_all(self, sig):
        """`kill --all`: frozen while signalled, as runc does, so that nothing forks its way out."""
        try:
            frozen = self.freeze(quiet=True)
        except Error as e:
            log.warning(f"kill --all: {e}; signalling without freezing")
            frozen = False
        try:
            self.signal_all(sig)
        finally:
            if frozen:
                self.thaw()

    # -- freezer ---------------------------------------------------------
    def freeze(self, quiet=False):
        """Freeze every process; False (quiet) or an error when there is no freezer."""
        if quiet:
            return False
        raise Error("cannot toggle freezer: cgroups not configured for container")

    def thaw(self):
        pass

    # -- statistics ------------------------------------------------------
    def stats(self):
        raise Error("no cgroup statistics: the container has no cgroups")

    def oom_kills(self):
        return 0

    def oom_watch(self):
        """(fd, kind) to wait on for OOM events, or None; kind is "eventfd" or "poll"."""
        return None

    # -- removal ---------------------------------------------------------
    def destroy(self, timeout=5.0):
        """Remove every directory; if some still hold processes or children: thaw, kill, remove bottom-up."""
        # the usual case, a stopped container: empty leaves that one rmdir each removes
        left = [d for d in self.dirs.values() if _rmdir(d)]
        if not left:
            return
        self.thaw()
        deadline = time.monotonic() + timeout
        while True:
            self.signal_all(9)
            busy = []
            for d in left:
                for root, dirs, _files in os.walk(d, topdown=False):
                    if _rmdir(root) == errno.EBUSY:
                        busy.append(root)
            if not busy:
                return
            if time.monotonic() > deadline:
                raise Error(f"cannot remove cgroup {busy[0]}: still busy")
            time.sleep(0.005)


_write = os.write_file


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _rmdir(d):
    try:
        os.rmdir(d)
    except FileNotFoundError:
        return 0
    except OSError as e:
        return e.errno
    return 0


def new(cgroups_path, cid, layout, systemd=False, resources=None, cgroupns=False):
    """The manager for a new container on a host with this layout (runc's manager.New)."""
    from pyrunc.cgroups import detect
    if systemd:
        raise Error(systemd_refusal(cgroups_path))
    mode, hierarchies = layout
    dirs = {h[0]: detect.resolve(cgroups_path, cid, h) for h in hierarchies}
    cls = _driver(mode)
    if cls.driver == "fs1":
        return cls(dirs, resources, join_unified=cgroupns)
    return cls(dirs, resources)


def systemd_refusal(cgroups_path):
    """Why --systemd-cgroup fails: pyrunc has no systemd driver (runc would ask systemd over D-Bus)."""
    if cgroups_path and len(cgroups_path.split(":")) != 3:
        return (f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
                f'got {cgroups_path!r} instead')
    return ("the systemd cgroup driver is not supported: run without --systemd-cgroup "
            "(containerd: SystemdCgroup = false) to use cgroupfs")


def from_state(state):
    """The manager recorded by create."""
    cls = _driver(state["driver"])
    if cls.driver == "fs1":
        return cls(state["dirs"], state.get("resources"), state.get("join_unified", True))
    return cls(state["dirs"], state.get("resources"))


def _driver(mode):
    if mode in ("legacy", "hybrid", "fs1"):
        from pyrunc.cgroups.fs1 import V1Manager
        return V1Manager
    if mode in ("unified", "fs2"):
        from pyrunc.cgroups.fs2 import V2Manager
        return V2Manager
    from pyrunc.cgroups.null import NullManager
    return NullManager
