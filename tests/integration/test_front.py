"""The installed command's front end: `start` and `delete` of ordinary containers without Python, everything else by Python.

The front end (csrc/pyrunc_front.c) leaves a `trace.start` file when it
started a container itself; Python keeps its start marks in state.json.
That file is how these tests tell which side did the work.
"""
import json
import os

import pytest

from tests.integration.test_hooks import hook, records, write_script, HOOK
from tests.support.helpers import create, read, wait_for


@pytest.fixture(autouse=True)
def only_pyrunc(is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's front end")


def started_by_front_end(rt, cid):
    return os.path.exists(os.path.join(rt.root, cid, "trace.start"))


def facts(rt, cid):
    with open(os.path.join(rt.root, cid, "fast")) as f:
        return f.read().splitlines()


def cgroup_dirs(rt, cid):
    return [line.split(" ", 1)[1] for line in facts(rt, cid) if line.startswith("cgroup ")]


def test_ordinary_lifecycle_without_python(rt, bundle, tmp_path):
    bundle.set_args("echo", "front-end")
    p = create(rt, bundle, "f1")
    dirs = cgroup_dirs(rt, "f1")
    assert dirs and all(os.path.isdir(d) for d in dirs)
    assert {"start-ok", "delete-ok"} <= set(facts(rt, "f1"))
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


def test_hooks_leave_start_and_delete_to_python(rt, bundle, tmp_path):
    script = str(tmp_path / "hook.sh")
    write_script(script, HOOK)
    log = str(tmp_path / "hooks.log")
    bundle.config["hooks"] = {"poststart": [hook(script, "poststart", log)],
                              "poststop": [hook(script, "poststop", log)]}
    bundle.set_args("true")
    create(rt, bundle, "f2")
    assert "start-ok" not in facts(rt, "f2") and "delete-ok" not in facts(rt, "f2")
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
