"""The OCI lifecycle on real namespaces: create, start, state, kill, delete, run, list."""
import json
import os
import subprocess

import pytest

from tests.support.helpers import create, proc_status, read, run_to_completion, wait_for

pytestmark = pytest.mark.agnostic


@pytest.mark.crun_differs("its state has a relative rootfs")
def test_create_start_state_delete(rt, bundle, tmp_path):
    bundle.set_args("sh", "-c", "echo hello; echo err >&2")
    pidfile = tmp_path / "init.pid"
    p = create(rt, bundle, "c1", extra=["--pid-file", str(pidfile)])
    # the pid file exists when create returns: decimal, no newline
    text = pidfile.read_text()
    assert text.isdigit() and not text.endswith("\n")
    st = rt.state("c1")
    assert st["status"] == "created"
    assert st["pid"] == int(text)
    assert st["id"] == "c1" and st["bundle"] == bundle.path
    assert st["rootfs"] == bundle.rootfs
    assert st["ociVersion"] and st["created"].endswith("Z")
    # the init waits for start and has not run the user's program yet
    assert proc_status(st["pid"])["State"].startswith("S")
    assert read(p.out_path) == ""
    rt.run("start", "c1")
    wait_for(lambda: rt.status("c1") == "stopped", what="exit")
    st = rt.state("c1")
    assert st["pid"] == 0
    assert read(p.out_path) == "hello\nerr\n"
    rt.run("delete", "c1")
    assert rt.run("state", "c1", check=False).returncode != 0


def test_status_running_and_pid1(rt, bundle):
    bundle.set_args("sh", "-c", "echo $$; exec sleep 30")
    p = create(rt, bundle, "r1")
    rt.run("start", "r1")
    wait_for(lambda: read(p.out_path), what="output")
    assert read(p.out_path).strip() == "1"      # PID 1 of its own pid namespace
    assert rt.status("r1") == "running"
    host_pid = rt.state("r1")["pid"]
    assert proc_status(host_pid)["NSpid"].split() == [str(host_pid), "1"]
    rt.run("kill", "r1", "KILL")
    wait_for(lambda: rt.status("r1") == "stopped", what="kill")
    rt.run("delete", "r1")


def test_delete_refuses_running_without_force(rt, bundle):
    bundle.set_args("sleep", "30")
    create(rt, bundle, "d1")
    rt.run("start", "d1")
    p = rt.run("delete", "d1", check=False)
    assert p.returncode != 0
    assert rt.status("d1") == "running"
    rt.run("delete", "--force", "d1")
    assert rt.run("state", "d1", check=False).returncode != 0


def test_delete_created_container_kills_init(rt, bundle):
    create(rt, bundle, "d2")
    pid = rt.state("d2")["pid"]
    rt.run("delete", "d2")
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or proc_status(pid)["State"].startswith("Z"),
             what="init gone")


@pytest.mark.parametrize("sig,name", [(15, "TERM"), (15, "SIGTERM"), (9, "9"), (2, "INT"), (10, "usr1"),
                                      (35, "35"), (15, "")])     # runc: an empty signal is the default
def test_kill_signals(rt, bundle, sig, name):
    """The signal named reaches the init: its trap for that number runs (KILL, which no trap sees, stops it)."""
    traps = "; ".join(f"trap 'echo trapped {n}; exit {n}' {n}" for n in (2, 10, 15, 35))
    bundle.set_args("sh", "-c", f"{traps}; echo ready; while :; do sleep 0.05; done")
    p = create(rt, bundle, "k1")
    rt.run("start", "k1")
    wait_for(lambda: "ready" in read(p.out_path), what="the traps")
    rt.run("kill", "k1", name)
    wait_for(lambda: rt.status("k1") == "stopped", what="stop")
    rt.run("delete", "k1")
    assert read(p.out_path) == "ready\n" + ("" if sig == 9 else f"trapped {sig}\n")


@pytest.mark.parametrize("name", ["KILL", "9"])
def test_sigkill_of_a_paused_container_thaws_it(rt, bundle, name):
    """A task in a frozen v1 cgroup acts on no signal until thawed: runc thaws a paused container
    once its init has SIGKILL pending (containerd's shim kills a paused task, then waits for it)."""
    bundle.set_args("sleep", "300")
    create(rt, bundle, "kp1")
    rt.run("start", "kp1")
    rt.run("pause", "kp1")
    rt.run("kill", "kp1", name)
    wait_for(lambda: rt.status("kp1") == "stopped", what="the paused init to die of SIGKILL")
    rt.run("delete", "kp1")


@pytest.mark.crun_differs("its created init ignores SIGTERM")
def test_kill_created_container_with_term(rt, bundle):
    create(rt, bundle, "k2")
    rt.run("kill", "k2", "TERM")
    wait_for(lambda: rt.status("k2") == "stopped", what="created init to die of TERM")
    rt.run("delete", "k2")


def test_kill_all_reaches_every_process(rt, bundle, tmp_path):
    bundle.set_args("sh", "-c", "sleep 100 & sleep 100 & echo started; wait")
    p = create(rt, bundle, "k3")
    rt.run("start", "k3")
    wait_for(lambda: "started" in read(p.out_path), what="children")
    rt.run("kill", "--all", "k3", "KILL")
    wait_for(lambda: rt.status("k3") == "stopped", what="all killed")
    rt.run("delete", "k3")


def test_cleanup_commands_are_idempotent(rt, bundle):
    bundle.set_args("true")
    run_to_completion(rt, bundle, "i1")
    # containerd's cleanup after a normal delete
    assert rt.run("delete", "--force", "i1", check=False).returncode == 0


