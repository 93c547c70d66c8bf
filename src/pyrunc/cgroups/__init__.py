"""The cgroup driver factory (CLI process): a driver (cgroups.driver) by name, for create and from state.json.

Import-light: kill and delete load only the driver their state.json names.
"""
from pyrunc.errors import Error

# state.json's driver name -> (module of this package, class)
DRIVERS = {"fs1": ("fs1", "V1Manager"), "fs2": ("fs2", "V2Manager"), "none": ("null", "NullManager"),
           "systemd": ("systemd", "SystemdManager")}
# the host's cgroup layout (cgroups.detect) -> the name of the driver that manages it
BY_LAYOUT = {"legacy": "fs1", "hybrid": "fs1", "unified": "fs2", "none": "none"}


def driver_class(name):
    """The driver class called `name`: an unknown name is an error, never a driver that does nothing."""
    if name not in DRIVERS:
        raise Error(f"unknown cgroup driver {name!r} (this pyrunc knows {', '.join(sorted(DRIVERS))})")
    module, cls = DRIVERS[name]
    return getattr(__import__(f"pyrunc.cgroups.{module}", fromlist=[cls]), cls)


def new(cgroups_path, cid, layout, systemd=False, resources=None, cgroupns=False, rootless=False,
        annotations=None):
    """The driver of a new container on a host with this layout (runc's manager.New); creates nothing
    (but the systemd driver of a rootless container asks the user's systemd where its units live)."""
    if systemd:
        from pyrunc.cgroups.systemd import new_driver
        return new_driver(cgroups_path, cid, layout, resources or {}, rootless, annotations)
    mode, hierarchies = layout
    return driver_class(BY_LAYOUT[mode]).new(cgroups_path, cid, hierarchies, resources or {}, cgroupns)


def from_state(state):
    """The driver create recorded in state.json (Driver.to_state)."""
    return driver_class(state.get("driver")).from_state(state)

