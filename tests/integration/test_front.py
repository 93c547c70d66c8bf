"""The installed command's front end: the verbs of ordinary containers it does without Python, everything else by Python.

The front end (csrc/pyrunc_front.c) interprets the recipe Python writes
with the state (steps.py).  A start it did itself leaves a `trace.start`
with its two marks only (Python's has "state loaded" between them): that is how these
tests tell which side did the work.
"""
import json
import os
import shutil
import time

import pytest

from tests.integration.test_hooks import hook, records, write_script, HOOK
from tests.support.helpers import create, read, wait_for
from tests.support.runtime import Runtime, install_prefix, python_cli, uses_front_end


@pytest.fixture(autouse=True)
def only_pyrunc(is_pyrunc):
    if not uses_front_end():
        pytest.skip("pyrunc's front end")


def started_by_front_end(rt, cid):
    path = os.path.join(rt.root, cid, "trace.start")
    return os.path.exists(path) and [line.rsplit(" ", 1)[0] for line in read(path).splitlines()] == ["cli start", "exec"]


def recipe(rt, cid):
    with open(os.path.join(rt.root, cid, "recipe")) as f:
        return f.read().splitlines()


def cgroup_dirs(rt, cid):
    return [line.split(" ", 2)[2] for line in recipe(rt, cid) if line.startswith("do rmdir ")]


def test_ordinary_lifecycle_without_python(rt, bundle, tmp_path):
    bundle.set_args("echo", "front-end")
    p = create(rt, bundle, "f1")
    dirs = cgroup_dirs(rt, "f1")
    assert dirs and all(os.path.isdir(d) for d in dirs)
    assert {"verb start", "verb delete"} <= set(recipe(rt, "f1"))
    log = tmp_path / "start.log"
    rt.run("start", "f1", log=str(log), log_format="json")
    assert started_by_front_end(rt, "f1")
    assert log.exists() and log.read_text() == ""      # created, as the Python CLI does, and nothing to say
    wait_for(lambda: rt.status("f1") == "stopped", what="exit")
    assert read(p.out_path) == "front-end\n"
    # the trace shows the front end's start like Python's
    out = rt.run("trace", "f1").stdout
    assert [line.split(")", 1)[1].strip() for line in out.split("start:\n")[1].splitlines()
            if line.startswith("  ")] == ["cli start", "exec"]
    rt.run("delete", "f1")
    assert not os.path.exists(os.path.join(rt.root, "f1"))
    assert not any(os.path.exists(d) for d in dirs)
    assert "does not exist" in rt.run("state", "f1", check=False).stderr


def without_python(rt, tmp_path):
    """A copy of the install whose Python CLI only fails (exit 99): it shows which calls reach Python."""
    copy = tmp_path / "prefix"
    shutil.copytree(install_prefix(rt.path), copy, symlinks=True)
    (copy / "lib" / "pyrunc" / "pyrunc-cli").write_text("#!/bin/sh\necho python called >&2\nexit 99\n")
    return Runtime(str(copy / "bin" / "pyrunc"), rt.root)


def freezer_file(rt, cid):
    return next(line.rsplit(" ", 1)[1] for line in recipe(rt, cid) if line.startswith("do write "))


