"""The container process: capabilities, no_new_privs, user, umask, cwd, env, rlimits, fds, args."""
import json
import os
import signal
import subprocess

import pytest

from tests.support.helpers import create, read, run_to_completion, wait_for

pytestmark = pytest.mark.agnostic

CAP_BITS = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
            "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29}


def mask(*names):
    m = 0
    for n in names:
        m |= 1 << CAP_BITS[n]
    return m


def status_fields(out):
    return {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}


def test_capabilities_and_no_new_privs(rt, bundle):
    caps = bundle.config["process"]["capabilities"]
    caps["bounding"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"]
    caps["permitted"] = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    caps["effective"] = ["CAP_KILL"]
    caps["inheritable"] = ["CAP_NET_BIND_SERVICE"]
    caps["ambient"] = ["CAP_NET_BIND_SERVICE"]
    bundle.config["process"]["noNewPrivileges"] = True
    bundle.set_args("cat", "/proc/self/status")
    st = status_fields(run_to_completion(rt, bundle, "cap1"))
    # after execve: P' = ambient for root? no: root keeps P'=bounding-limited; effective = permitted
    assert int(st["CapBnd"], 16) == mask("CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN")
    assert int(st["CapInh"], 16) == mask("CAP_NET_BIND_SERVICE")
    assert int(st["CapAmb"], 16) == mask("CAP_NET_BIND_SERVICE")
    assert st["NoNewPrivs"] == "1"


def test_non_root_user_keeps_ambient_caps(rt, bundle):
    caps = bundle.config["process"]["capabilities"]
    for s in ("bounding", "permitted", "effective", "inheritable", "ambient"):
        caps[s] = ["CAP_NET_BIND_SERVICE"]
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 1000]}
    bundle.set_args("sh", "-c", "id; grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status")
    out = run_to_completion(rt, bundle, "cap2")
    assert "uid=1000(user) gid=1000(user)" in out
    assert "groups=5(tty),1000(user)" in out
    st = status_fields(out.split("\n", 1)[1])
    for k in ("CapEff", "CapPrm", "CapAmb"):
        assert int(st[k], 16) == mask("CAP_NET_BIND_SERVICE"), k


