"""containerd (1.6 from Debian, 2.x from the Go module proxy) runs containers with the runtime under test through `ctr run --runc-binary`."""
import json
import os
import subprocess

import pytest

from tests.support.containerd import IMAGE
from tests.support.helpers import proc_status, wait_for
from tests.support.owncgroup import cgroup_file, hierarchies, proc_cgroups
from tests.support.ptyrun import run_on_pty

pytestmark = [pytest.mark.agnostic, pytest.mark.slow]

LONG = "trap 'exit 42' TERM; while :; do sleep 1; done"


def run(c, cid, *cmd, opts=(), **kw):
    return c.ctr("run", "--rm", "--runc-binary", c.runtime, *opts, IMAGE, cid, *cmd, check=False, **kw)


def run_detached(c, cid, *cmd, opts=()):
    c.ctr("run", "-d", "--null-io", "--runc-binary", c.runtime, *opts, IMAGE, cid, *cmd)
    wait_for(lambda: c.task_status(cid) == "RUNNING", what=f"{cid} RUNNING")
    return c.task_pid(cid)


def remove(c, cid):
    c.ctr("task", "kill", "-s", "SIGKILL", cid, check=False)
    wait_for(lambda: c.task_status(cid) in ("STOPPED", None), what=f"{cid} to stop")
    c.ctr("task", "delete", cid, check=False)
    c.ctr("container", "delete", cid)


def attached(c, cid, *cmd):
    """`ctr run` in the foreground (its exit code is the container's), once the task runs."""
    p = subprocess.Popen(c.ctr_argv("run", "--rm", "--runc-binary", c.runtime, IMAGE, cid, *cmd),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: c.task_status(cid) == "RUNNING" or p.poll() is not None, what=f"{cid} RUNNING")
    except BaseException:
        p.kill()
        p.communicate()
        raise
    return p


def exec_quick(c, exec_id, cid, *cmd, input=None):
    """`ctr task exec` of a process that exits at once, as ctr printed its output.

    ctr before containerd's "ctr: drain exec output before cleanup" (3778cc36f,
    2026; 1.6 here) deletes the finished process without waiting for its
    output: the delete cancels ctr's FIFO readers, and now and then (1 exec
    in 150-300 here, with runc as with pyrunc) ctr prints nothing of what
    the process wrote.  Such a run (no output at all) is run again; a runtime
    that loses the output loses it every time."""
    for _ in range(3):
        p = c.ctr("task", "exec", "--exec-id", exec_id, cid, *cmd, check=False, input=input)
        if p.stdout or p.stderr:
            break
    return p


def read(path):
    with open(path) as f:
        return f.read().strip()


