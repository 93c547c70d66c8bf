"""seccomp from inside containers: errno values, argument filters, KILL/TRAP/TRACE/LOG, flags, NOTIFY with a
listener, the real containerd and podman profiles, exec'd processes, bad profiles, and the cache."""
import json
import os
import shutil
import subprocess

import pytest

from tests.integration.test_errors import check_failure
from tests.support.bundle import CONFIGS, real_config, real_profile
from tests.support.helpers import create, read, run_to_completion, wait_for
from tests.support.runtime import HERE
from tests.support.seccomp_agent import Agent

ALLOW_DEFAULT = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}
NR = {"getpriority": 140, "personality": 135, "nfsservctl": 180, "clone3": 435}
SIGSYS_STATUS = 128 + 31


def profile(*rules, **extra):
    return dict(ALLOW_DEFAULT, syscalls=list(rules), **extra)


def with_profile(bundle, sc, *args, nnp=True):
    bundle.config["linux"]["seccomp"] = sc
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    if args:
        bundle.config["process"]["args"] = list(args)
    return bundle.save()


@pytest.fixture(scope="session")
def sysc_binary(tmp_path_factory):
    """tests/support/sysc.c built static: one raw syscall with exact arguments."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the syscall helper")
    out = str(tmp_path_factory.mktemp("sysc") / "sysc")
    subprocess.run(["gcc", "-static", "-O2", "-o", out, os.path.join(HERE, "sysc.c")], check=True)
    return out


@pytest.fixture
def sysc(bundle, sysc_binary):
    shutil.copy2(sysc_binary, os.path.join(bundle.rootfs, "bin", "sysc"))
    return bundle


def run_fg(rt, bundle, cid):
    """`run` in the foreground: (exit status, output)."""
    out = os.path.join(os.path.dirname(bundle.path), f"{cid}.out")
    with open(out, "w") as o, open(os.devnull) as devnull:
        p = rt.run("run", "--bundle", bundle.path, cid, stdin=devnull, stdout=o, stderr=o, check=False)
    return p.returncode, read(out)


def seccomp_status(out):
    return [line.split(":")[1].strip() for line in out.splitlines() if line.startswith("Seccomp")]


def dmesg():
    p = subprocess.run(["dmesg"], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def auditd_running():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "auditd":
                    return True
        except OSError:
            pass
    return False


def audit_line_for(pid, code):
    text = dmesg() or ""
    return [line for line in text.splitlines() if f" pid={pid} " in line and f"code={code}" in line]


# ------------------------------------------------------------------ agnostic: pyrunc and runc alike

@pytest.mark.agnostic
@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_errno_default_and_explicit(rt, bundle, nnp):
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                                 {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100}),
                 "sh", "-c", "grep ^Seccomp /proc/self/status; mkdir /tmp/a; rmdir /tmp; echo done", nnp=nnp)
    out = run_to_completion(rt, bundle, f"errno-{nnp}")
    assert seccomp_status(out) == ["2", "1"]                  # filter mode, one filter
    assert "mkdir: can't create directory '/tmp/a': Operation not permitted" in out
    assert "rmdir: '/tmp': Network is down" in out           # errnoRet 100 = ENETDOWN
    assert "done" in out


@pytest.mark.agnostic
@pytest.mark.crun_differs("crun 1.8 has no -ENOSYS stub above the profile's syscalls")
def test_default_errno_ret_and_enosys_for_newer_syscalls(rt, sysc):
    sc = real_profile("containerd-ctr-seccomp.json")
    sc["defaultErrnoRet"] = 6
    with_profile(sysc, sc, "sh", "-c", f"sysc {NR['nfsservctl']}; sysc {NR['clone3']}; sysc 1000")
    out = run_to_completion(rt, sysc, "deferrno").split("\n")
    assert out[0] == "errno 6"       # not allowed: defaultErrnoRet (ENXIO)
    assert out[1] == "errno 38"      # the profile's own rule for clone3
    assert out[2] == "errno 38"      # above every syscall the profile names: runc's -ENOSYS stub


@pytest.mark.agnostic
def test_argument_filters(rt, sysc):
    gp = NR["getpriority"]           # getpriority(which, who): harmless, two arguments
    rules = [
        # distinct arguments: AND
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 12345, "op": "SCMP_CMP_EQ"}]},
        # the same argument twice: OR
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 34,
         "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 35,
         "args": [{"index": 0, "value": 0xFF00, "valueTwo": 0x1200, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 36,
         "args": [{"index": 0, "value": 0xFFFFFFF0, "op": "SCMP_CMP_GT"}]},
    ]
    calls = [f"{gp} 0 12345", f"{gp} 0 0", f"{gp} 1 12345", f"{gp} 7 0", f"{gp} 8 0",
             f"{NR['personality']} 0x1234", f"{NR['personality']} 0x2234", f"{NR['personality']} 0xffffffff"]
    with_profile(sysc, profile(*rules), "sh", "-c", "; ".join(f"sysc {c}" for c in calls))
    out = run_to_completion(rt, sysc, "args").split("\n")
    assert out[0] == "errno 33"                    # both conditions hold
    assert out[1].startswith("ok ")                # only one does
    assert out[2] == "errno 3"                     # only one does: the kernel's ESRCH
    assert out[3] == out[4] == "errno 34"          # either value of arg 0
    assert out[5] == "errno 35"                    # (0x1234 & 0xff00) == 0x1200
    assert out[6].startswith("ok ")
    assert out[7] == "errno 36"                    # > 0xfffffff0


@pytest.mark.agnostic
@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_kill_and_trap_end_the_process_by_sigsys(rt, bundle, action):
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": action}), "mkdir", "/tmp/x")
    status, _ = run_fg(rt, bundle, "kill-" + action.lower().replace("_", "-"))
    assert status == SIGSYS_STATUS
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp", "x"))


@pytest.mark.agnostic
def test_trace_without_tracer_is_enosys(rt, bundle):
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_TRACE"}),
                 "sh", "-c", "mkdir /tmp/t")
    assert "Function not implemented" in run_to_completion(rt, bundle, "trace")


@pytest.mark.agnostic
def test_log_action_lets_the_call_through_and_logs(rt, bundle):
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}), "mkdir", "/tmp/logged")
    assert_logged(rt, bundle, "log", "0x7ffc0000")
    assert os.path.isdir(os.path.join(bundle.rootfs, "tmp", "logged"))


def assert_logged(rt, bundle, cid, code):
    """The kernel's audit line (printed to dmesg when no auditd listens) for the container's init.
    printk rate-limits audit lines (10 per 5 s), so a missed line is retried with a new container."""
    if dmesg() is None:
        pytest.skip("dmesg is not readable here")
    if not os.path.exists("/proc/self/loginuid"):
        pytest.skip("this kernel has no syscall auditing: seccomp logs nothing")
    if auditd_running():
        pytest.skip("auditd takes the audit lines, not dmesg")
    found = []

    def attempt():
        create(rt, bundle, cid)
        pid = rt.state(cid)["pid"]
        rt.run("start", cid)
        wait_for(lambda: rt.status(cid) == "stopped", what=f"{cid} to stop")
        rt.run("delete", cid)
        found.extend(audit_line_for(pid, code))
        return found
    wait_for(attempt, timeout=15, interval=1, what=f"an audit line with code={code}")


@pytest.mark.agnostic
def test_early_filter_in_a_user_namespace_for_a_non_root_user(rt, bundle):
    """Without NNP the filter is loaded while the init still holds CAP_SYS_ADMIN (in its user namespace)."""
    from tests.integration.test_namespaces import open_path_to
    open_path_to(bundle.rootfs)
    os.chown(bundle.rootfs, 100000, 100000)
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100}),
                 "sh", "-c", "id -u; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/u", nnp=False)
    out = run_to_completion(rt, bundle, "userns")
    assert out.split("\n")[:3] == ["1000", "NoNewPrivs:\t0", "Seccomp:\t2"]
    assert "Network is down" in out


@pytest.mark.agnostic
def test_startup_syscalls_may_be_denied(rt, bundle):
    """runc's check: a runtime must not need these after the filter (here loaded early: no NNP)."""
    with_profile(bundle, profile({"names": ["close_range", "fsopen", "fsconfig", "fspick", "openat2", "open_tree",
                                            "move_mount", "mount_setattr"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}),
                 "sh", "-c", "echo fine", nnp=False)
    assert run_to_completion(rt, bundle, "compat") == "fine\n"


@pytest.mark.agnostic
@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_a_profile_that_denies_exit_lets_the_init_die(rt, bundle, nnp):
    """A profile that allows nothing, exit_group and exit included: once the filter is loaded no call
    can end the init, yet it must die (libc's _exit retries them forever: a PID 1 spinning at full CPU
    shown as `running`, and a `run` that never returns).  runc's init dies too."""
    with_profile(bundle, {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}, "true", nnp=nnp)
    p = rt.run("run", "-b", bundle.path, f"noexit-{nnp}", check=False, timeout=15)
    assert p.returncode != 0, p.stderr
    p = create(rt, bundle, f"noexit2-{nnp}", check=False)
    if p.returncode == 0:
        rt.run("start", f"noexit2-{nnp}", check=False)
        wait_for(lambda: rt.state(f"noexit2-{nnp}")["status"] == "stopped", what="the init's death")
        rt.run("delete", f"noexit2-{nnp}")


def notify_answer(n, path):
    if path == "/tmp/answered":
        return ("errno", 28)         # ENOSPC, chosen by the agent
    return ("continue",)             # everything else really happens


@pytest.mark.agnostic
@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_notify_round_trip(rt, bundle, tmp_path, nnp):
    sock = str(tmp_path / "agent.sock")
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
                                 listenerPath=sock, listenerMetadata="answer=ENOSPC"),
                 "sh", "-c", "mkdir /tmp/answered; mkdir /tmp/passed && echo made", nnp=nnp)
    cid = f"notify-{nnp}"
    with Agent(sock, notify_answer) as agent:
        p = create(rt, bundle, cid)
        pid = rt.state(cid)["pid"]
        rt.run("start", cid)
        wait_for(lambda: rt.status(cid) == "stopped", what="exit")
        rt.run("delete", cid)
    out = read(p.out_path)
    assert "mkdir: can't create directory '/tmp/answered': No space left on device" in out
    assert "made" in out and os.path.isdir(os.path.join(bundle.rootfs, "tmp", "passed"))
    assert {s[2] for s in agent.seen} >= {"/tmp/answered", "/tmp/passed"}
    (state, nfds), = agent.states
    assert nfds == 1
    assert state["fds"] == ["seccompFd"] and state["metadata"] == "answer=ENOSPC" and state["pid"] == pid
    assert state["state"]["id"] == cid and state["state"]["pid"] == pid
    assert state["state"]["bundle"] == bundle.path and state["state"]["status"] == "creating"


