"""The cgroup driver factory (CLI process): a driver (cgroups.driver) by name, for create and from state.json.

Import-light: kill and delete load only the driver their state.json names.
"""
from pyrunc.errors import Error

# state.json's driver name -> (module of this package, class)
DRIVERS = {"fs1": ("fs1", "V1Manager"), "fs2": ("fs2", "V2Manager"), "none": ("null", "NullManager")}
# the host's cgroup layout (cgroups.detect) -> the name of the driver that manages it
BY_LAYOUT = {"legacy": "fs1", "hybrid": "fs1", "unified": "fs2", "none": "none"}


def driver_class(name):
    """The driver class called `name`: an unknown name is an error, never a driver that does nothing."""
    if name not in DRIVERS:
        raise Error(f"unknown cgroup driver {name!r} (this pyrunc knows {', '.join(sorted(DRIVERS))})")
    module, cls = DRIVERS[name]
    return getattr(__import__(f"pyrunc.cgroups.{module}", fromlist=[cls]), cls)


def new(cgroups_path, cid, layout, systemd=False, resources=None, cgroupns=False):
    """The driver of a new container on a host with this layout (runc's manager.New); creates nothing."""
    if systemd:
        raise Error(systemd_refusal(cgroups_path))   # a systemd driver would be chosen here
    mode, hierarchies = layout
    return driver_class(BY_LAYOUT[mode]).new(cgroups_path, cid, hierarchies, resources or {}, cgroupns)


def from_state(state):
    """The driver create recorded in state.json (Driver.to_state)."""
    return driver_class(state.get("driver")).from_state(state)


def systemd_refusal(cgroups_path):
    """Why --systemd-cgroup fails: pyrunc has no systemd driver (runc would ask systemd over D-Bus)."""
    if cgroups_path and len(cgroups_path.split(":")) != 3:
        return (f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
                f'got {cgroups_path!r} instead')
    return ("the systemd cgroup driver is not supported: run without --systemd-cgroup "
            "(containerd: SystemdCgroup = false) to use cgroupfs")