def test_additional_gids_are_a_set(rt, bundle):
    """A gid given twice is one supplementary group (runc's set; the kernel only sorts them)."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [6, 5, 1000, 5]}
    bundle.set_args("grep", "^Groups", "/proc/self/status")
    assert run_to_completion(rt, bundle, "gids").split()[1:] == ["5", "6", "1000"]


def test_no_new_privs_off_and_no_capabilities_field(rt, bundle):
    del bundle.config["process"]["capabilities"]
    bundle.config["process"]["noNewPrivileges"] = False
    bundle.set_args("grep", "-E", "^(NoNewPrivs|CapEff)", "/proc/self/status")
    st = status_fields(run_to_completion(rt, bundle, "cap3"))
    assert st["NoNewPrivs"] == "0"
    # without a capabilities object, runc drops them all
    assert int(st["CapEff"], 16) == 0


def test_umask_cwd_env_home(rt, bundle):
    p = bundle.config["process"]
    p["user"] = {"uid": 1000, "gid": 1000, "umask": 0o027}
    p["cwd"] = "/opt/here"
    p["env"] = ["PATH=/bin", "A=1", "A=2", "EMPTY="]
    bundle.set_args("sh", "-c", "umask; pwd; echo A=$A; echo HOME=$HOME; cat /proc/1/environ | tr '\\0' '\\n'")
    lines = run_to_completion(rt, bundle, "env1").splitlines()
    assert lines[0] == "0027"
    assert lines[1] == "/opt/here"
    assert lines[2] == "A=2"
    assert lines[3] == "HOME=/home/user"      # from the container's own /etc/passwd
    # as runc sets it: one entry per name, at its first position, with its last value
    assert lines[4:] == ["PATH=/bin", "A=2", "EMPTY=", "HOME=/home/user"]


@pytest.mark.crun_differs("crun 1.8 leaves HOME empty for a user missing from /etc/passwd")
def test_home_defaults_to_slash_for_unknown_user(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 4242, "gid": 4242}
    bundle.set_args("sh", "-c", "echo $HOME")
    assert run_to_completion(rt, bundle, "env2").strip() == "/"


def test_rlimits_and_oom_score_adj(rt, bundle):
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
                                           {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    bundle.config["process"]["oomScoreAdj"] = 500
    bundle.set_args("sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj")
    assert run_to_completion(rt, bundle, "rl1").split() == ["123", "456", "0", "500"]


def core_limits(text):
    """(soft, hard) of `Max core file size` in a /proc/PID/limits text."""
    return tuple(next(line for line in text.splitlines() if line.startswith("Max core file size")).split()[4:6])


@pytest.mark.parametrize("hard, shown", [(2**64 - 1, "unlimited"), (2**63, str(2**63))], ids=["infinity", "2^63"])
def test_rlimits_of_64_bits(rt, bundle, hard, shown):
    """2**64-1 is RLIM_INFINITY in a config (podman writes it for `--ulimit core=-1` and for the host's
    unlimited ones); every 64-bit value reaches the kernel as is (was: internal error, OverflowError)."""
    import resource
    if resource.getrlimit(resource.RLIMIT_CORE)[1] != resource.RLIM_INFINITY:
        pytest.skip("the caller's hard core limit is not unlimited, and raising it needs CAP_SYS_RESOURCE")
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 0, "hard": hard}]
    bundle.set_args("cat", "/proc/self/limits")
    assert core_limits(run_to_completion(rt, bundle, "rl64")) == ("0", shown)


def task_memory_policy(text):
    """The calling task's NUMA policy as the kernel words it: numa_maps shows it on every mapping
    without a policy of its own (mpol_to_str: `bind:0`, `interleave=static:0`, `local`)."""
    return text.splitlines()[0].split()[1]


@pytest.mark.skipif_reference("runc 1.1 has no memoryPolicy")
@pytest.mark.skipif(not os.path.exists("/proc/self/numa_maps"), reason="a kernel without NUMA")
@pytest.mark.parametrize("policy, shown", [
    ({"mode": "MPOL_BIND", "nodes": "0"}, "bind:0"),
    ({"mode": "MPOL_PREFERRED", "nodes": "0"}, "prefer:0"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, "interleave=static:0"),
    ({"mode": "MPOL_LOCAL"}, "local")], ids=["bind", "preferred", "interleave-static", "local"])
def test_memory_policy(rt, bundle, policy, shown):
    """linux.memoryPolicy is the container process's NUMA policy, and an exec'd process's too
    (it was ignored)."""
    bundle.config["linux"]["memoryPolicy"] = policy
    bundle.set_args("sh", "-c", "head -1 /proc/self/numa_maps; sleep 30")
    out = os.path.join(os.path.dirname(bundle.path), "mp.out")
    create(rt, bundle, "mp", out=out)
    rt.run("start", "mp")
    wait_for(lambda: read(out), what="the process's numa_maps")
    assert task_memory_policy(read(out)) == shown
    assert task_memory_policy(rt.run("exec", "mp", "head", "-1", "/proc/self/numa_maps").stdout) == shown
    rt.run("delete", "-f", "mp")


def test_only_stdio_reaches_the_container(rt, bundle):
    bundle.set_args("ls", "/proc/self/fd")
    fds = sorted(int(x) for x in run_to_completion(rt, bundle, "fd1").split())
    assert fds == [0, 1, 2, 3]   # 3 is ls's own directory fd


def test_preserve_fds(rt, bundle, tmp_path):
    extra = tmp_path / "extra"
    extra.write_text("passed-through\n")
    bundle.set_args("sh", "-c", "cat <&3; ls /proc/self/fd | wc -l")
    out = tmp_path / "pf.out"
    with open(out, "w") as o, open(os.devnull) as devnull:
        # fd 3 of `create` is the file (bash opens it, then execs the runtime)
        subprocess.run(["bash", "-c", 'exec 3<"$1"; shift; exec "$@"', "_", str(extra),
                        *rt.argv("create", "--bundle", bundle.path, "--preserve-fds", "1", "pf1")],
                       stdin=devnull, stdout=o, stderr=o, check=True)
    rt.run("start", "pf1")
    wait_for(lambda: rt.status("pf1") == "stopped", what="exit")
    rt.run("delete", "pf1")
    lines = read(out).split()
    assert lines[0] == "passed-through"
    assert lines[1] == "5"   # 0-2, the preserved fd 3, and ls's own


@pytest.mark.parametrize("listen_pid, expected", [("$$", ["activated", "6", "1/1"]), ("1", ["activated", "5", "/"])])
def test_socket_activation_fds_come_before_the_preserved_ones(rt, bundle, tmp_path, listen_pid, expected):
    """systemd socket activation, as runc's create: when LISTEN_PID is the runtime's pid, its
    LISTEN_FDS fds from 3 on reach the process before the --preserve-fds ones, and the process is
    told LISTEN_FDS and LISTEN_PID=1 (its own pid); for another pid they are not the runtime's."""
    (tmp_path / "activated").write_text("activated\n")
    (tmp_path / "preserved").write_text("preserved\n")
    bundle.set_args("sh", "-c", 'cat <&3; ls /proc/self/fd | wc -l; echo "$LISTEN_FDS/$LISTEN_PID"')
    out = tmp_path / "la.out"
    with open(out, "w") as o, open(os.devnull) as devnull:
        subprocess.run(["bash", "-c", f'exec 3<"$1" 4<"$2"; shift 2; export LISTEN_FDS=1 LISTEN_PID={listen_pid}; '
                        'exec "$@"', "_", str(tmp_path / "activated"), str(tmp_path / "preserved"),
                        *rt.argv("create", "--bundle", bundle.path, "--preserve-fds", "1", "la1")],
                       stdin=devnull, stdout=o, stderr=o, check=True)
    rt.run("start", "la1")
    wait_for(lambda: rt.status("la1") == "stopped", what="exit")
    rt.run("delete", "la1")
    assert read(out).split() == expected    # 0-2, 3 and (activated) 4, and ls's own


