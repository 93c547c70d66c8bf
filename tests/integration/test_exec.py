"""`exec`: a new process in a running container, as containerd and podman start them."""
import json
import os

import pytest

from tests.support.console import ConsoleSocket, read_all
from tests.conftest import pure_cgroup_v2 as pure_v2
from tests.integration.test_seccomp import sysc, sysc_binary  # noqa: F401  (fixtures)
from tests.support.helpers import create, open_path_to, proc_status, read, wait_for
from tests.support.owncgroup import hierarchies

pytestmark = pytest.mark.agnostic


def ns(pid, name):
    return os.readlink(f"/proc/{pid}/ns/{name}")


def test_exec_joins_namespaces_and_returns_exit_code(rt, running, tmp_path):
    p = rt.run("exec", running, "sh", "-c", "echo $$; readlink /proc/self/ns/net; exit 5", check=False)
    assert p.returncode == 5
    lines = p.stdout.split()
    assert lines[0] != "1"
    init = rt.state(running)["pid"]
    assert lines[1] == ns(init, "net")


@pytest.mark.crun_differs("crun 1.8's exec has no --additional-gids")
def test_exec_user_cwd_env(rt, running):
    p = rt.run("exec", "-u", "1000:1000", "-g", "5", "--cwd", "/tmp", "-e", "FOO=bar", running,
               "sh", "-c", "id; pwd; echo $FOO")
    out = p.stdout.splitlines()
    assert out[0].startswith("uid=1000(user) gid=1000(user) groups=")
    assert "5(tty)" in out[0]
    assert out[1:] == ["/tmp", "bar"]


@pytest.mark.crun_differs("crun 1.8's exec has no --additional-gids")
def test_exec_additional_gids_are_a_set(rt, running):
    p = rt.run("exec", "-u", "1000:1000", "-g", "6", "-g", "5", "-g", "6", running, "grep", "^Groups", "/proc/self/status")
    assert p.stdout.split()[1:] == ["5", "6"]


def test_exec_process_json(rt, running, tmp_path):
    proc = {"args": ["sh", "-c", "echo $A; id -u; cat /proc/self/oom_score_adj"], "env": ["A=from-json", "PATH=/bin"],
            "cwd": "/", "user": {"uid": 1000, "gid": 1000}, "oomScoreAdj": 900}
    f = tmp_path / "process.json"
    f.write_text(json.dumps(proc))
    p = rt.run("exec", "--process", str(f), running)
    out = p.stdout.split()
    assert out[:2] == ["from-json", "1000"]
    if not os.environ.get("OCI_RUNTIME"):
        assert out[2] == "900"    # runc 1.1 ignores process.oomScoreAdj for exec; the spec does not


def test_exec_process_json_without_capabilities_gets_the_containers(rt, running, tmp_path):
    """runc's init falls back to the container's capabilities for a process that names none."""
    f = tmp_path / "process.json"
    f.write_text(json.dumps({"args": ["/bin/grep", "CapEff", "/proc/self/status"], "cwd": "/"}))
    init = proc_status(rt.state(running)["pid"])
    assert rt.run("exec", "--process", str(f), running).stdout.split()[1] == init["CapEff"].strip()


def test_exec_process_json_rlimits_of_64_bits(rt, running, tmp_path):
    import resource
    from tests.integration.test_process import core_limits
    if resource.getrlimit(resource.RLIMIT_CORE)[1] != resource.RLIM_INFINITY:
        pytest.skip("the caller's hard core limit is not unlimited, and raising it needs CAP_SYS_RESOURCE")
    f = tmp_path / "process.json"
    f.write_text(json.dumps({"args": ["/bin/cat", "/proc/self/limits"], "cwd": "/",
                             "rlimits": [{"type": "RLIMIT_CORE", "soft": 2**63, "hard": 2**64 - 1}]}))
    assert core_limits(rt.run("exec", "--process", str(f), running).stdout) == (str(2**63), "unlimited")


