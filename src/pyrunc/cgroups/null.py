"""The driver without cgroups (CLI process): hosts with no cgroup filesystem, rootless containers; nothing to make or limit."""
from pyrunc import log
from pyrunc.cgroups.driver import Driver, no_freezer
from pyrunc.errors import Error

NOT_APPLIED = "no cgroup filesystem is mounted: the resource limits are not applied"


class NullManager(Driver):
    name = "none"

    @classmethod
    def new(cls, cgroups_path, cid, hierarchies, resources, cgroupns):
        return cls({}, resources)

    @classmethod
    def from_state(cls, state):
        return cls({}, state.get("resources"))

    def to_state(self):
        return {"driver": self.name, "dirs": {}, "resources": self.resources, "freezer": None}

    def create(self, linux_devices=(), pid=None):
        self.apply(self.resources)

    def problems(self, linux_devices=()):
        return []

    def join_files(self, subs=None):
        if subs:
            raise Error("--cgroup: the container has no cgroups of its own (rootless)")
        return []

    def destroy(self, timeout=5.0):
        pass

    def apply(self, res, skip_devices=False, linux_devices=()):
        if _limits(res):
            log.warning(NOT_APPLIED)
        self.resources = res

    def dir_of(self, ctrl):
        return ""

    def pids(self):
        return []

    def signal_all(self, sig):
        pass

    def kill_all(self, sig):
        pass

    def freeze(self, quiet=False):
        return no_freezer(quiet)

    def thaw(self):
        pass

    def freezer(self):
        return None

    def stats(self):
        raise Error("no cgroup statistics: the container has no cgroups")

    def oom_kills(self):
        return 0

    def oom_watch(self):
        return None


def _limits(res):
    """Does `res` ask for a limit (the device rules are runc's defaults for every container)?"""
    return any(v for k, v in res.items() if k != "devices")