def test_signals_the_caller_ignored_are_not_ignored_inside(rt, bundle, tmp_path, is_pyrunc):
    """An ignored disposition survives execve: the container's process must start with none.
    34 is one a libc keeps for itself (musl: 32 to 34, glibc: 32 and 33), whose sigaction
    refuses to touch it: pyrunc-init resets every signal with rt_sigaction itself; runc 1.1
    leaves 34 ignored."""
    bundle.set_args("grep", "SigIgn", "/proc/self/status")
    out = tmp_path / "sig.out"
    with open(out, "w") as o, open(os.devnull) as devnull:
        subprocess.run(["bash", "-c", 'trap "" HUP PIPE 34 40; exec "$@"', "_",
                        *rt.argv("create", "--bundle", bundle.path, "sig1")],
                       stdin=devnull, stdout=o, stderr=o, check=True)
    rt.run("start", "sig1")
    wait_for(lambda: rt.status("sig1") == "stopped", what="exit")
    rt.run("delete", "sig1")
    ignored = int(read(out).split()[1], 16)
    reset = (signal.SIGHUP, signal.SIGPIPE, 40) + ((34,) if is_pyrunc else ())
    assert [s for s in reset if ignored & (1 << (s - 1))] == []


def test_args_resolved_through_container_path(rt, bundle):
    bundle.config["process"]["env"] = ["PATH=/nothing:/usr/bin:/bin"]
    bundle.set_args("echo", "found")
    assert run_to_completion(rt, bundle, "path1") == "found\n"


def test_missing_binary_fails_at_create(rt, bundle):
    bundle.set_args("/no/such/program")
    p = create(rt, bundle, "mb1", check=False)
    assert p.returncode != 0
    assert "/no/such/program" in read(p.out_path)
    assert "mb1" not in rt.ids()


def stat_fields(stat_line):
    """/proc/PID/stat fields after the comm, 1-based as in proc(5) (field 3 = state)."""
    rest = stat_line.rsplit(")", 1)[1].split()
    return {i + 3: v for i, v in enumerate(rest)}


@pytest.mark.skipif_reference("runc 1.1 has no process.scheduler/ioPriority")
def test_scheduler_and_io_priority(rt, bundle):
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    bundle.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    bundle.set_args("sh", "-c", "cat /proc/self/stat; ionice -p $$")
    out = run_to_completion(rt, bundle, "sch1").splitlines()
    f = stat_fields(out[0])
    assert f[19] == "7"       # nice
    assert f[41] == "3"       # SCHED_BATCH
    assert "idle" in out[1]


@pytest.mark.skipif_reference("runc 1.1 ignores linux.personality")
def test_personality_linux32(rt, bundle):
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    bundle.set_args("uname", "-m")
    assert run_to_completion(rt, bundle, "pers1").strip() in ("i686", "i386")


def test_features(rt, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own features")
    f = json.loads(rt.run("features").stdout)
    assert "rro" in f["mountOptions"] and "idmap" in f["mountOptions"]
    assert f["linux"]["mountExtensions"]["idmap"]["enabled"] is True
    assert set(f["hooks"]) == {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                               "poststop"}
    assert "user" in f["linux"]["namespaces"] and "CAP_SYS_ADMIN" in f["linux"]["capabilities"]
    assert f["linux"]["seccomp"]["enabled"] and "SCMP_ACT_NOTIFY" in f["linux"]["seccomp"]["actions"]
    assert "SCMP_ARCH_X86_64" in f["linux"]["seccomp"]["archs"]


def test_stages_have_titles(rt, bundle, tmp_path, is_pyrunc):
    """ps names pyrunc's stages (as runc's): a createRuntime hook sees the init stage, its parent's child."""
    if not is_pyrunc:
        pytest.skip("pyrunc's stage names")
    out = tmp_path / "ps"
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": [
        "sh", "-c", f"cat /proc/[0-9]*/comm > {out}"]}]}
    bundle.set_args("true")
    create(rt, bundle, "titles")
    rt.run("delete", "--force", "titles")
    assert "pyrunc:[2:INIT]\n" in out.read_text()