def test_state_kill_ps_pause_and_resume_without_python(rt, bundle, tmp_path):
    """`state`, `kill ID [number]`, `ps --format json`, `pause` and `resume` of an ordinary container
    are answered from the recipe (a signal name and the ps table reach Python)."""
    front = without_python(rt, tmp_path)
    bundle.config["annotations"] = {"k": "a \\ b\nc"}
    bundle.set_args("sleep", "100")
    create(rt, bundle, "fs1")
    for status in ("created", "running"):
        p = front.run("state", "fs1")
        assert p.stdout == rt.run("state", "fs1").stdout and json.loads(p.stdout)["status"] == status
        assert json.loads(p.stdout)["annotations"] == {"k": "a \\ b\nc"}
        if status == "created":
            rt.run("start", "fs1")
    front.run("pause", "fs1")
    assert read(freezer_file(rt, "fs1")).strip() in ("FROZEN", "1")
    assert front.run("state", "fs1").stdout == rt.run("state", "fs1").stdout
    assert json.loads(front.run("state", "fs1").stdout)["status"] == "paused"
    assert front.run("pause", "fs1", check=False).returncode == 99       # refused: Python words it
    front.run("resume", "fs1")
    assert rt.status("fs1") == "running"
    assert front.run("resume", "fs1", check=False).returncode == 99
    assert front.run("kill", "fs1", "TERM", check=False).returncode == 99   # a name: Python parses it
    assert front.run("ps", "--format", "json", "fs1").stdout == rt.run("ps", "-f", "json", "fs1").stdout
    assert json.loads(front.run("ps", "-f", "json", "fs1").stdout) == [rt.state("fs1")["pid"]]
    assert front.run("ps", "fs1", check=False).returncode == 99      # the table runs ps(1): Python's
    assert front.run("kill", "--all", "fs1", "0", check=False).returncode == 99
    front.run("kill", "fs1", "0")
    assert rt.status("fs1") == "running"
    front.run("kill", "fs1", "9")          # returns once the init is gone, as Python's kill
    assert json.loads(front.run("state", "fs1").stdout)["status"] == "stopped"
    assert front.run("kill", "fs1", "9", check=False).returncode == 99       # stopped: Python words it
    front.run("delete", "fs1")
    # containerd's shim deletes again with --force: nothing to do, unless a create's temporary waits
    front.run("delete", "--force", "fs1")
    assert front.run("delete", "fs1", check=False).returncode == 99          # Python says it does not exist
    os.mkdir(os.path.join(rt.root, "@creating.99999999.00"))
    assert front.run("delete", "--force", "fs1", check=False).returncode == 99   # Python sweeps it
    rt.run("delete", "--force", "fs1")
    assert not os.path.exists(os.path.join(rt.root, "@creating.99999999.00"))


def test_kill_all_of_a_stopped_container_without_python(rt, bundle, tmp_path):
    """containerd's shim sends `kill --all ID 9` after every stop, and again after delete: the front
    end's when the init is gone and the cgroups hold nothing, and of an id without a directory (as
    Python); a live init, a process left in the cgroups, a signal name go to Python."""
    front = without_python(rt, tmp_path)
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.set_args("sh", "-c", "sleep 100 & exec sleep 100")
    create(rt, bundle, "fk")
    rt.run("start", "fk")
    pids = rt.run("ps", "--format", "json", "fk").stdout
    assert front.run("kill", "--all", "fk", "9", check=False).returncode == 99     # the init lives
    rt.run("kill", "fk", "9")
    assert rt.status("fk") == "stopped" and len(json.loads(rt.run("ps", "--format", "json", "fk").stdout)) == 1, pids
    assert front.run("kill", "--all", "fk", "9", check=False).returncode == 99     # the background sleep is left
    rt.run("kill", "--all", "fk", "9")
    wait_for(lambda: json.loads(rt.run("ps", "--format", "json", "fk").stdout) is None, what="the cgroup to empty")
    for args in (["--all", "fk", "9"], ["-a", "fk"], ["fk", "--all", "15"]):
        front.run("kill", *args)
    assert front.run("kill", "--all", "fk", "KILL", check=False).returncode == 99    # a name: Python parses it
    assert front.run("kill-all", "fk", check=False).returncode == 99                 # no such command
    front.run("delete", "fk")
    front.run("kill", "--all", "fk", "9")       # gone: nothing to do, as Python's


def flag_files(rt, cid):
    """{flag: cgroup file} of the recipe's update section."""
    return {f[2]: f[4] for f in (line.split(" ", 4) for line in recipe(rt, cid)) if f[:2] == ["do", "flag"]}


