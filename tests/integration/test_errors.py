"""Bad input: one line `verb object: reason`, exit 1 (exec: 255), the same line last in --log, nothing left behind."""
import json
import os
import re
import subprocess

import pytest

from tests.support.helpers import create, read

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def last_error(log_path):
    errors = [json.loads(line) for line in open(log_path) if '"error"' in line]
    assert errors, "no error line in --log"
    last = errors[-1]
    assert last["level"] == "error"
    assert RFC3339.match(last["time"]), last["time"]
    return last["msg"]


def check_failure(rt, tmp_path, args, expect, cid=None):
    """Run a failing command; check its exit status (runc's: 255 for `exec` past its command line,
    else 1), one stderr line matching `expect`, the same last --log line."""
    log = str(tmp_path / "log.json")
    p = rt.run(*args, check=False, log=log, log_format="json", stdin=open(os.devnull))
    verb = next(a for a in args if not a.startswith("-"))
    assert p.returncode == (255 if verb == "exec" else 1), (args, p.returncode, p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert re.search(expect, lines[0]), lines[0]
    assert re.match(rf"{re.escape(verb)}[ :]", lines[0]), lines[0]
    assert last_error(log) == lines[0]
    if cid:
        assert cid not in rt.ids()
    assert "Traceback" not in p.stderr
    return lines[0]


def write_config(bundle, text):
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write(text)


def test_malformed_json(rt, bundle, tmp_path):
    write_config(bundle, '{"ociVersion": "1.0.2", "process": {')
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "e1"], r"create e1: .*config\.json.*invalid JSON.*line 1", "e1")


def test_wrong_types_name_their_fields(rt, bundle, tmp_path):
    bundle.config["process"]["args"] = "sh"
    bundle.config["process"]["user"]["uid"] = -1
    bundle.config["hostname"] = 7
    bundle.save()
    msg = check_failure(rt, tmp_path, ["create", "-b", bundle.path, "e2"], r"create e2: ", "e2")
    assert "/process/args: expected array, got string" in msg
    assert "/process/user/uid: -1 is out of range" in msg
    assert "/hostname: expected string, got number" in msg


def test_unknown_namespace_type(rt, bundle, tmp_path):
    bundle.config["linux"]["namespaces"].append({"type": "bogus"})
    bundle.save()
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "e3"],
                  r"/linux/namespaces/\d+/type: unknown namespace type 'bogus'", "e3")


def test_missing_rootfs(rt, bundle, tmp_path):
    bundle.config["root"]["path"] = "nope"
    bundle.save()
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "e4"], r"/root/path: rootfs .*nope does not exist", "e4")


def test_missing_config(rt, tmp_path):
    os.makedirs(tmp_path / "empty")
    check_failure(rt, tmp_path, ["create", "-b", str(tmp_path / "empty"), "e5"], r"cannot read .*config\.json", "e5")


def test_missing_binary_names_it(rt, bundle, tmp_path):
    bundle.set_args("nonexistent-program")
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "e6"],
                  r'exec: "nonexistent-program": executable file not found in \$PATH', "e6")


def test_not_executable(rt, bundle, tmp_path):
    with open(os.path.join(bundle.rootfs, "data.txt"), "w") as f:
        f.write("x")
    bundle.set_args("/data.txt")
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "e7"], r"permission denied", "e7")


def test_duplicate_id(rt, bundle, tmp_path):
    create(rt, bundle, "dup")
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "dup"], r"create dup: container with id dup already exists")
    assert rt.status("dup") == "created"
    rt.run("delete", "dup")


def test_invalid_id(rt, bundle, tmp_path):
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "../x"], r"invalid container id")


def test_bad_signal(rt, bundle, tmp_path):
    create(rt, bundle, "sig")
    check_failure(rt, tmp_path, ["kill", "sig", "SIGNOPE"], r"kill sig: unknown signal 'SIGNOPE'")
    rt.run("delete", "sig")


def test_wrong_state(rt, bundle, tmp_path):
    bundle.set_args("true")
    create(rt, bundle, "ws")
    rt.run("start", "ws")
    from tests.support.helpers import wait_for
    wait_for(lambda: rt.status("ws") == "stopped", what="exit")
    check_failure(rt, tmp_path, ["start", "ws"], r"start ws: cannot start a container that has stopped")
    rt.run("delete", "ws")


def test_exec_in_a_paused_container_in_runcs_words(rt, running, tmp_path):
    rt.run("pause", running)
    check_failure(rt, tmp_path, ["exec", running, "true"],
                  rf"^exec {running}: cannot exec in a paused container \(use --ignore-paused to override\)$")
    rt.run("resume", running)


def without_namespace(kind):
    return lambda c: c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != kind])


@pytest.mark.parametrize("change, reason", [
    (lambda c: c["process"].update(cwd="rel"), "/process/cwd: Cwd must be an absolute path"),
    (lambda c: c["process"].update(env=["NOEQ"]), '/process/env/0: invalid environment variable: "NOEQ"'),
    (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
     "/process/rlimits/0/type: wrong rlimit value: RLIMIT_FOO"),
    (lambda c: (without_namespace("network")(c), c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"})),
     '/linux/sysctl/net.ipv4.ip_forward: sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
    (lambda c: (without_namespace("ipc")(c), c["linux"].update(sysctl={"kernel.msgmax": "1"})),
     '/linux/sysctl/kernel.msgmax: sysctl "kernel.msgmax" is not allowed in the hosts ipc namespace'),
], ids=["cwd", "env", "rlimit", "net-sysctl", "ipc-sysctl"])
def test_config_errors_in_runcs_words(rt, bundle, tmp_path, change, reason):
    """The reason after the field's pointer is runc 1.1.5's (podman and containerd match on runc's words)."""
    change(bundle.config)
    bundle.save()
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "words"],
                  rf"^create words: config\.json: {re.escape(reason)}$", "words")


