"""cgroup v2 (unified) driver (CLI process)."""
from pyrunc.cgroups.base import Manager


class V2Manager(Manager):
    """The container's directory in the single cgroup2 hierarchy."""

    driver = "fs2"
