"""Stage 1 started by the front end beside the CLI (process/early.py): adopted by create and run, never outliving a call."""
import json
import os
import subprocess
import sys

import pytest

from tests.integration.test_hooks import write_script
from tests.support.helpers import create, read, run_to_completion
from tests.support.runtime import Runtime, python_cli, uses_front_end

ENV = "PYRUNC_EARLY_BOOTSTRAP"

# Runs `argv` as a child subreaper: whatever it leaves orphaned becomes our child.  Prints the
# pids of the orphans reaped within a second after the command returned, then its exit status.
REAPER = """
import json, posix, sys, time
sys.path.insert(0, {src!r})
from pyrunc.linux import syscalls as S
S.prctl(S.PR_SET_CHILD_SUBREAPER, 1)
pid = posix.posix_spawn(sys.argv[1], sys.argv[1:], dict(posix.environ))
status = posix.waitpid(pid, 0)[1]
orphans, deadline = [], time.monotonic() + 1
while time.monotonic() < deadline:
    try:
        got, _ = posix.waitpid(-1, posix.WNOHANG)
    except ChildProcessError:
        break               # no child left at all
    if got:
        orphans.append(got)
    else:
        time.sleep(0.01)
print(json.dumps({{"orphans": orphans, "status": posix.waitstatus_to_exitcode(status)}}))
"""


def under_reaper(argv, tmp_path):
    """Its output goes to a file: a created container's init holds it open."""
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
    with open(tmp_path / "reaper.out", "w") as out:
        p = subprocess.run([sys.executable, "-c", REAPER.format(src=src), *argv], stdout=out, stderr=out,
                           stdin=subprocess.DEVNULL, timeout=60)
    text = read(tmp_path / "reaper.out")
    assert p.returncode == 0, text
    return json.loads(text.splitlines()[-1])


def stage1_mark(rt, cid):
    """How create got its stage 1, from its trace: "adopt bootstrap" or "fork bootstrap"."""
    marks = [line.split()[-2:] for line in rt.run("trace", cid).stdout.splitlines()]
    return " ".join(next(m for m in marks if m[-1] == "bootstrap"))


@pytest.fixture(autouse=True)
def only_front_end(is_pyrunc):
    if not uses_front_end():
        pytest.skip("the front end starts the bootstrap process")


def test_create_adopts_the_front_ends_bootstrap_and_the_python_cli_forks_its_own(rt, bundle):
    bundle.set_args("echo", "early")
    create(rt, bundle, "e1")
    assert stage1_mark(rt, "e1") == "adopt bootstrap"
    python = Runtime(python_cli(rt.path), rt.root)
    create(python, bundle, "e2")
    assert stage1_mark(rt, "e2") == "fork bootstrap"
    for cid in ("e1", "e2"):
        rt.run("start", cid)
    for cid in ("e1", "e2"):
        rt.run("delete", "--force", cid)


def test_run_adopts_it_too(rt, bundle, tmp_path):
    bundle.set_args("sh", "-c", "echo ran; ls /proc/self/fd")
    log = tmp_path / "log"
    out = rt.run("run", "--bundle", bundle.path, "e3", debug=True, log=str(log), log_format="json").stdout.split()
    # stdio and the directory ls reads: the socket of stage 1 never reaches the container
    assert out == ["ran", "0", "1", "2", "3"]
    stages = [json.loads(line).get("stage") for line in read(log).splitlines()]
    assert "adopt bootstrap" in stages and "fork bootstrap" not in stages


@pytest.mark.parametrize("args", [
    ["create", "--bundle", "/nonexistent", "bad"],      # fails before it needs stage 1
    ["create", "--help"],
    ["create", "--bundle", "{bundle}", "{cid}"],         # stage 1 adopted, the init created
    ["run", "--bundle", "{bundle}", "{cid}"],
])
def test_no_bootstrap_process_outlives_the_call(rt, bundle, args, tmp_path):
    """Whatever the call does with the process the front end started, it has reaped it before
    exiting: a caller that is a subreaper (containerd's shim) never inherits it."""
    bundle.set_args("true")
    argv = rt.argv(*[a.format(bundle=bundle.path, cid="reap") for a in args])
    makes = "{cid}" in args
    result = under_reaper(argv, tmp_path)
    if makes:
        rt.run("delete", "--force", "reap")
    assert result["orphans"] == [], "a bootstrap process outlived the call"
    assert (result["status"] == 0) == ("/nonexistent" not in args)


def test_a_hook_without_env_gets_the_callers_environment_without_ours(rt, bundle, tmp_path):
    out = tmp_path / "env"
    script = tmp_path / "hook.sh"
    write_script(script, f"#!/bin/sh\nenv > {out}\n")
    bundle.config["hooks"] = {"createRuntime": [{"path": str(script)}]}
    bundle.set_args("true")
    bundle.save()
    run_to_completion(rt, bundle, "e4")
    env = read(out)
    assert "PATH=" in env and ENV not in env


def test_a_variable_that_names_no_child_of_ours_is_ignored(rt, bundle):
    """Only a live child of the CLI on a SOCK_SEQPACKET socket is adopted: pid 1 here."""
    bundle.set_args("true")
    python = Runtime(python_cli(rt.path), rt.root)
    env = dict(os.environ, **{ENV: "1,0"})
    p = subprocess.run(python.argv("create", "--bundle", bundle.path, "e5"), env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0
    try:
        assert stage1_mark(rt, "e5") == "fork bootstrap"
    finally:
        rt.run("delete", "--force", "e5")


def test_joining_a_shared_pid_namespace_needs_no_reexec_from_the_front_ends_stage_1(rt, bundle):
    """The front end starts stage 1 from a read-only clone of the interpreter, so a container joining a
    pid namespace others share (a pod's) is set up without stage 1 re-executing itself from one; a fork
    of the Python CLI still does.  That nothing writable shows there is test_cves' pid namespace scan."""
    bundle.set_args("sleep", "30")
    create(rt, bundle, "pod")
    try:
        pid = rt.state("pod")["pid"]
        bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                                if n["type"] != "pid"] + [{"type": "pid", "path": f"/proc/{pid}/ns/pid"}]
        bundle.set_args("true")
        python = Runtime(python_cli(rt.path), rt.root)
        marks = {}
        for runtime, cid in ((rt, "member"), (python, "member-py")):
            create(runtime, bundle, cid)
            marks[cid] = [" ".join(line.split()[-2:]) for line in rt.run("trace", cid).stdout.splitlines()]
            rt.run("delete", "--force", cid)
        assert "adopt bootstrap" in marks["member"] and not any(m.endswith("resealed") for m in marks["member"])
        assert "fork bootstrap" in marks["member-py"] and any(m.endswith("resealed") for m in marks["member-py"])
    finally:
        rt.run("delete", "--force", "pod")
