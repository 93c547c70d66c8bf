"""The systemd cgroup driver (CLI process, --systemd-cgroup): a transient scope per container, as runc's systemd v2 driver.

systemd owns the container's cgroup: create() asks it for a unit
"<prefix>-<name>.scope" in the parent slice (StartTransientUnit with the
first stage's pid and Delegate=yes) and waits for the job; the limits go
to systemd as unit properties (sdunit.resources) and then, as runc's
driver does with the fs2 driver's Set, to the cgroup files (fs2), which
also hold what systemd has no property for and the eBPF device filter.
destroy() stops the unit and waits.  Everything else (pause, exec's join,
ps, stats) is the fs2 driver's on the unit's cgroup.  cgroup v1 hosts are
refused: runc's legacy systemd driver is not implemented.
"""
from pyrunc import log, oslite  # posix without os.py: see oslite
from pyrunc.cgroups import detect, sdunit
from pyrunc.cgroups.fs2 import V2Manager
from pyrunc.cgroups.fscommon import read
from pyrunc.errors import Error, Problem

RUN_SYSTEMD = "/run/systemd/system"    # sd_booted(3): the host was booted with systemd
NEWEST = 1 << 30                       # `check` asks no systemd: every property counts as known


def running_systemd():
    return oslite.path.isdir(RUN_SYSTEMD) and not oslite.path.islink(RUN_SYSTEMD)


def new_driver(cgroups_path, cid, layout, resources, rootless, annotations=None):
    """The systemd driver of a new container, after runc's checks in runc's order (manager.New)."""
    extra = sdunit.annotation_properties(annotations or {})
    sdunit.parse_path(cgroups_path, cid)       # its errors before the host's (runc's specconv)
    if not running_systemd():
        raise Error("systemd not running on this host, cannot use systemd cgroups manager")
    mode, hierarchies = layout
    if mode != detect.UNIFIED:
        raise Error(f"the systemd cgroup driver needs a cgroup v2 (unified) host; this one is {mode}: "
                    "run without --systemd-cgroup to use cgroupfs")
    mgr = SystemdManager.new(cgroups_path, cid, hierarchies, resources, False, rootless)
    mgr.extra = extra     # only create's StartTransientUnit uses them: not in the state
    return mgr


class SystemdManager(V2Manager):
    """The container's transient unit and its cgroup (dirs[""]), below the unified mount."""

    name = "systemd"

    def __init__(self, dirs, resources=None, unit="", parent="", cname="", rootless=False):
        super().__init__(dirs, resources)
        self.unit, self.parent, self.cname, self.rootless = unit, parent, cname, rootless
        self.extra = []
        self._bus = None

    def update_files(self):
        return {}     # an update also sets the unit's properties (TasksMax, AllowedCPUs...): Python's

    @classmethod
    def new(cls, cgroups_path, cid, hierarchies, resources, cgroupns, rootless=False):
        parent, prefix, name = sdunit.parse_path(cgroups_path, cid)
        mountpoint = hierarchies[0][1]
        unit = sdunit.unit_name(prefix, name)
        sliced = sdunit.expand_slice(parent or sdunit.default_slice(rootless))
        if rootless:
            # the user's manager runs in e.g. /user.slice/user-1000.slice/user@1000.service
            with _manager(True) as m:
                sliced = oslite.path.join(m.property("ControlGroup"), sliced.lstrip("/"))
        path = oslite.path.normpath(oslite.path.join(mountpoint, sliced.lstrip("/"), unit))
        if not path.startswith(mountpoint.rstrip("/") + "/"):
            raise Error(f"invalid unit name: {unit}")
        return cls({"": path}, resources, unit, parent, name, rootless)

    @classmethod
    def from_state(cls, state):
        sd = state.get("systemd", {})
        return cls(state["dirs"], state.get("resources"), sd.get("unit", ""), sd.get("parent", ""),
                   sd.get("name", ""), sd.get("rootless", False))

    def to_state(self):
        return dict(super().to_state(), systemd={
            "unit": self.unit, "parent": self.parent, "name": self.cname, "rootless": self.rootless})

    @property
    def bus(self):
        if self._bus is None:
            self._bus = _manager(self.rootless)
        return self._bus

    # -- lifecycle -------------------------------------------------------
    def create(self, linux_devices=(), pid=None):
        refusals = self._refusals()
        if refusals:
            self.dirs, self.unit = {}, ""      # someone else's cgroup: never ours to stop
            raise Error(refusals[0].message)
        props = sdunit.start_properties(self.unit, self.cname, self.parent, self.rootless, pid, self.extra)
        try:
            self.bus.start_unit(self.unit, props)
        except Error as e:
            raise Error(f"unable to start unit {sdunit.quote(self.unit)} (properties {sdunit.show(props)}): {e}") \
                from None
        try:
            if not oslite.path.isdir(self.dir):
                raise Error(f"systemd started {self.unit} but its cgroup {self.dir} does not exist")
            self._prepare("", self.dir)       # the controllers delegated down to it (runc: fs2.CreateCgroupPath)
            self.apply(self.resources, linux_devices=linux_devices)
        except BaseException:
            log.quietly(self.destroy)
            self.dirs, self.unit = {}, ""
            raise

    def problems(self, linux_devices=()):
        out = []
        try:
            sdunit.resources(self.resources, NEWEST, linux_devices=linux_devices, proc_devices=_proc_devices())
        except Error as e:
            out.append(Problem("/linux/resources", str(e)))
        return out + super().problems(linux_devices)

    def destroy(self, timeout=5.0):
        """Stop the unit and wait; what still runs in it is thawed and killed first, so that
        systemd's stop does not wait TimeoutStopSec for a SIGTERM nobody handles."""
        if not self.unit:
            return
        if oslite.path.isdir(self.dir):
            self.thaw()
            self.signal_all(9)
        self.bus.stop_unit(self.unit)
        super().destroy(timeout)            # sub-cgroups systemd left (runc: systemd 239)

    # -- resources -------------------------------------------------------
    def _apply_devices(self, insns):
        try:
            super()._apply_devices(insns)
        except Error:
            if not self.rootless:    # runc's fs2: a device filter is not expected to work rootless
                raise

    def apply(self, res, skip_devices=False, linux_devices=()):
        props = sdunit.resources(res, self.bus.version(), skip_devices, linux_devices, _proc_devices(),
                                 oslite.path.exists, log.warning)
        self.bus.set_properties(self.unit, props)
        super().apply(res, skip_devices, linux_devices)


def _manager(rootless):
    from pyrunc.cgroups.sdbus import Manager
    return Manager(rootless)


def _proc_devices():
    return read("/proc/devices") or ""