def test_kill_all_on_stopped_container_exits_0(rt, bundle):
    bundle.set_args("true")
    create(rt, bundle, "i2")
    rt.run("start", "i2")
    wait_for(lambda: rt.status("i2") == "stopped", what="exit")
    assert rt.run("kill", "--all", "i2", "9", check=False).returncode == 0
    assert rt.run("kill", "--all", "i2", "9", check=False).returncode == 0
    rt.run("delete", "i2")


def test_kill_all_after_the_init_exited_kills_what_is_left(rt, bundle):
    """No pid namespace: the init's background child outlives it; `kill --all` still reaches it, as
    runc's does (containerd's shim relies on it to stop such a container's leftovers)."""
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.set_args("sh", "-c", "sleep 100 & echo $!")
    p = create(rt, bundle, "i3")
    rt.run("start", "i3")
    wait_for(lambda: read(p.out_path).strip() and rt.status("i3") == "stopped", what="the init to exit")
    left = int(read(p.out_path))
    assert proc_status(left)["State"][0] in "SR", "the background sleep should outlive the init"
    rt.run("kill", "--all", "i3", "KILL")
    wait_for(lambda: not os.path.exists(f"/proc/{left}") or proc_status(left)["State"].startswith("Z"),
             what="the background process to die")
    rt.run("delete", "i3")


@pytest.mark.crun_differs("it reports a missing status file instead")
def test_unknown_container(rt):
    for args in (["state", "nope"], ["start", "nope"], ["kill", "nope", "9"], ["delete", "nope"]):
        p = rt.run(*args, check=False)
        assert p.returncode == 1, args
        assert "does not exist" in p.stderr


def test_exit_code_of_run(rt, bundle):
    bundle.set_args("sh", "-c", "echo out; exit 7")
    p = rt.run("run", "--bundle", bundle.path, "x1", check=False)
    assert p.returncode == 7
    assert p.stdout == "out\n"
    assert "x1" not in rt.ids()


def test_run_without_subreaper_still_waits_for_its_process(rt, bundle):
    bundle.set_args("sh", "-c", "echo out; exit 3")
    p = rt.run("run", "--no-subreaper", "--bundle", bundle.path, "x3", check=False)
    assert (p.returncode, p.stdout) == (3, "out\n"), p.stderr
    assert "x3" not in rt.ids()


@pytest.mark.parametrize("flags, adopted", [((), True), (("--no-subreaper",), False)])
def test_run_reaps_orphans_unless_no_subreaper(rt, bundle, tmp_path, flags, adopted):
    """A foreground `run` is the subreaper of what the container orphans (seen without a pid
    namespace), as runc's; with --no-subreaper they go to the caller's own reaper."""
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.set_args("sh", "-c", 'sh -c "sleep 1 & echo \\$! > /dev/shm/orphan"; sleep 0.3; '
                                'grep PPid /proc/$(cat /dev/shm/orphan)/status; sleep 1.2')
    (tmp_path / "empty").write_text("")
    with open(tmp_path / "empty") as empty:
        p = subprocess.Popen(rt.argv("run", *flags, "--bundle", bundle.path, "x4"), stdin=empty,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert (int(out.split()[1]) == p.pid) == adopted, (out, p.pid)


def test_run_detached(rt, bundle):
    bundle.set_args("sleep", "30")
    with open(os.devnull, "w") as null:
        rt.run("run", "-d", "--bundle", bundle.path, "x2", stdout=null, stderr=null)
    assert rt.status("x2") == "running"
    rt.run("delete", "-f", "x2")


@pytest.mark.crun_differs("its table header says NAME")
def test_list(rt, bundle):
    create(rt, bundle, "l1")
    create(rt, bundle, "l2")
    assert sorted(rt.run("list", "-q").stdout.split()) == ["l1", "l2"]
    items = json.loads(rt.run("list", "--format", "json").stdout)
    assert {i["id"]: i["status"] for i in items} == {"l1": "created", "l2": "created"}
    table = rt.run("list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
    assert len(table) == 3
    for cid in ("l1", "l2"):
        rt.run("delete", cid)


def test_start_twice_fails(rt, bundle):
    bundle.set_args("sleep", "30")
    create(rt, bundle, "s2")
    rt.run("start", "s2")
    assert rt.run("start", "s2", check=False).returncode != 0
    rt.run("delete", "-f", "s2")


def test_exit_by_signal_is_stopped(rt, bundle):
    bundle.set_args("sh", "-c", "kill -9 $$")
    create(rt, bundle, "e1")
    rt.run("start", "e1")
    wait_for(lambda: rt.status("e1") == "stopped", what="exit")
    rt.run("delete", "e1")


@pytest.mark.crun_differs("it accepts any signal name")
def test_signal_numbers_and_bad_signal(rt, bundle):
    create(rt, bundle, "b1")
    p = rt.run("kill", "b1", "NOTASIGNAL", check=False)
    assert p.returncode != 0
    assert rt.status("b1") == "created"
    rt.run("delete", "b1")


def test_annotations_larger_than_a_socket_message(rt, bundle):
    """300 kB of annotations (the caller's business): create, state, exec and delete all work."""
    annotations = {f"org.example.a{i}": "v" * 1000 for i in range(300)}
    bundle.config["annotations"] = annotations
    bundle.set_args("sleep", "60")
    create(rt, bundle, "big")
    try:
        assert rt.state("big")["annotations"] == annotations
        rt.run("start", "big")
        assert rt.run("exec", "big", "echo", "in").stdout == "in\n"
    finally:
        rt.run("delete", "--force", "big")
