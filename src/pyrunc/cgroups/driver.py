"""The cgroup driver interface (CLI process): what create, kill, delete, pause, update, ps and events ask of a driver.

A driver owns one container's cgroups.  fs1 (v1 and hybrid hosts), fs2
(pure cgroup v2), systemd (--systemd-cgroup on cgroup v2: cgroupsPath is
"slice:prefix:name", systemd makes and removes the unit in
create()/destroy()) and null (no cgroup filesystem) implement every method;
the factory (pyrunc.cgroups) picks one by name, and to_state()/from_state()
carry it from create to every later command, so that no command after
create re-detects the host.
"""
from abc import ABC, abstractmethod

from pyrunc.errors import Error


def sub_cgroup(base, sub):
    """base/sub, refused unless it stays below base (runc: "bad sub cgroup path")."""
    from pyrunc import oslite
    path = oslite.path.normpath(oslite.path.join(base, sub.lstrip("/")))
    if path != base and not path.startswith(base.rstrip("/") + "/"):
        raise Error(f"bad sub cgroup path: {sub}")
    return path


def no_freezer(quiet):
    """freeze() without a freezer: False when quiet (kill --all signals unfrozen), else runc's error."""
    if quiet:
        return False
    raise Error("cannot toggle freezer: cgroups not configured for container")


class Driver(ABC):
    """One container's cgroups.

    `dirs` maps a hierarchy key (comma-joined v1 controllers, "" for cgroup2)
    to the container's directory in it; `resources` are the LinuxResources
    last applied.
    """

    name = ""   # how state.json names the driver (the factory's key)

    def __init__(self, dirs, resources=None):
        self.dirs = dict(dirs)
        self.resources = resources or {}

    # -- state ------------------------------------------------------------
    @classmethod
    @abstractmethod
    def new(cls, cgroups_path, cid, hierarchies, resources, cgroupns):
        """The driver of a new container: its directories from cgroupsPath (or the id) on these hierarchies.

        `hierarchies` are cgroups.detect's [(key, mountpoint, mount root, own
        path)]; `cgroupns` says whether the container gets a cgroup namespace.
        Creates nothing.
        """

    @classmethod
    @abstractmethod
    def from_state(cls, state):
        """The driver to_state() recorded."""

    @abstractmethod
    def to_state(self):
        """Everything a later command needs, as JSON data.

        Holds "driver" (the name), "dirs", "resources" and "freezer": freezer()
        as a list, whose [file, content when thawed] says whether the container
        is paused (read by state.py and the front end without loading a
        driver), or None.
        """

    def update_files(self):
        """{flag of resources.FRONT_UPDATE: the file its value goes to} when writing it is all an
        update of that flag does (the front end's `update`, steps.update_sections); {} otherwise."""
        return {}

    # -- lifecycle -------------------------------------------------------
    @abstractmethod
    def create(self, linux_devices=(), pid=None):
        """Make the cgroups and apply the resources, before the init exists.

        pid: the first stage, which joins the cgroups next (the systemd driver
        starts the unit with it: systemd refuses a scope without a process).

        Refuses, leaving nothing behind (and owning nothing after), an existing
        cgroup that is frozen or holds processes, as runc does; every limit
        and the device filter then hold from the init's first instruction.
        """

    @abstractmethod
    def problems(self, linux_devices=()):
        """What create() would refuse, as [Problem], creating and writing nothing (`pyrunc check`)."""

    @abstractmethod
    def join_files(self, subs=None):
        """Files a process writes "0" into, to move itself into every cgroup of the container.

        subs: `exec --cgroup`'s sub-cgroups, {controller: path below the container's cgroup}
        ("" for every controller); Error for a controller or a path the container does not have."""

    @abstractmethod
    def destroy(self, timeout=5.0):
        """Remove the cgroups; what still runs in them is thawed and killed first."""

    # -- resources -------------------------------------------------------
    @abstractmethod
    def apply(self, res, skip_devices=False, linux_devices=()):
        """Write the LinuxResources `res` (runc's Set; `update` skips the devices); warnings go to the log."""

    @abstractmethod
    def dir_of(self, ctrl):
        """The directory holding controller `ctrl` ("" when there is none)."""

    # -- processes -------------------------------------------------------
    @abstractmethod
    def pids(self):
        """Host pids of every process in the container's cgroups and below."""

    @abstractmethod
    def signal_all(self, sig):
        """Send `sig` to every process in the cgroups."""

    @abstractmethod
    def kill_all(self, sig):
        """`kill --all`: signal every process, frozen meanwhile where possible so that none forks its way out."""

    # -- freezer ---------------------------------------------------------
    @abstractmethod
    def freeze(self, quiet=False):
        """Freeze every process: True once frozen; without a freezer False (quiet) or an Error."""

    @abstractmethod
    def thaw(self):
        """Let every process run again (nothing without a freezer)."""

    @abstractmethod
    def freezer(self):
        """(freezer file, its content when thawed, the text that freezes, the file that says when
        every task is frozen, its line then), or None without a freezer: the facts the front end's
        pause and resume are written from (steps.py)."""

    # -- statistics ------------------------------------------------------
    @abstractmethod
    def stats(self):
        """runc's stats object (cgroups.stats): cpu, memory, pids, blkio, hugetlb."""

    @abstractmethod
    def oom_kills(self):
        """How many processes the kernel's OOM killer has killed in the cgroup."""

    @abstractmethod
    def oom_watch(self):
        """(fd, kind) to wait on for OOM events, or None; kind is "eventfd" (read it) or "poll" (POLLPRI)."""