def test_update_of_the_pids_limit_and_cpusets_without_python(rt, bundle, tmp_path):
    """`update` of --pids-limit, --cpuset-cpus and --cpuset-mems alone writes their values itself; any
    other flag, a value Python would write otherwise ("010": the kernel reads octal, Python writes 10),
    a saved quota (the first update changes the saved state) and a stopped container reach Python."""
    front = without_python(rt, tmp_path)
    bundle.config["linux"]["resources"] = {"cpu": {"quota": 50000, "period": 100000}}
    bundle.set_args("sleep", "100")
    create(rt, bundle, "fu")
    assert "verb update" not in recipe(rt, "fu")
    assert front.run("update", "--pids-limit", "7", "fu", check=False).returncode == 99
    rt.run("update", "--pids-limit", "7", "fu")       # Python's: the saved quota and period are 0 now
    files = flag_files(rt, "fu")
    assert "pids-limit" in files and read(files["pids-limit"]).strip() == "7"
    cpus = read(files["cpuset-cpus"]).strip()      # inherited from the parent at create
    front.run("update", "--pids-limit=9", "--cpuset-cpus", "0", "--cpuset-mems=0", "fu")
    assert [read(files[f]).strip() for f in ("pids-limit", "cpuset-cpus", "cpuset-mems")] == ["9", "0", "0"]
    front.run("update", "fu", "--pids-limit", "11", "--cpuset-cpus", cpus)     # flags after the id too
    assert read(files["pids-limit"]).strip() == "11" and read(files["cpuset-cpus"]).strip() == cpus
    for args in (["--pids-limit", "010"], ["--pids-limit", "0"], ["--pids-limit", "-1"], ["--pids-limit", ""],
                 ["--pids-limit", "5", "--pids-limit", "6"], ["--pids-limit", "5", "--memory", "64m"],
                 ["--cpu-share", "512"], ["-r", "-"], ["--resources=-"], ["--help"], []):
        p = front.run("update", *args, "fu", check=False, input="{}")
        assert p.returncode == 99 and read(files["pids-limit"]).strip() == "11", args
    rt.run("update", "--pids-limit", "010", "fu")
    assert read(files["pids-limit"]).strip() == "10"
    rt.run("update", "--pids-limit", "-1", "fu")
    assert read(files["pids-limit"]).strip() == "max"
    rt.run("kill", "fu", "9")
    assert front.run("update", "--pids-limit", "5", "fu", check=False).returncode == 99
    p = rt.run("update", "--pids-limit", "5", "fu", check=False)
    assert p.returncode == 1 and p.stderr.strip().endswith("container not running")
    rt.run("delete", "fu")


def test_a_pause_that_does_not_freeze_in_time_is_undone_and_handed_to_python(rt, bundle, tmp_path):
    """The front end's `await` gives up after frontabi.AWAIT_MS: it thaws (the section's undo) before
    handing over, so Python finds the container running, not half-frozen (here the line awaited
    never comes: the recipe is edited, as only root could)."""
    front = without_python(rt, tmp_path)
    bundle.set_args("sleep", "100")
    create(rt, bundle, "fz")
    rt.run("start", "fz")
    path = os.path.join(rt.root, "fz", "recipe")
    lines = recipe(rt, "fz")
    with open(path, "w") as f:
        f.write("".join(("do await never " + line.split(" ", 3)[3] if line.startswith("do await ") else line) + "\n"
                        for line in lines))
    assert front.run("pause", "fz", check=False).returncode == 99
    assert rt.status("fz") == "running"
    rt.run("pause", "fz")        # Python's own freeze, from a clean start
    assert rt.status("fz") == "paused"
    rt.run("delete", "--force", "fz")


