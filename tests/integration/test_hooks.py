"""OCI hooks: all six kinds, their state on stdin, env, args, namespace, timeout and failure semantics."""
import json
import os
import stat

import pytest

from tests.support.helpers import create, read, run_to_completion, wait_for

pytestmark = pytest.mark.agnostic

# Each hook appends one JSON line: its kind (argv[1]), an env var, its stdin and its mount namespace.
HOOK = """#!/bin/sh
state=$(cat)
printf '{"kind":"%s","env":"%s","ns":"%s","state":%s}\\n' "$1" "$HOOK_ENV" "$(readlink /proc/self/ns/mnt)" "$state" >> "$2"
"""


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def hook(path, kind, log, **extra):
    return dict({"path": path, "args": [os.path.basename(path), kind, log], "env": [f"HOOK_ENV=env-{kind}"]}, **extra)


def records(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


@pytest.mark.skipif_reference("runc 1.1 runs poststart hooks at create, not after start")
def test_all_hooks_in_order_with_state(rt, bundle, tmp_path):
    host_hook = str(tmp_path / "hook.sh")
    write_script(host_hook, HOOK)
    write_script(os.path.join(bundle.rootfs, "hook.sh"), HOOK)    # startContainer runs inside
    log = str(tmp_path / "hooks.log")
    inner_log = "/hooks.log"
    bundle.config["hooks"] = {
        "prestart": [hook(host_hook, "prestart", log)],
        "createRuntime": [hook(host_hook, "createRuntime", log)],
        "createContainer": [hook(host_hook, "createContainer", log)],
        "startContainer": [hook("/hook.sh", "startContainer", inner_log)],
        "poststart": [hook(host_hook, "poststart", log)],
        "poststop": [hook(host_hook, "poststop", log)],
    }
    bundle.config["annotations"] = {"org.example.k": "v"}
    bundle.set_args("sleep", "30")
    create(rt, bundle, "hk")
    pid = rt.state("hk")["pid"]
    assert [r["kind"] for r in records(log)] == ["prestart", "createRuntime", "createContainer"]
    rt.run("start", "hk")
    wait_for(lambda: os.path.exists(os.path.join(bundle.rootfs, "hooks.log")), what="startContainer hook")
    assert [r["kind"] for r in records(log)][-1] == "poststart"
    rt.run("delete", "--force", "hk")
    recs = records(log) + records(os.path.join(bundle.rootfs, "hooks.log"))
    by = {r["kind"]: r for r in recs}
    assert [r["kind"] for r in records(log)] == ["prestart", "createRuntime", "createContainer", "poststart",
                                                 "poststop"]
    host_ns = os.readlink("/proc/self/ns/mnt")
    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        assert by[kind]["ns"] == host_ns, kind               # the runtime's namespace
    for kind in ("createContainer", "startContainer"):
        assert by[kind]["ns"] != host_ns, kind               # the container's
    for kind, r in by.items():
        assert r["env"] == f"env-{kind}"
        assert r["state"]["id"] == "hk" and r["state"]["bundle"] == bundle.path
        assert r["state"]["annotations"] == {"org.example.k": "v"}
    for kind in ("prestart", "createRuntime", "poststart"):
        assert by[kind]["state"]["pid"] == pid
    assert by["poststart"]["state"]["status"] == "running"
    assert by["poststop"]["state"]["status"] == "stopped"


@pytest.mark.crun_differs("crun reports hook failures differently")
def test_failing_create_runtime_hook_fails_create(rt, bundle, tmp_path):
    bad = str(tmp_path / "bad.sh")
    write_script(bad, "#!/bin/sh\necho hook-said-no >&2\nexit 3\n")
    bundle.config["hooks"] = {"createRuntime": [{"path": bad}]}
    bundle.save()
    p = create(rt, bundle, "hf", check=False)
    assert p.returncode != 0
    assert "hf" not in rt.ids()


@pytest.mark.crun_differs("crun 1.8 leaves a timed-out hook running")
def test_hook_timeout(rt, bundle, tmp_path):
    slow = str(tmp_path / "slow.sh")
    write_script(slow, "#!/bin/sh\nsleep 20\n")
    bundle.config["hooks"] = {"prestart": [{"path": slow, "timeout": 1}]}
    bundle.save()
    p = create(rt, bundle, "ht", check=False)
    assert p.returncode != 0
    assert "ht" not in rt.ids()


def big_annotations(size=300 << 10):
    """More state than a pipe holds (64 KiB): a hook reading nothing must not block its runtime."""
    return {f"org.example.big{i}": "x" * 1000 for i in range(size // 1000)}


@pytest.mark.skipif_reference("runc 1.1 blocks on writing the state to a hook that does not read it")
def test_hook_timeout_with_a_state_larger_than_a_pipe(rt, bundle, tmp_path):
    slow = str(tmp_path / "slow.sh")
    write_script(slow, "#!/bin/sh\nsleep 1000\n")
    bundle.config["annotations"] = big_annotations()
    bundle.config["hooks"] = {"createRuntime": [{"path": slow, "timeout": 2}]}
    bundle.save()
    p = create(rt, bundle, "hbig", check=False, timeout=30)
    assert p.returncode != 0 and "timed out after 2s" in read(p.out_path), read(p.out_path)
    assert "hbig" not in rt.ids()


@pytest.mark.skipif_reference("runc 1.1 runs startContainer hooks before it drops privileges")
def test_start_container_hook_reads_a_large_state_and_times_out(rt, bundle, tmp_path):
    """startContainer hooks run from pyrunc-init: the whole state on stdin, the timeout enforced
    (with the hook's children), the failure on the container's stderr, and the program never run."""
    bundle.config["annotations"] = big_annotations()
    reader = "wc -c > /size"
    bundle.config["hooks"] = {"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", reader]},
        {"path": "/bin/sh", "args": ["sh", "-c", "echo stuck; sleep 1000 & sleep 1000"], "timeout": 1}]}
    bundle.set_args("sh", "-c", "echo program-ran")
    p = create(rt, bundle, "hs")
    rt.run("start", "hs")
    wait_for(lambda: rt.status("hs") == "stopped", timeout=20, what="the init to give up")
    rt.run("delete", "hs")
    out = read(p.out_path)
    size = int(read(os.path.join(bundle.rootfs, "size")))
    assert size > len(json.dumps(bundle.config["annotations"], separators=(",", ":"))), size
    assert "startContainer hook #1 (/bin/sh): timed out after 1s" in out and "program-ran" not in out, out


