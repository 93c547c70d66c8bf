"""cgroupfs files and what fs1 and fs2 share (CLI process): directories made and removed, plans written, pids found.

The file helpers are public: every module of the package reads and writes
cgroup files through them.
"""
import errno
import time
from abc import abstractmethod

from pyrunc import oslite  # posix without os.py: see oslite
from pyrunc import log
from pyrunc.cgroups.driver import Driver
from pyrunc.errors import Error, Problem

write = oslite.write_file
CGROUPS_PATH = "/linux/cgroupsPath"


def read(path):
    """A cgroup file's text, or None when it cannot be read (absent controller, removed cgroup)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def write_quiet(path, value):
    """write(), for the writes whose failure changes nothing (thawing a cgroup that is gone)."""
    try:
        write(path, value)
    except OSError:
        pass


def rmdir(d):
    """Remove an empty cgroup: 0 when it is gone, else the errno (EBUSY: processes or children)."""
    try:
        oslite.rmdir(d)
    except FileNotFoundError:
        return 0
    except OSError as e:
        return e.errno
    return 0


def mkdirs(d):
    """mkdir -p: the directories made, parents first."""
    todo = []
    p = d
    while not oslite.path.isdir(p):
        todo.append(p)
        p = oslite.path.dirname(p)
    made = []
    for p in reversed(todo):
        try:
            oslite.mkdir(p, 0o755)
            made.append(p)
        except FileExistsError:
            pass
    return made


def existing(d):
    """`d`, or its nearest ancestor that exists: what a cgroup not yet made inherits from."""
    while d and d != "/" and not oslite.path.isdir(d):
        d = oslite.path.dirname(d)
    return d


def procs_below(d):
    """Host pids of every process in cgroup `d` and its descendants."""
    out = []
    for root, _dirs, _files in oslite.walk_no_follow(d):
        try:
            with open(oslite.path.join(root, "cgroup.procs")) as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def resolve(cgroups_path, cid, hierarchies):
    """{hierarchy key: the container's directory in it}, runc's cgroupfs reading of cgroupsPath."""
    from pyrunc.cgroups import detect
    return {h[0]: detect.resolve(cgroups_path, cid, h) for h in hierarchies}


def page_sizes():
    """The host's huge page sizes as the hugetlb files name them ("2MB", "1GB")."""
    from pyrunc.cgroups.stats import hugepage_sizes
    try:
        return hugepage_sizes(sorted(oslite.listdir("/sys/kernel/mm/hugepages")))
    except OSError:
        return []


class Cgroupfs(Driver):
    """A driver writing cgroupfs directly (runc's fs and fs2 managers): one directory per hierarchy."""

    def to_state(self):
        freezer = self.freezer()
        return {"driver": self.name, "dirs": self.dirs, "resources": self.resources,
                "freezer": list(freezer) if freezer else None}

    def update_files(self):
        from pyrunc.cgroups.resources import FRONT_UPDATE
        return {flag: oslite.path.join(self.dir_of(ctrl), file)
                for flag, (_section, _key, ctrl, file, _kind) in FRONT_UPDATE.items() if self.dir_of(ctrl)}

    # -- what each cgroupfs driver supplies --------------------------------
    @abstractmethod
    def main_dir(self):
        """The directory whose subtree holds every process of the container."""

    @abstractmethod
    def controllers(self):
        """The v1 controllers the container has a hierarchy for (resources.plan checks them)."""

    @abstractmethod
    def _prepare(self, key, d):
        """Set-up of a directory just made (cpuset inheritance on v1, controllers on v2)."""

    @abstractmethod
    def _apply_devices(self, target):
        """Install the device rules resources.plan computed (v1: check the writes, v2: the eBPF filter)."""

    @abstractmethod
    def _unavailable(self, plan, inherited):
        """[Problem] for the writes of `plan` no file would take (`check`); `inherited(d)` is existing()."""

    # -- lifecycle -------------------------------------------------------
    def create(self, linux_devices=(), pid=None):
        made = []
        try:
            refusals = self._refusals()
            if refusals:
                raise Error(refusals[0].message)
            for key, d in self.dirs.items():
                made.extend(mkdirs(d))
                self._prepare(key, d)
            self.apply(self.resources, linux_devices=linux_devices)
        except BaseException:
            for d in reversed(made):
                rmdir(d)
            self.dirs = {}     # what is left existed before: not ours to remove (destroy does nothing)
            raise

    def _refusals(self):
        """runc's refusals of an existing cgroup: one with processes, or frozen (the init would hang)."""
        out = []
        n = len(self.pids())
        if n:
            out.append(Problem(CGROUPS_PATH, f"container's cgroup is not empty: {n} process(es) found"))
        freezer = self.freezer()
        state = read(freezer[0]) if freezer else None
        if state is not None and state.strip() != freezer[1]:
            out.append(Problem(CGROUPS_PATH, "container's cgroup unexpectedly frozen"))
        return out

    def problems(self, linux_devices=()):
        # a cgroup not made yet inherits from its nearest existing ancestor: read the facts there
        found = self._refusals()
        plan = self._plan(self.resources, False, linux_devices, existing, found)
        return found + self._unavailable(plan, existing)

    def destroy(self, timeout=5.0):
        # the usual case, a stopped container: empty leaves that one rmdir each removes
        left = [d for d in self.dirs.values() if rmdir(d)]
        if not left:
            return
        self.thaw()
        deadline = time.monotonic() + timeout
        while True:
            self.signal_all(9)
            busy = []
            for d in left:
                for root, _dirs, _files in oslite.walk_no_follow(d, topdown=False):
                    if rmdir(root) == errno.EBUSY:
                        busy.append(root)
            if not busy:
                return
            if time.monotonic() > deadline:
                raise Error(f"cannot remove cgroup {busy[0]}: still busy")
            time.sleep(0.005)

    # -- resources -------------------------------------------------------
    def _plan(self, res, skip_devices, linux_devices, where=lambda d: d, problems=None):
        """resources.plan for `res`, its facts read in where(directory); problems as resources.plan."""
        from pyrunc.cgroups import resources
        facts = {}
        for ctrl, f in resources.probes(res, self.name, skip_devices):
            d = self.dir_of(ctrl)
            facts[(ctrl, f)] = read(oslite.path.join(where(d), f)) if d else None
        return resources.plan(res, self.name, facts, self.controllers(), skip_devices, linux_devices,
                              problems=problems)

    def apply(self, res, skip_devices=False, linux_devices=()):
        plan = self._plan(res, skip_devices, linux_devices)
        for w in plan.warnings:
            log.warning(w)
        retry = [op for op in plan.writes if not self._write_op(op, retry_later=True)]
        for op in retry:
            self._write_op(op, retry_later=False)
        if plan.devices is not None:
            self._apply_devices(plan.devices)
        self.resources = res

    def _write_op(self, op, retry_later):
        from pyrunc.cgroups.resources import BY_LINE, MISSING_OK, READBACK, RETRY
        ctrl, file, value, flags, hint = op
        path = oslite.path.join(self.dir_of(ctrl), file)
        try:
            for chunk in ([x for x in value.split("\n") if x] or [value] if flags & BY_LINE else [value]):
                write(path, chunk)
        except OSError as e:
            if e.errno == errno.ENOENT and flags & MISSING_OK:
                return True
            if e.errno == errno.EINVAL and flags & RETRY and retry_later:
                return False
            if flags & BY_LINE and hint and e.errno in (errno.ENOENT, errno.EPERM, errno.EACCES):
                raise Error(hint) from None
            raise Error(f"cannot write {value!r} to {path}: {e.strerror}") from None
        if flags & READBACK:
            got = int(read(path) or 0)
            if int(value) != got:
                bound = "maximum" if int(value) > got else "minimum"
                raise Error(f"the {bound} allowed {hint} is {got}")
        return True

    # -- processes -------------------------------------------------------
    def pids(self):
        return procs_below(self.main_dir()) if self.dirs else []

    def signal_all(self, sig):
        for pid in self.pids():
            try:
                oslite.kill(pid, sig)
            except ProcessLookupError:
                pass

    def kill_all(self, sig):
        # frozen while signalled, as runc does, so that nothing forks its way out
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