def test_hooks_leave_start_and_delete_to_python(rt, bundle, tmp_path):
    script = str(tmp_path / "hook.sh")
    write_script(script, HOOK)
    log = str(tmp_path / "hooks.log")
    bundle.config["hooks"] = {"poststart": [hook(script, "poststart", log)],
                              "poststop": [hook(script, "poststop", log)]}
    bundle.set_args("true")
    create(rt, bundle, "f2")
    assert "verb start" not in recipe(rt, "f2") and "verb delete" not in recipe(rt, "f2")
    rt.run("start", "f2")
    assert not started_by_front_end(rt, "f2")
    wait_for(lambda: rt.status("f2") == "stopped", what="exit")
    rt.run("delete", "f2")
    assert [r["kind"] for r in records(log)] == ["poststart", "poststop"]


def test_wrong_states_get_pythons_errors(rt, bundle, tmp_path):
    log = tmp_path / "log.json"
    bundle.set_args("sleep", "100")
    create(rt, bundle, "f3")
    rt.run("pause", "f3")
    p = rt.run("start", "f3", check=False, log=str(log), log_format="json")
    assert (p.returncode, p.stderr.strip()) == (1, "start f3: cannot start a paused container")
    last_error = [json.loads(line) for line in log.read_text().splitlines() if '"error"' in line][-1]
    assert last_error["msg"] == "start f3: cannot start a paused container"
    rt.run("resume", "f3")
    rt.run("start", "f3")
    assert started_by_front_end(rt, "f3")
    p = rt.run("start", "f3", check=False)
    assert (p.returncode, p.stderr.strip()) == (1, "start f3: cannot start an already running container")
    p = rt.run("delete", "f3", check=False)
    assert (p.returncode, p.stderr.strip()) == (
        1, "delete f3: cannot delete container f3 that is not stopped: running")
    rt.run("delete", "-f", "f3")
    assert not os.path.exists(os.path.join(rt.root, "f3"))
    for args in (["start", "f3"], ["delete", "f3"]):
        p = rt.run(*args, check=False)
        assert (p.returncode, p.stderr.strip()) == (1, f"{args[0]} f3: container f3 does not exist")
    assert rt.run("delete", "--force", "f3", check=False).returncode == 0


def test_start_of_a_dead_init_is_refused(rt, bundle):
    bundle.set_args("true")
    create(rt, bundle, "f4")
    rt.run("kill", "f4", "KILL")
    wait_for(lambda: rt.status("f4") == "stopped", what="the created init to die")
    p = rt.run("start", "f4", check=False)
    assert (p.returncode, p.stderr.strip()) == (1, "start f4: cannot start a container that has stopped")
    rt.run("delete", "f4")


def test_busy_cgroup_goes_to_python_which_kills_what_is_left(rt, bundle):
    # no pid namespace: the init's child outlives it, so the cgroup is not empty at delete
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.set_args("sh", "-c", "sleep 100 & echo started")
    p = create(rt, bundle, "f5")
    dirs = cgroup_dirs(rt, "f5")
    rt.run("start", "f5")
    wait_for(lambda: "started" in read(p.out_path) and rt.status("f5") == "stopped", what="the init to exit")
    procs = os.path.join(dirs[0], "cgroup.procs")
    left = read(procs).split()
    assert left, "the background sleep should still be in the container's cgroup"
    rt.run("delete", "f5")
    assert not any(os.path.exists(d) for d in dirs)
    for pid in left:
        assert not os.path.exists(f"/proc/{pid}") or "State:\tZ" in read(f"/proc/{pid}/status")


def test_flags_it_does_not_know_go_to_python(rt, bundle):
    bundle.set_args("true")
    create(rt, bundle, "f6")
    p = rt.run("start", "--bogus", "f6", check=False)
    assert p.returncode != 0 and "--bogus" in p.stderr
    p = rt.run("start", "f6", "extra", check=False)
    assert p.returncode != 0 and p.stderr.startswith("start")
    p = rt.run("delete", "../f6", check=False)
    assert p.returncode == 1 and "invalid container id" in p.stderr
    rt.run("start", "f6")
    wait_for(lambda: rt.status("f6") == "stopped", what="exit")
    rt.run("delete", "f6")