def test_unknown_id_message(rt, tmp_path):
    check_failure(rt, tmp_path, ["state", "ghost"], r"^state ghost: container ghost does not exist$")


def test_terminal_without_console_socket(rt, bundle, tmp_path):
    bundle.config["process"]["terminal"] = True
    bundle.save()
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "tty"], r"console-socket", "tty")


def test_unknown_flag_and_command(rt, tmp_path):
    check_failure(rt, tmp_path, ["create", "--bogus", "x"], r"^create: flag provided but not defined: --bogus$")
    check_failure(rt, tmp_path, ["frobnicate"], r"frobnicate.*unknown command")


def test_log_is_created_even_on_success(rt, bundle, tmp_path):
    log = tmp_path / "sub.log"
    rt.run("list", log=str(log), log_format="json")
    assert log.exists()


def test_failed_create_leaves_nothing(rt, bundle, tmp_path):
    """A failure inside the init (after namespaces and cgroups exist) still cleans everything up."""
    bundle.config["mounts"].append({"destination": "/x", "type": "bind", "source": "/does/not/exist",
                                    "options": ["bind"]})
    bundle.save()
    p = create(rt, bundle, "late", check=False)
    assert p.returncode == 1
    assert "/does/not/exist" in read(p.out_path)
    # the rt fixture checks that no cgroup, process, mount or state dir is left


@pytest.mark.parametrize("field,value", [("apparmorProfile", "myprofile"),
                                         ("selinuxLabel", "system_u:system_r:container_t:s0")])
def test_confinement_is_never_silently_dropped(rt, bundle, tmp_path, field, value):
    """A process that asks for an LSM profile this host lacks is refused at create, one line, rather than
    run unconfined (runc fails it too: tests/integration/test_lsm_absent.py)."""
    from pyrunc.linux import lsm
    if lsm.apparmor_enabled() or lsm.selinux_enabled():
        pytest.skip("this host has AppArmor or SELinux")
    bundle.config["process"][field] = value
    bundle.save()
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "lsm"],
                  rf"/process/{field}: (unable to apply apparmor profile|selinux label is specified)", "lsm")


@pytest.mark.parametrize("user, what", [("4294967296", "uid"), ("0:4294967295", "gid"), ("1²", "uid"),
                                        ("1000:", "gid")])
def test_exec_user_out_of_range(rt, running, tmp_path, user, what):
    """An id beyond 32 bits (or (uid_t)-1) is one line, not a traceback (runc wraps it around)."""
    check_failure(rt, tmp_path, ["exec", "--user", user, running, "true"],
                  rf"^exec {running}: parsing '.*' as int for {what} failed$")


def test_refused_fork_is_one_line(rt, bundle, tmp_path, is_pyrunc):
    """A fork the kernel refuses (EAGAIN: the caller's pids limit reached) is one line naming the call,
    not `internal error`, and leaves nothing (runc, a Go program, cannot even start its threads there)."""
    from tests.support.cgroups import v1_mounts
    if not is_pyrunc:
        pytest.skip("runc's Go runtime panics without a thread to spare")
    pids = v1_mounts().get("pids")
    if pids is None:
        pytest.skip("needs a v1 pids hierarchy")
    cg = os.path.join(pids, f"forkless.{os.getpid()}")
    os.mkdir(cg)
    try:
        with open(os.path.join(cg, "pids.max"), "w") as f:
            f.write("1")   # the runtime itself, moved in before its exec: not one fork more

        def join():
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        log = str(tmp_path / "log.json")
        p = subprocess.run(rt.argv("create", "-b", bundle.path, "nofork", log=log, log_format="json"),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, preexec_fn=join, timeout=60)
    finally:
        os.rmdir(cg)
    assert p.returncode == 1, p.stderr
    assert p.stderr == "create nofork: fork: Resource temporarily unavailable\n"
    assert last_error(log) == p.stderr.strip()
    assert "nofork" not in rt.ids()


@pytest.mark.parametrize("rdt, expect", [
    ({"l3CacheSchema": "L3:0=f"}, "intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled"),
    ({"memBwSchema": "MB:0=20"}, "intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled"),
    ({"closID": ".."}, 'invalid intelRdt.ClosID ".."')], ids=["cat", "mba", "closid"])
def test_intel_rdt_is_never_silently_dropped(rt, bundle, tmp_path, rdt, expect):
    """A cache or bandwidth schema this host cannot apply is refused at create, in runc's words
    (it was ignored: the container ran without it)."""
    from pyrunc.validate import resctrl_mounted
    if resctrl_mounted():
        pytest.skip("this host has resctrl")
    bundle.config["linux"]["intelRdt"] = rdt
    bundle.save()
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "rdt"], re.escape(expect) + "$", "rdt")


def test_memory_policy_the_kernel_refuses(rt, bundle, tmp_path):
    """A node this host does not have: set_mempolicy's EINVAL, one line, at create."""
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("a kernel without NUMA")
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "1023"}
    bundle.save()
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "numa"],
                  r"^create numa: setting the memory policy: Invalid argument$", "numa")
