"""The manager for hosts without any cgroup filesystem (CLI process): nothing to create, join or limit."""
from pyrunc import log
from pyrunc.cgroups.base import Manager


class NullManager(Manager):
    driver = "none"

    def create(self, linux_devices=()):
        self.apply(self.resources)
        return []

    def apply(self, res, skip_devices=False, linux_devices=()):
        if any(v for k, v in res.items() if k != "devices"):
            log.warning("no cgroup filesystem is mounted: the resource limits are not applied")
        self.resources = res

    def pids(self):
        return []

    def destroy(self, timeout=0):
        pass