STATES = ("absent", "created", "running", "paused", "stopped")


def _in_state(rt, bundle, cid, status):
    """A container `cid` in `status`, set up through the Python CLI (neutral to the path under test)."""
    if status == "absent":
        return
    py = Runtime(python_cli(rt.path), rt.root)
    create(py, bundle, cid)
    if status in ("running", "paused", "stopped"):
        py.run("start", cid)
    if status == "paused":
        py.run("pause", cid)
    if status == "stopped":
        py.run("kill", cid, "KILL")
        wait_for(lambda: py.status(cid) == "stopped", what=f"{cid} to stop")


def _outcome(rt, cid, p, other):
    """What a call did, with the id written as ID: its status, output and error, the container left."""
    st = rt.run("state", cid, check=False)
    left = json.loads(st.stdout)["status"] if st.returncode == 0 else "gone"
    out = p.stdout
    if out.startswith("{"):      # state: its JSON, but the twins' own pid, id and creation time
        out = {k: v for k, v in json.loads(out).items() if k not in ("pid", "id", "created")}
    elif out.startswith("[") or out == "null\n":     # ps: how many pids, the twins' own
        out = ("pids", len(json.loads(out) or []))
    return (p.returncode, out, p.stderr.replace(cid, "ID").replace(other, "ID"), left)


def _call(rt, verb, cid):
    args = [*verb, cid] if verb[0] == "ps" else [verb[0], cid, *verb[1:]]   # ps: options before the id
    p = rt.run(*args, check=False)
    if verb == ["kill"]:
        # SIGTERM kills `sleep` without a pid namespace of its own, a little later: let either path's
        # container get there (the front end returns much sooner than Python)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            st = rt.run("state", cid, check=False)
            if st.returncode != 0 or json.loads(st.stdout)["status"] == "stopped":
                break
            time.sleep(0.05)
    return p


@pytest.mark.slow
@pytest.mark.parametrize("hooks", [False, True], ids=["no-hooks", "hooks"])
@pytest.mark.parametrize("pid_ns", [True, False], ids=["own-pidns", "host-pidns"])
def test_front_end_and_python_agree(rt, bundle, tmp_path, hooks, pid_ns):
    """The same call through the front end and through the Python CLI alone, on twin containers in
    every status, gives the same exit code, message and result (state × hooks × pid namespace; the
    cgroup driver is this host's)."""
    script = str(tmp_path / "hook.sh")
    write_script(script, HOOK)
    log = str(tmp_path / "hooks.log")
    if hooks:
        bundle.config["hooks"] = {"poststart": [hook(script, "poststart", log)],
                                  "poststop": [hook(script, "poststop", log)]}
    if not pid_ns:
        bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                                if n["type"] != "pid"]
    bundle.set_args("sleep", "100")
    py = Runtime(python_cli(rt.path), rt.root)
    differences = []
    for verb in (["start"], ["delete"], ["delete", "--force"], ["state"], ["kill"], ["kill", "0"], ["kill", "9"],
                 ["ps", "--format", "json"], ["pause"], ["resume"], ["update", "--pids-limit", "7"],
                 ["kill", "--all", "9"]):
        for status in STATES:
            front_id, py_id = f"f-{'-'.join(verb)}-{status}", f"p-{'-'.join(verb)}-{status}"
            for cid in (front_id, py_id):
                _in_state(rt, bundle, cid, status)
            got = _outcome(rt, front_id, _call(rt, verb, front_id), py_id)
            want = _outcome(rt, py_id, _call(py, verb, py_id), front_id)
            if got != want:
                differences.append((" ".join(verb), status, got, want))
            if verb == ["start"] and status == "created":
                # the comparison is worth something only if the front end did this start itself
                assert started_by_front_end(rt, front_id) == (not hooks)
            for cid in (front_id, py_id):
                rt.run("delete", "--force", cid, check=False)
    assert not differences, differences