def test_exec_process_json_without_cwd_is_refused(rt, running, tmp_path):
    f = tmp_path / "process.json"
    f.write_text(json.dumps({"args": ["true"]}))
    p = rt.run("exec", "--process", str(f), running, check=False)
    assert p.returncode == 255 and "cwd" in p.stderr.lower(), p.stderr


def test_exec_detached_pid_file(rt, running, tmp_path):
    pidf = tmp_path / "e.pid"
    with open(os.devnull, "w") as null:
        rt.run("exec", "-d", "--pid-file", str(pidf), running, "sleep", "30", stdout=null, stderr=null)
    text = pidf.read_text()
    assert text.isdigit() and not text.endswith("\n")
    pid = int(text)
    assert proc_status(pid)["NSpid"].split()[1] != "1"
    assert ns(pid, "pid") == ns(rt.state(running)["pid"], "pid")
    os.kill(pid, 9)


def test_exec_missing_binary(rt, running):
    p = rt.run("exec", running, "no-such-thing", check=False)
    assert p.returncode != 0
    assert "no-such-thing" in p.stderr


def test_exec_into_stopped_container_fails(rt, bundle):
    bundle.set_args("true")
    create(rt, bundle, "st")
    rt.run("start", "st")
    wait_for(lambda: rt.status("st") == "stopped", what="exit")
    p = rt.run("exec", "st", "true", check=False)
    assert p.returncode != 0
    rt.run("delete", "st")


def test_exec_cap_is_never_inheritable(rt, running):
    """CVE-2022-29162: --cap adds to bounding/effective/permitted, not inheritable."""
    p = rt.run("exec", "--cap", "CAP_NET_ADMIN", running, "grep", "^CapInh", "/proc/self/status")
    assert int(p.stdout.split()[1], 16) == 0


def test_exec_tty_console_socket(rt, running, tmp_path):
    cs = ConsoleSocket(tmp_path / "console.sock")
    try:
        pidf = tmp_path / "tty.pid"
        with open(os.devnull, "w") as null:
            rt.run("exec", "-d", "-t", "--console-socket", cs.path, "--pid-file", str(pidf), running,
                   "sh", "-c", "tty; echo done-tty", stdout=null, stderr=null)
        data, fds, rest = cs.receive()
        assert len(fds) == 1 and rest == b""
        out = read_all(fds[0], until=b"done-tty")
        os.close(fds[0])
        assert b"/dev/pts/" in out and b"done-tty" in out
    finally:
        cs.close()


def test_create_console_socket_and_size(rt, bundle, tmp_path):
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": 33, "width": 111}
    bundle.set_args("sh", "-c", "tty; stty size; stat -c %t,%T /dev/console; echo end-of-test")
    cs = ConsoleSocket(tmp_path / "c.sock")
    try:
        create(rt, bundle, "tty1", extra=["--console-socket", cs.path])
        data, fds, rest = cs.receive()
        assert len(fds) == 1 and len(data) >= 1 and rest == b""
        rt.run("start", "tty1")
        out = read_all(fds[0], until=b"end-of-test")
        os.close(fds[0])
        assert b"/dev/pts/0" in out
        assert b"33 111" in out
        assert b"88,0" in out      # /dev/console is the pty (major 136 = 0x88)
        wait_for(lambda: rt.status("tty1") == "stopped", what="exit")
        rt.run("delete", "tty1")
    finally:
        cs.close()


def _make_sub_cgroups(cid, name="sub"):
    """`name` below the container's cgroup in every hierarchy where it has one (default cgroupsPath /<id>)."""
    made = []
    for mp in hierarchies():
        d = os.path.join(mp, cid)
        if os.path.isdir(d):
            os.mkdir(os.path.join(d, name))
            for knob in ("cpuset.cpus", "cpuset.mems"):     # a v1 cpuset takes no task until set
                if os.path.exists(os.path.join(d, knob)) and not read(os.path.join(d, name, knob)).strip():
                    with open(os.path.join(d, name, knob), "w") as f:
                        f.write(read(os.path.join(d, knob)))
            made.append(mp)
    return made