def test_run_output_and_exit_code(ctrd):
    p = run(ctrd, "run1", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7")
    # exactly the container's output: the runtime printed nothing into it during create/start
    assert (p.returncode, p.stdout, p.stderr) == (7, "to-stdout\n", "to-stderr\n")


def test_detached_task_is_the_runtimes(ctrd):
    pid = run_detached(ctrd, "det", "sh", "-c", LONG)
    st = ctrd.runtime_cmd("state", "det")
    assert st.returncode == 0, st.stderr          # the runtime under test holds it, not a runc from PATH
    state = json.loads(st.stdout)
    assert (state["status"], state["pid"]) == ("running", pid)
    parent = int(proc_status(pid)["PPid"])
    with open(f"/proc/{parent}/comm") as f:
        assert f.read().strip().startswith("containerd-shim")   # reparented to the shim, which reaps it
    assert sorted(os.listdir(f"/proc/{pid}/fd"), key=int) == ["0", "1", "2"]   # not the shim's fd 3
    # the pid file the shim reads right after create: decimal, no newline (it parses it with Atoi)
    with open(os.path.join(ctrd.bundle("det"), "init.pid")) as f:
        assert f.read() == str(pid)
    remove(ctrd, "det")


def test_exec(ctrd):
    pid = run_detached(ctrd, "ex", "sh", "-c", LONG)
    p = exec_quick(ctrd, "e1", "ex", "sh", "-c",
                   "echo exec-out; cat /proc/1/comm; readlink /proc/self/ns/pid; ls /proc/self/fd; exit 3")
    # exactly the process's output and exit code: nothing from the runtime in between
    assert (p.returncode, p.stderr) == (3, "")
    out = p.stdout.split()
    assert out[:2] == ["exec-out", "sh"]
    assert out[2] == os.readlink(f"/proc/{pid}/ns/pid")
    assert out[3:] == ["0", "1", "2", "3"]         # its stdio, and ls's own directory fd
    p = exec_quick(ctrd, "e2", "ex", "cat", input="stdin-data\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "stdin-data\n"
    remove(ctrd, "ex")


def test_exec_tty(ctrd):
    run_detached(ctrd, "ext", "sh", "-c", LONG)
    rc, out = run_on_pty(ctrd.ctr_argv("task", "exec", "-t", "--exec-id", "t1", "ext", "sh", "-c",
                                       "tty; echo exec-tty-ok; exit 6"))
    assert rc == 6, out
    lines = out.split()
    assert lines[0].startswith("/dev/pts/") and "exec-tty-ok" in lines
    remove(ctrd, "ext")


def test_tty_container(ctrd):
    rc, out = run_on_pty(ctrd.ctr_argv("run", "-t", "--rm", "--runc-binary", ctrd.runtime, IMAGE, "tty1",
                                       "sh", "-c", "tty; echo tty-ok; exit 5"))
    assert rc == 5, out
    assert out.split()[:2] == ["/dev/pts/0", "tty-ok"]


def test_kill_term_exit_code(ctrd):
    p = attached(ctrd, "term", "sh", "-c", LONG)
    ctrd.ctr("task", "kill", "-s", "SIGTERM", "term")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 42, err


def test_kill_kill_exit_code(ctrd):
    p = attached(ctrd, "kill9", "sleep", "1000")
    ctrd.ctr("task", "kill", "-s", "SIGKILL", "kill9")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 137, err


def test_kill_detached_then_delete_reports_exit_code(ctrd):
    run_detached(ctrd, "kd", "sh", "-c", LONG)
    ctrd.ctr("task", "kill", "-s", "SIGTERM", "kd")
    wait_for(lambda: ctrd.task_status("kd") == "STOPPED", what="kd STOPPED")
    p = ctrd.ctr("task", "delete", "kd")
    assert "exit code 42" in p.stdout + p.stderr
    ctrd.ctr("container", "delete", "kd")


def test_delete(ctrd):
    pid = run_detached(ctrd, "del", "sleep", "1000")
    assert ctrd.runtime_state_dirs() == ["del"]
    # delete -f of a running task: the shim sends `kill --all ID 9`, `delete`, then `delete --force`
    # of an already deleted container (which must succeed too)
    p = ctrd.ctr("task", "delete", "-f", "del")
    assert p.returncode == 0
    ctrd.ctr("container", "delete", "del")
    assert ctrd.task_status("del") is None
    st = ctrd.runtime_cmd("state", "del")
    assert st.returncode != 0 and "does not exist" in st.stderr
    assert ctrd.runtime_state_dirs() == []
    assert not os.path.exists(f"/proc/{pid}")


def test_create_error_surfaces(ctrd):
    p = run(ctrd, "noent", "/nonexistent")
    assert p.returncode != 0
    # the shim shows the last "level":"error" line of --log: the runtime's own one-line cause
    assert "OCI runtime create failed" in p.stderr and "unable to retrieve" not in p.stderr, p.stderr
    assert '"/nonexistent"' in p.stderr and "no such file or directory" in p.stderr, p.stderr
    ctrd.ctr("container", "delete", "noent", check=False)


def test_exec_error_surfaces(ctrd):
    run_detached(ctrd, "exbad", "sleep", "1000")
    p = ctrd.ctr("task", "exec", "--exec-id", "bad", "exbad", "/nonexistent", check=False)
    assert p.returncode != 0
    assert "OCI runtime exec failed" in p.stderr and "no such file or directory" in p.stderr, p.stderr
    assert ctrd.task_status("exbad") == "RUNNING"
    remove(ctrd, "exbad")


def test_seccomp_default_profile(ctrd):
    # `ctr run --seccomp`: containerd's default profile, which only lets CAP_SYS_ADMIN unshare
    probe = "grep '^Seccomp:' /proc/self/status; unshare -U true && echo unshared || echo denied"
    p = run(ctrd, "sc0", "sh", "-c", probe)
    assert p.stdout.split() == ["Seccomp:", "0", "unshared"], p.stderr
    p = run(ctrd, "sc1", "sh", "-c", probe, opts=("--seccomp",))
    assert p.stdout.split() == ["Seccomp:", "2", "denied"], p.stderr
    assert "Operation not permitted" in p.stderr


def test_ten_containers_in_a_row(ctrd):
    for i in range(10):
        p = run(ctrd, f"many-{i}", "echo", f"many-{i}")
        assert (p.returncode, p.stdout) == (0, f"many-{i}\n"), p.stderr
    assert ctrd.ctr("container", "ls", "-q").stdout.split() == []


def test_cgroups_of_the_init(ctrd):
    pid = run_detached(ctrd, "cg", "sleep", "1000")
    # ctr's cgroupsPath is /<namespace>/<id>: the init is in it when create returns (the shim loads
    # its cgroups from /proc/<pid>/cgroup for metrics and OOM events).  On a hybrid host that means
    # every v1 hierarchy: pyrunc joins the hybrid cgroup2 only with a cgroup namespace (cgroups/fs1.py)
    entries = proc_cgroups(pid)
    v1 = [path for h, _, path in entries if h != "0"] or [path for h, _, path in entries]
    assert set(v1) == {f"/{ctrd.ns}/cg"}, entries
    dirs = [os.path.join(mp, ctrd.ns, "cg") for mp in hierarchies()]
    assert all(os.path.isdir(d) for d in dirs if not d.startswith("/sys/fs/cgroup/unified/")), dirs
    remove(ctrd, "cg")
    assert not any(os.path.exists(d) for d in dirs)


def test_cleanup_calls_are_idempotent(ctrd):
    # The shim's cleanup calls, on the shim's own --root: `kill --all ID 9` on a stopped container
    # (sent twice after every exit in a pod that shares its pid namespace) and `delete --force ID`
    # after a successful delete (from the short-lived cleanup shim) must succeed.  containerd only
    # logs their failures, so ask the runtime directly.
    run_detached(ctrd, "idem", "sleep", "1000")
    ctrd.ctr("task", "kill", "-s", "SIGKILL", "idem")
    wait_for(lambda: ctrd.task_status("idem") == "STOPPED", what="idem STOPPED")
    for _ in range(2):
        p = ctrd.runtime_cmd("kill", "--all", "idem", "9")
        assert p.returncode == 0, p.stderr
    ctrd.ctr("task", "delete", "idem")
    p = ctrd.runtime_cmd("delete", "--force", "idem")
    assert (p.returncode, p.stderr) == (0, ""), p.stderr
    ctrd.ctr("container", "delete", "idem")


def test_metrics(ctrd):
    run_detached(ctrd, "met", "sh", "-c", "sleep 1000 & wait")
    m = json.loads(ctrd.ctr("task", "metrics", "--format", "json", "met").stdout)
    # the shim reads them from the cgroups of the pid in the runtime's pid file
    assert m["memory"]["usage"]["usage"] > 0
    assert m["pids"]["current"] == 2           # sh and its sleep, in the container's own cgroup
    remove(ctrd, "met")


def test_ps(ctrd):
    pid = run_detached(ctrd, "ps1", "sh", "-c", "sleep 1000 & wait")
    rows = ctrd.ctr("task", "ps", "ps1").stdout.splitlines()[1:]
    pids = sorted(int(r.split()[0]) for r in rows)
    assert pid in pids and len(pids) == 2
    remove(ctrd, "ps1")


def test_pause_resume(ctrd):
    pid = run_detached(ctrd, "pz", "sh", "-c", LONG)
    freezer = cgroup_file(pid, "freezer", "freezer.state", "cgroup.freeze")
    ctrd.ctr("task", "pause", "pz")
    assert ctrd.task_status("pz") == "PAUSED"
    assert read(freezer) in ("FROZEN", "1")
    ctrd.ctr("task", "resume", "pz")
    assert ctrd.task_status("pz") == "RUNNING"
    assert read(freezer) in ("THAWED", "0")
    remove(ctrd, "pz")


def test_memory_limit_applied_and_enforced(ctrd):
    limit = 32 * 1024 * 1024
    pid = run_detached(ctrd, "mem", "sleep", "1000", opts=("--memory-limit", limit))
    assert int(read(cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max"))) == limit
    # 64 MiB in one buffer cannot fit: the kernel's OOM killer ends it (SIGKILL: 137)
    p = ctrd.ctr("task", "exec", "--exec-id", "hog", "mem", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M",
                 "count=1", check=False)
    assert p.returncode == 137, p.stderr
    remove(ctrd, "mem")