@pytest.mark.agnostic
@pytest.mark.parametrize("name", ["containerd-ctr-seccomp.json", "cri-container.json", "podman-default.json",
                                  "cri-sandbox.json"])
def test_real_profiles_run_busybox(rt, bundle, name):
    """containerd's and podman's default profiles (with their noNewPrivileges): busybox works normally."""
    config = real_config(name)
    with_profile(bundle, config["linux"]["seccomp"],
                 "sh", "-c", "echo hi; mkdir /tmp/d && ls -d /tmp/d; id -u; grep ^Seccomp: /proc/self/status; "
                             "ps -o pid,comm >/dev/null && date +%Y >/dev/null && sleep 0 && echo ok",
                 nnp=config["process"].get("noNewPrivileges", False))
    assert run_to_completion(rt, bundle, "real").split("\n") == ["hi", "/tmp/d", "0", "Seccomp:\t2", "ok", ""]


@pytest.mark.agnostic
def test_exec_carries_the_filter(rt, bundle):
    """Processes started by `exec` get the container's filter (runc's setns init)."""
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100}),
                 "sleep", "1000")
    create(rt, bundle, "ex")
    rt.run("start", "ex")
    try:
        p = rt.run("exec", "ex", "sh", "-c", "grep ^Seccomp /proc/self/status; mkdir /tmp/e", check=False)
        assert seccomp_status(p.stdout) == ["2", "1"]
        assert "Network is down" in p.stdout + p.stderr
    finally:
        rt.run("delete", "--force", "ex")