def test_exec_cgroup_runs_in_an_existing_sub_cgroup(rt, running):
    """runc's exec --cgroup: one path for every hierarchy, or controller:path per v1 hierarchy."""
    made = _make_sub_cgroups(running)
    assert made
    lines = rt.run("exec", "--cgroup", "sub", running, "cat", "/proc/self/cgroup").stdout.splitlines()
    # the container's cgroup namespace is rooted at its cgroup: the sub-cgroup reads /sub
    assert lines and all(line.endswith(":/sub") for line in lines), lines
    if pure_v2():
        return
    lines = rt.run("exec", "--cgroup", "pids:sub", running, "cat", "/proc/self/cgroup").stdout.splitlines()
    assert [line.split(":")[1] for line in lines if line.endswith(":/sub")] == ["pids"], lines


@pytest.mark.parametrize("args,words", [
    (["--cgroup", "nosuch"], "no such file or directory"),
    (["--cgroup", "a:x", "--cgroup", "y"], "invalid --cgroup argument: y (missing <controller>: prefix)"),
    pytest.param(["--cgroup", ",pids:x"], "invalid --cgroup argument: ,pids:x (empty <controller> prefix)",
                 marks=pytest.mark.skipif_reference("runc 1.2's parser")),
    pytest.param(["--cgroup", "pids:x", "--cgroup", "pids:y"], "controller pids specified multiple times",
                 marks=pytest.mark.skipif_reference("runc 1.2's parser")),
])
def test_exec_cgroup_refusals(rt, running, args, words):
    p = rt.run("exec", *args, running, "true", check=False)
    assert p.returncode == 255 and words in p.stderr.lower(), p.stderr


SYS_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING = 250, 0, -3


def session_keyring_of_caller():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(SYS_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)


@pytest.mark.agnostic
@pytest.mark.parametrize("user_namespace,no_new_keyring", [(False, False), (True, False), (False, True)])
def test_exec_joins_the_containers_session_keyring(rt, sysc, user_namespace, no_new_keyring, is_pyrunc):
    """runc's exec joins the container's session keyring ("_ses.<id>", the init's), never keeps
    the caller's: keys the caller's session holds stay out of the container's processes.  (In a
    user namespace runc 1.1's exec makes a new one: pyrunc's joins the init's there too.)  With
    create's --no-new-keyring, the init and every exec keep the caller's."""
    if user_namespace:
        open_path_to(sysc.rootfs)
        for d in (sysc.rootfs, os.path.join(sysc.rootfs, "tmp")):
            os.chown(d, 100000, 100000)
        sysc.config["linux"]["namespaces"].append({"type": "user"})
        for k in ("uidMappings", "gidMappings"):
            sysc.config["linux"][k] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    get = f"sysc {SYS_KEYCTL} {KEYCTL_GET_KEYRING_ID} {KEY_SPEC_SESSION_KEYRING} 0"
    sysc.set_args("sh", "-c", f"{get} > /tmp/init.ses; exec sleep 100")
    create(rt, sysc, "keys", extra=["--no-new-keyring"] if no_new_keyring else [])
    try:
        rt.run("start", "keys")
        init_file = os.path.join(sysc.rootfs, "tmp", "init.ses")
        wait_for(lambda: os.path.exists(init_file) and read(init_file).strip(), what="the init's keyring")
        init = read(init_file).split()
        exec_ = rt.run("exec", "keys", "sh", "-c", get).stdout.split()
        assert init[0] == "ok" and exec_[0] == "ok", (init, exec_)
        if no_new_keyring:
            assert int(exec_[1]) == int(init[1]) == session_keyring_of_caller()
            return
        assert int(exec_[1]) != session_keyring_of_caller()
        if is_pyrunc or not user_namespace:
            assert exec_ == init
    finally:
        rt.run("delete", "--force", "keys")