def test_failing_start_container_hook_is_reported_with_its_output(rt, bundle, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's wording")
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no way; exit 3"]},
                                                 {"path": "/missing"}]}
    bundle.set_args("true")
    out = run_to_completion(rt, bundle, "hfail")
    assert out == "pyrunc: startContainer hook #0 (/bin/sh): exit status 3: no way\n", out


@pytest.mark.skipif_reference("runtime-spec 1.3's poststart semantics (runc 1.1 only warns)")
def test_failing_poststart_stops_and_removes(rt, bundle, tmp_path):
    bad = str(tmp_path / "bad.sh")
    write_script(bad, "#!/bin/sh\nexit 1\n")
    bundle.config["hooks"] = {"poststart": [{"path": bad}]}
    bundle.set_args("sleep", "30")
    create(rt, bundle, "ps1")
    pid = rt.state("ps1")["pid"]
    p = rt.run("start", "ps1", check=False)
    assert p.returncode != 0
    assert "ps1" not in rt.ids()
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z",
             what="init killed")


def test_failing_poststop_is_only_a_warning(rt, bundle, tmp_path):
    bad = str(tmp_path / "bad.sh")
    write_script(bad, "#!/bin/sh\nexit 1\n")
    bundle.config["hooks"] = {"poststop": [{"path": bad}]}
    bundle.set_args("true")
    create(rt, bundle, "pp")
    rt.run("start", "pp")
    wait_for(lambda: rt.status("pp") == "stopped", what="exit")
    assert rt.run("delete", "pp", check=False).returncode == 0
    assert "pp" not in rt.ids()
    assert stat.S_ISDIR(os.stat(bundle.path).st_mode)


@pytest.mark.skipif_reference("runc 1.1 stops at the first failing poststop hook")
def test_failing_poststop_hook_is_a_warning_and_the_rest_still_run(rt, bundle, tmp_path):
    bad = str(tmp_path / "bad.sh")
    write_script(bad, "#!/bin/sh\nexit 1\n")
    good = str(tmp_path / "hook.sh")
    write_script(good, HOOK)
    log = str(tmp_path / "hooks.log")
    bundle.config["hooks"] = {"poststop": [{"path": bad}, hook(good, "poststop", log)]}
    bundle.set_args("true")
    create(rt, bundle, "pp2")
    rt.run("start", "pp2")
    wait_for(lambda: rt.status("pp2") == "stopped", what="exit")
    p = rt.run("delete", "pp2", check=False)
    assert p.returncode == 0
    assert "level=warning" in p.stderr and "poststop hook #0" in p.stderr
    assert [r["kind"] for r in records(log)] == ["poststop"]
    assert "pp2" not in rt.ids()

@pytest.mark.skipif_reference("runc 1.1 runs poststart hooks at create")
def test_poststart_runs_after_the_program_is_executed(rt, bundle, tmp_path):
    """runtime-spec: poststart hooks run once the user's process is executed, before start returns."""
    seen = tmp_path / "seen"
    hook = tmp_path / "post.py"
    write_script(str(hook), "#!/usr/bin/python3\nimport json, sys\n"
                 "s = json.load(sys.stdin)\n"
                 f"open({str(seen)!r}, 'w').write(open(f'/proc/{{s[\"pid\"]}}/cmdline').read())\n")
    bundle.config["hooks"] = {"poststart": [{"path": str(hook)}]}
    bundle.set_args("sleep", "30")
    create(rt, bundle, "ps2")
    rt.run("start", "ps2")
    assert seen.read_text().split("\0")[:2] == ["sleep", "30"]
    rt.run("delete", "--force", "ps2")
