"""The cgroup Manager interface and the driver choice (CLI process); drivers live in fs1/fs2/null."""
import errno
import os
import time

from pyrunc.errors import Error


class Manager:
    """A container's cgroup in every hierarchy the driver uses.

    `dirs` maps a hierarchy key (comma-joined v1 controllers, "" for cgroup2)
    to the container's directory in it.  Everything a later CLI call needs is
    in to_state(), so `delete`, `kill` and `ps` never re-detect the host.
    """

    driver = "base"
    # file the single-threaded init writes "0" into to move itself (cheap:
    # no RCU grace period, unlike writing a pid from outside)
    SELF_JOIN = "cgroup.procs"

    def __init__(self, dirs):
        self.dirs = dict(dirs)

    def to_state(self):
        return {"driver": self.driver, "dirs": self.dirs}

    # -- lifecycle -------------------------------------------------------
    def create(self):
        """mkdir -p every directory; refuse a cgroup that already holds processes."""
        created = []
        for key, d in self.dirs.items():
            created.extend(self._mkdirs(d))
            self._prepare(key, d)
        if self.pids():
            for d in reversed(created):
                _rmdir(d)
            raise Error(f"cgroup {self.main_dir()} is not empty: it already holds processes")
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

    def add(self, pid):
        """Move a process from outside (costs an RCU grace period per write)."""
        for d in self.dirs.values():
            _write(os.path.join(d, "cgroup.procs"), str(pid))

    def main_dir(self):
        return next(iter(self.dirs.values()), "")

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

    def kill_all(self, sig):
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def destroy(self, timeout=5.0):
        """Kill what is left, then remove every directory bottom-up."""
        deadline = time.monotonic() + timeout
        while True:
            self.kill_all(9)
            busy = []
            for d in self.dirs.values():
                for root, dirs, _files in os.walk(d, topdown=False):
                    if _rmdir(root) == errno.EBUSY:
                        busy.append(root)
            if not busy:
                return
            if time.monotonic() > deadline:
                raise Error(f"cannot remove cgroup {busy[0]}: still busy")
            time.sleep(0.005)


def _write(path, value):
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _rmdir(d):
    try:
        os.rmdir(d)
    except FileNotFoundError:
        return 0
    except OSError as e:
        return e.errno
    return 0


def new(cgroups_path, cid, layout, systemd=False):
    """The manager for a new container on a host with this layout (runc's manager.New)."""
    from pyrunc.cgroups import detect
    if systemd:
        from pyrunc.errors import Unsupported
        raise Unsupported("the systemd cgroup driver is not supported yet (no --systemd-cgroup)")
    mode, hierarchies = layout
    dirs = {h[0]: detect.resolve(cgroups_path, cid, h) for h in hierarchies}
    return _driver(mode)(dirs)


def from_state(state):
    """The manager recorded by create."""
    return _driver(state["driver"])(state["dirs"])


def _driver(mode):
    if mode in ("legacy", "hybrid", "fs1"):
        from pyrunc.cgroups.fs1 import V1Manager
        return V1Manager
    if mode in ("unified", "fs2"):
        from pyrunc.cgroups.fs2 import V2Manager
        return V2Manager
    from pyrunc.cgroups.null import NullManager
    return NullManager