# ------------------------------------------------------------------ flags (runc 1.1 refuses every flag)

@pytest.mark.agnostic
@pytest.mark.skipif_reference("runc 1.1 supports no seccomp flags")
@pytest.mark.parametrize("flags,value", [(None, 4), ([], 0), (["SECCOMP_FILTER_FLAG_TSYNC"], 0),
                                         (["SECCOMP_FILTER_FLAG_LOG"], 2),
                                         (["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"], 6)])
def test_flags_value(rt, bundle, tmp_path, flags, value):
    """As runc's seccomp.bats: the flags reach seccomp(2) (the debug line) and the filter works."""
    sc = profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"})
    if flags is not None:
        sc["flags"] = flags
    with_profile(bundle, sc, "sh", "-c", "mkdir /tmp/f")
    log = str(tmp_path / "debug.log")
    out = os.path.join(tmp_path, "f.out")
    with open(out, "w") as o:
        rt.run("--debug", "run", "--bundle", bundle.path, "flags", log=log, stdout=o, stderr=o, check=False)
    assert "Operation not permitted" in read(out)
    assert f"seccomp filter flags: {value}" in read(log)


@pytest.mark.agnostic
@pytest.mark.skipif_reference("runc 1.1 supports no seccomp flags")
def test_log_flag_logs_errno(rt, bundle):
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                                 flags=["SECCOMP_FILTER_FLAG_LOG"]), "mkdir", "/tmp/f")
    assert_logged(rt, bundle, "logflag", "0x50000")   # the action, without its data


