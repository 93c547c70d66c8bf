"""Kubernetes' path: a CRI runtime handler (runtime_type io.containerd.runc.v2, BinaryName = the runtime under test) driven by crictl."""
import json

import pytest

from tests.support.containerd import CRI_NS
from tests.support.cri import Pod, inspect, inspect_pid, wait_state
from tests.support.owncgroup import cgroup_file

pytestmark = [pytest.mark.agnostic, pytest.mark.slow]

LONG = "trap 'exit 42' TERM; echo started; while :; do sleep 1; done"


def test_pod_container_exec_stop_remove(cri, tmp_path):
    pod = Pod(cri, tmp_path, "life")
    info = json.loads(cri.crictl("inspectp", "-o", "json", pod.id).stdout)
    assert info["status"]["state"] == "SANDBOX_READY"
    assert info["status"]["runtimeHandler"] == cri.handler
    # the sandbox is the runtime's: its state under the shim's --root for CRI's namespace
    st = cri.runtime_cmd("state", pod.id, namespace=CRI_NS)
    assert st.returncode == 0 and json.loads(st.stdout)["status"] == "running", st.stderr

    cid = pod.container("long", "sh", "-c", LONG)
    wait_state(cri, cid, "CONTAINER_RUNNING")
    assert json.loads(cri.runtime_cmd("state", cid, namespace=CRI_NS).stdout)["status"] == "running"

    # ExecSync (the runtime's `exec --process F --detach --pid-file P`, stdin /dev/null)
    p = cri.crictl("exec", "-s", cid, "sh", "-c", "echo exec-sync; cat /proc/1/cmdline")
    # the pod shares one pid namespace (CRI's default): its pid 1 is the sandbox's pause process
    assert p.stdout.split("\n")[:2] == ["exec-sync", "/bin/sleep\x002147483647\x00"]
    p = cri.crictl("exec", "-s", cid, "sh", "-c", "exit 4", check=False)
    assert p.returncode != 0 and "exited with 4" in p.stderr, p.stderr
    # streaming Exec, through containerd's streaming server on 127.0.0.1
    p = cri.crictl("exec", cid, "sh", "-c", "echo exec-stream; exit 5", check=False)
    assert p.stdout == "exec-stream\n" and "command terminated with exit code 5" in p.stderr, p.stderr

    # StopContainer: SIGTERM (`kill ID 15`), the trap's exit code is what the kubelet would see
    cri.crictl("stop", "-t", "10", cid)
    status = inspect(cri, cid)
    assert (status["state"], status["exitCode"]) == ("CONTAINER_EXITED", 42)
    assert "started" in pod.log("long")
    cri.crictl("rm", cid)
    pod.remove()
    for x in (cid, pod.id):
        assert cri.runtime_cmd("state", x, namespace=CRI_NS).returncode != 0
    assert cri.runtime_state_dirs(CRI_NS) == []


def test_container_to_completion_with_log(cri, tmp_path):
    pod = Pod(cri, tmp_path, "done")
    cid = pod.container("once", "sh", "-c", "echo cri-hello; echo cri-err >&2; exit 3")
    wait_state(cri, cid, "CONTAINER_EXITED")
    assert inspect(cri, cid)["exitCode"] == 3
    lines = pod.log("once").splitlines()
    # CRI log format: <time> <stream> <F|P> <text>
    assert sorted(line.split(" ", 1)[1] for line in lines) == ["stderr F cri-err", "stdout F cri-hello"]
    cri.crictl("rm", cid)
    pod.remove()


def test_seccomp_runtime_default(cri, tmp_path):
    # seccomp RuntimeDefault (what the kubelet's SeccompDefault sets): containerd's default profile
    pod = Pod(cri, tmp_path, "sec")
    probe = "grep '^Seccomp:' /proc/self/status; unshare -U true && echo unshared || echo denied"
    sec = {"security_context": {"seccomp": {"profile_type": 0}}}   # 0: RuntimeDefault
    cid = pod.container("sec", "sh", "-c", probe, linux=sec)
    wait_state(cri, cid, "CONTAINER_EXITED")
    out = [line.split(" ", 3)[3] for line in pod.log("sec").splitlines() if " stdout " in line]
    assert out == ["Seccomp:\t2", "denied"]
    cri.crictl("rm", cid)
    pod.remove()


def test_stats(cri, tmp_path):
    pod = Pod(cri, tmp_path, "stats")
    cid = pod.container("busy", "sh", "-c", LONG)
    wait_state(cri, cid, "CONTAINER_RUNNING")
    stats = json.loads(cri.crictl("stats", "-o", "json", "--id", cid).stdout)["stats"]
    assert len(stats) == 1 and int(stats[0]["memory"]["workingSetBytes"]["value"]) > 0
    cri.crictl("stop", "-t", "10", cid)
    cri.crictl("rm", cid)
    pod.remove()


def test_update_resources(cri, tmp_path):
    pod = Pod(cri, tmp_path, "upd")
    cid = pod.container("res", "sh", "-c", LONG)
    wait_state(cri, cid, "CONTAINER_RUNNING")
    pid = inspect_pid(cri, cid)
    # UpdateContainerResources: the runtime's `update --resources -` with the JSON on stdin
    limit = 64 * 1024 * 1024
    cri.crictl("update", "--memory", limit, cid)
    with open(cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max")) as f:
        assert int(f.read()) == limit
    cri.crictl("stop", "-t", "10", cid)
    cri.crictl("rm", cid)
    pod.remove()


@pytest.mark.parametrize("pid", [1, 2], ids=["pod-pid", "host-pid"])
def test_pod_whose_container_leaves_a_background_process_stops(cri, tmp_path, pid):
    """A container without its own pid namespace (the pod's, or the host's) whose init exits and leaves
    a background process: the shim then sends `kill --all ID KILL` and waits for the container's
    output, which the leftover holds; the container must be reported exited and the pod stop and go
    (this hung while kill --all ignored stopped containers)."""
    pod = Pod(cri, tmp_path, f"bg{pid}", pid=pid)
    cid = pod.container("bg", "sh", "-c", "sleep 1000 & echo started", linux={
        "security_context": {"namespace_options": {"network": 2, "pid": pid}}})
    wait_state(cri, cid, "CONTAINER_EXITED")
    cri.crictl("rm", cid, timeout=60)
    cri.crictl("stopp", pod.id, timeout=60)
    cri.crictl("rmp", pod.id, timeout=60)
