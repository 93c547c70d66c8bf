"""cgroup v2 smoke test: a container lives in its own cgroup2 directory, and delete removes it (pure v2 host)."""
import os

import pytest

from tests.support.helpers import create, read, wait_for

pytestmark = [pytest.mark.cgroupv2, pytest.mark.agnostic]

CGROUP = "/pyrunc-v2smoke"     # absolute cgroupsPath: below the sandbox's cgroup namespace root


def test_container_in_its_cgroup2_directory(rt, bundle):
    directory = "/sys/fs/cgroup" + CGROUP
    bundle.config["linux"]["cgroupsPath"] = CGROUP
    # builtins only, so that cgroup.procs holds nothing but the container's PID 1
    bundle.set_args("sh", "-c", "while read l; do echo $l; done </proc/self/cgroup; stat -f -c %t /sys/fs/cgroup; "
                                "while read p; do echo procs $p; done </sys/fs/cgroup/cgroup.procs; "
                                "echo ready; exec sleep 60")
    p = create(rt, bundle, "v2smoke")
    pid = rt.state("v2smoke")["pid"]
    # outside, before start: the waiting init is already in the directory, and only it
    assert read(f"/proc/{pid}/cgroup") == f"0::{CGROUP}\n"
    assert read(directory + "/cgroup.procs").split() == [str(pid)]
    rt.run("start", "v2smoke")
    wait_for(lambda: "ready" in read(p.out_path), what="the container's report")
    # inside: one unified entry, at its cgroup namespace's root, and cgroup2 (CGROUP2_SUPER_MAGIC) at /sys/fs/cgroup
    assert read(p.out_path).splitlines() == ["0::/", "63677270", "procs 1", "ready"]
    assert read(directory + "/cgroup.procs").split() == [str(pid)]
    rt.run("kill", "v2smoke", "KILL")
    wait_for(lambda: rt.status("v2smoke") == "stopped", what="the container to stop")
    rt.run("delete", "v2smoke")
    assert not os.path.exists(directory)