@pytest.mark.agnostic
@pytest.mark.skipif_reference("runc 1.1 supports no seccomp flags")
def test_wait_killable_recv_with_notify(rt, bundle, tmp_path):
    sock = str(tmp_path / "agent.sock")
    with_profile(bundle, profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}, listenerPath=sock,
                                 flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]),
                 "sh", "-c", "mkdir /tmp/answered")
    with Agent(sock, notify_answer) as agent:
        out = run_to_completion(rt, bundle, "wkr")
    assert "No space left on device" in out and len(agent.states) == 1


# ------------------------------------------------------------------ pyrunc: bad input, listener, cache

@pytest.mark.parametrize("sc,expect", [
    ({"defaultAction": "SCMP_ACT_NOPE"}, r"/linux/seccomp/defaultAction: unknown action 'SCMP_ACT_NOPE'"),
    (dict(ALLOW_DEFAULT, architectures=["SCMP_ARCH_Z80"]), r"/linux/seccomp/architectures/0: unknown architecture"),
    (profile({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}),
     r"/linux/seccomp/syscalls/0/args/0/op: unknown operator 'SCMP_CMP_ABOUT'"),
    (profile({"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}),
     r"/linux/seccomp/syscalls/0/errnoRet: SCMP_ACT_ALLOW takes no errno"),
    (profile({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}),
     r"/linux/seccomp/syscalls/0/errnoRet: 70000 is not an errno"),
    (profile({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}),
     r"/linux/seccomp/syscalls/0/args/0/index: 6 is not an argument index \(0-5\)"),
    (profile({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}), r"/linux/seccomp/listenerPath: required by SCMP_ACT_NOTIFY"),
    # libseccomp 2.5 (Debian 12) has no SuperH; 2.6 (Debian 13) refuses its byte order in an x86 filter (EDOM)
    (dict(ALLOW_DEFAULT, architectures=["SCMP_ARCH_SHEB"]),
     r"/linux/seccomp/architectures: (sheb is not supported by libseccomp|adding sheb: Numerical argument out of domain)"),
])
def test_bad_profile_is_one_line(rt, bundle, tmp_path, sc, expect):
    with_profile(bundle, sc)
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "bad"], r"create bad: config\.json: " + expect, "bad")


def test_missing_listener_fails_create(rt, bundle, tmp_path):
    with_profile(bundle, profile({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
                                 listenerPath=str(tmp_path / "nobody.sock")))
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "nol"],
                  r"create nol: failed to connect with seccomp agent specified in the seccomp profile: "
                  r"dial unix .*nobody\.sock: connect: no such file or directory", "nol")


def test_filter_is_compiled_once(rt, bundle, tmp_path):
    with_profile(bundle, real_profile("containerd-ctr-seccomp.json"), "true")
    logs = []
    for cid in ("c1", "c2"):
        log = str(tmp_path / f"{cid}.log")
        with open(os.devnull, "w") as null:
            rt.run("--debug", "create", "--bundle", bundle.path, cid, log=log, stdout=null, stderr=null)
        logs.append(read(log))
        rt.run("delete", "--force", cid)
    assert "seccomp: compiled" in logs[0] and "from the cache" not in logs[0]
    assert "from the cache" in logs[1] and "seccomp: compiled" not in logs[1]
    assert len(os.listdir(os.path.join(rt.root, "@seccomp"))) == 1
    assert rt.ids() == []            # the cache is not a container


def test_state_keeps_the_profile_for_exec(rt, bundle):
    sc = profile({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"})
    with_profile(bundle, sc, "true")
    create(rt, bundle, "keep")
    with open(os.path.join(rt.root, "keep", "state.json")) as f:
        saved = json.load(f)["config"]["seccomp"]
    rt.run("delete", "keep")
    assert saved == sc


def test_every_captured_profile_compiles(tmp_path):
    from pyrunc.linux import seccomp
    if not os.path.isdir(CONFIGS):
        pytest.skip(f"{CONFIGS} is absent")
    seen = 0
    for name in sorted(os.listdir(CONFIGS)):
        if name.endswith(".json"):
            with open(os.path.join(CONFIGS, name)) as f:
                sc = json.load(f).get("linux", {}).get("seccomp")
            if sc:
                assert seccomp.check(sc) == [], name
                entry, bpf = seccomp.prepare(sc, str(tmp_path))
                assert entry["bpf_len"] == len(bpf) > 0
                seen += 1
    assert seen >= 2
