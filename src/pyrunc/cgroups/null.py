"""The manager for hosts without any cgroup filesystem (CLI process): nothing to create or join."""
from pyrunc.cgroups.base import Manager


class NullManager(Manager):
    driver = "none"

    def create(self):
        return []

    def pids(self):
        return []

    def destroy(self, timeout=0):
        pass
