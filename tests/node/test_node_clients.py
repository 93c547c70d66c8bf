"""containerd's CRI (1.6 and 2.x, SystemdCgroup = true) and podman (cgroup_manager = "systemd") on the node,
each with pyrunc and with runc side by side, AppArmor on (runs in the guest of `make test-node`).

What a kubeadm or podman host does: the runtime is called with
--systemd-cgroup and a `slice:prefix:name` cgroupsPath, each container is
a transient scope in its slice with its limits, the clients' default
AppArmor profiles confine it, and nothing is left once it is removed.  The
scopes, their properties and cgroup files are checked from outside, as an
administrator of the node would see them.
"""
import json
import os

import pytest

from tests.support import node as N
from tests.support import peers
from tests.support.clientfixtures import left_clean, running
from tests.support.containerd import Containerd
from tests.support.cri import Pod, inspect, inspect_pid, wait_state
from tests.support.helpers import read, wait_for
from tests.support.runtime import runtime_path

pytestmark = [pytest.mark.node, pytest.mark.slow]

RUNC = "/usr/sbin/runc"
LONG = "trap 'exit 42' TERM; echo started; while :; do sleep 1; done"
MiB = 1 << 20


def runtimes():
    return {"pyrunc": runtime_path(), "runc": RUNC}


@pytest.fixture(scope="module", params=sorted(peers.CONTAINERD), ids=lambda v: "containerd-" + v)
def containerd_node(request, busybox_image, tmp_path_factory):
    """One containerd per version, with a `pyrunc` and a `runc` CRI runtime handler, both with the systemd driver."""
    peer = peers.CONTAINERD[request.param].require()
    node = N.Node("ctrd" + request.param.replace(".", ""))
    c = Containerd(peer, runtime_path(), busybox_image, tmp_path_factory.mktemp("ctrd"), peers.crictl(),
                   handlers=runtimes(), node=node)
    yield from running(c, f"containerd {peer.label}", [node])


@pytest.fixture
def cri(containerd_node):
    yield from left_clean(containerd_node, f"containerd {containerd_node.peer.label}")


@pytest.fixture(scope="module", params=sorted(runtimes()))
def podman_node(request, busybox_image, tmp_path_factory):
    """A podman with the systemd cgroup manager, per runtime."""
    from tests.support.podman import Podman
    node = N.Node("pm" + request.param)
    pm = Podman(peers.podman(), runtimes()[request.param], busybox_image, tmp_path_factory.mktemp("podman"),
                node=node)
    yield from running(pm, "podman", [node])


@pytest.fixture
def podman(podman_node):
    yield from left_clean(podman_node, "podman")


def scope_dir(parent, unit):
    return os.path.join(parent.dir, unit)


def assert_gone(parent, unit):
    wait_for(lambda: not os.path.exists(scope_dir(parent, unit)), timeout=30, what=f"{unit} removed")
    assert N.properties(unit, "LoadState")["LoadState"] == "not-found"


@pytest.mark.parametrize("handler", ["pyrunc", "runc"])
def test_cri_pod_on_a_systemd_node(cri, tmp_path, handler):
    pod = Pod(cri, tmp_path, f"node-{handler}", handler=handler)
    cid = pod.container("web", "sh", "-c", LONG, linux={"resources": {
        "memory_limit_in_bytes": 64 * MiB, "cpu_period": 100000, "cpu_quota": 20000, "cpu_shares": 512}})
    wait_state(cri, cid, "CONTAINER_RUNNING")
    pid = inspect_pid(cri, cid)

    # the kubelet's systemd layout: <pod slice>:cri-containerd:<id> -> a scope in the (expanded) slice
    unit = f"cri-containerd-{cid}.scope"
    assert N.unit_of(pid) == (cri.cri_parent.path, unit)
    props = N.properties(unit, "ActiveState", "Slice", "Delegate", "MemoryMax", "CPUQuotaPerSecUSec")
    assert props == {"ActiveState": "active", "Slice": cri.cri_parent.path, "Delegate": "yes",
                     "MemoryMax": str(64 * MiB), "CPUQuotaPerSecUSec": "200ms"}
    d = scope_dir(cri.cri_parent, unit)
    assert read(f"{d}/memory.max").strip() == str(64 * MiB)
    assert read(f"{d}/cpu.max").strip() == "20000 100000"
    # the sandbox is a scope of its own in the same slice
    sandbox = f"cri-containerd-{pod.id}.scope"
    assert N.properties(sandbox, "ActiveState")["ActiveState"] == "active"

    # containerd's default AppArmor profile confines the container and what is exec'd in it
    # (the pod's pid 1 is the sandbox's pause, which containerd leaves unconfined)
    assert read(f"/proc/{pid}/attr/current").strip("\0\n") == "cri-containerd.apparmor.d (enforce)"
    p = cri.crictl("exec", "-s", cid, "cat", "/proc/self/attr/current")
    assert p.stdout.strip("\0\n") == "cri-containerd.apparmor.d (enforce)"
    assert "started" in cri.crictl("logs", cid).stdout
    stats = json.loads(cri.crictl("stats", "-o", "json", "--id", cid).stdout)["stats"]
    assert int(stats[0]["memory"]["workingSetBytes"]["value"]) > 0

    # UpdateContainerResources: the runtime's `update`, through systemd and the files
    cri.crictl("update", "--memory", 96 * MiB, cid)
    assert read(f"{d}/memory.max").strip() == str(96 * MiB)
    assert N.properties(unit, "MemoryMax")["MemoryMax"] == str(96 * MiB)

    cri.crictl("stop", "-t", "10", cid)
    status = inspect(cri, cid)
    assert (status["state"], status["exitCode"]) == ("CONTAINER_EXITED", 42)
    cri.crictl("rm", cid)
    pod.remove()
    for u in (unit, sandbox):
        assert_gone(cri.cri_parent, u)


def test_podman_on_a_systemd_node(podman):
    opts = podman.run_opts()
    cid = podman.podman_cmd("run", "-d", *opts, "--memory", "64m", "--name", "nodepm",
                            "localhost/pyrunc-test/busybox:latest", "sh", "-c", LONG).stdout.strip()
    pid = int(podman.podman_cmd("inspect", "--format", "{{.State.Pid}}", cid).stdout)
    unit = f"libpod-{cid}.scope"
    assert N.unit_of(pid) == (podman.cgroup.path, unit)
    props = N.properties(unit, "ActiveState", "Slice", "Delegate", "MemoryMax")
    assert props == {"ActiveState": "active", "Slice": podman.cgroup.path, "Delegate": "yes",
                     "MemoryMax": str(64 * MiB)}
    d = scope_dir(podman.cgroup, unit)
    assert read(f"{d}/memory.max").strip() == str(64 * MiB)

    # podman's default AppArmor profile, on the container and on exec
    first = read(f"/proc/{pid}/attr/current").strip("\0\n")
    second = podman.podman_cmd("exec", cid, "cat", "/proc/self/attr/current").stdout.strip("\0\n")
    assert first == second and first.startswith("containers-default-") and first.endswith(" (enforce)")

    podman.podman_cmd("pause", cid)
    assert read(f"{d}/cgroup.freeze").strip() == "1"
    assert podman.podman_cmd("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "paused"
    podman.podman_cmd("unpause", cid)
    assert read(f"{d}/cgroup.freeze").strip() == "0"

    podman.podman_cmd("stop", "-t", "10", cid)
    assert podman.podman_cmd("inspect", "--format", "{{.State.ExitCode}}", cid).stdout.strip() == "42"
    podman.podman_cmd("rm", cid)
    assert_gone(podman.cgroup, unit)
