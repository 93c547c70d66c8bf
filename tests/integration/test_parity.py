"""Where pyrunc behaved differently from runc (found by a runc-compatibility run): each checked against runc too."""
import fcntl
import json
import os
import re
import struct
import subprocess
import termios

import pytest

from tests.integration.test_rootfs import idmapped_volume
from tests.support.bundle import new_bundle
from tests.support.console import ConsoleSocket, read_all
from tests.support.helpers import create, read, run_to_completion, wait_for

pytestmark = pytest.mark.agnostic

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def on_pty(argv, timeout=30, size=None):
    """(exit code, raw output) of argv run with a new pty (of `size` rows and columns) as its
    stdio and controlling terminal."""
    master, slave = os.openpty()
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    finally:
        os.close(slave)
    try:
        out = read_all(master, timeout=timeout)
        return p.wait(timeout), out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


def tty_output(rt, bundle, cid, args, tmp_path, extra=()):
    """What a terminal container prints through a --console-socket (containerd's way)."""
    bundle.config["process"]["terminal"] = True
    bundle.set_args(*args)
    cs = ConsoleSocket(tmp_path / f"{cid}.sock")
    try:
        create(rt, bundle, cid, extra=["--console-socket", cs.path, *extra])
        _data, fds, _rest = cs.receive()
        rt.run("start", cid)
        out = read_all(fds[0], until=b"end-of-test")
        os.close(fds[0])
    finally:
        cs.close()
    wait_for(lambda: rt.status(cid) == "stopped", what="exit")
    rt.run("delete", cid)
    return out.decode(errors="replace")


def detach(rt, bundle, cid, tmp_path):
    """A running `sleep` container, its stdio on files of the test's own."""
    bundle.set_args("sleep", "300")
    create(rt, bundle, cid)
    rt.run("start", cid)


def in_user_namespace(bundle):
    """The container gets its own user namespace (0 -> 100000), and its root can reach and use its rootfs."""
    d = os.path.dirname(bundle.rootfs)
    while d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o005)
        d = os.path.dirname(d)
    os.chown(bundle.rootfs, 100000, 100000)
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = MAP
    bundle.config["linux"]["gidMappings"] = MAP
    bundle.save()


def mount_options(text, dest):
    """The per-mount options of dest in a mountinfo dump."""
    for line in text.splitlines():
        f = line.split()
        if len(f) > 5 and f[4] == dest:
            return set(f[5].split(","))
    raise AssertionError(f"{dest} is not mounted: {text}")


# ------------------------------------------------------------------ the terminal

def test_console_belongs_to_the_process_user(rt, bundle, tmp_path):
    """runc hands the pty to process.user (the gid stays devpts's), so that it can use its own terminal."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    out = tty_output(rt, bundle, "tty1", ["sh", "-c", "stat -L -c %u:%g /proc/self/fd/0 /dev/console; "
                                          "stty -g >/dev/null && echo stty-ok; echo end-of-test"], tmp_path)
    assert out.split()[:3] == ["1000:5", "1000:5", "stty-ok"], out


@pytest.mark.crun_differs("crun 1.8 leaves an exec'd process's pty to root")
def test_exec_tty_belongs_to_the_exec_user(rt, bundle, tmp_path):
    detach(rt, bundle, "tty2", tmp_path)
    cs = ConsoleSocket(tmp_path / "e.sock")
    try:
        with open(os.devnull, "w") as null:
            rt.run("exec", "-d", "-t", "--console-socket", cs.path, "--user", "1000:1000", "tty2",
                   "sh", "-c", "stat -L -c %u:%g /proc/self/fd/0; stty -g >/dev/null && echo stty-ok; echo end-of-test",
                   stdout=null, stderr=null)
        _data, fds, _rest = cs.receive()
        out = read_all(fds[0], until=b"end-of-test").decode(errors="replace")
        os.close(fds[0])
    finally:
        cs.close()
        rt.run("delete", "--force", "tty2")
    assert out.split()[:2] == ["1000:5", "stty-ok"], out


def test_stdio_belongs_to_the_process_user(rt, bundle):
    """runc's fixStdioPermissions: a non-root process can reopen its own stdout (/dev/stdout)."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.set_args("sh", "-c", "stat -L -c %u /proc/self/fd/1; echo reopened >> /dev/stdout")
    assert run_to_completion(rt, bundle, "own1").split() == ["1000", "reopened"]


def test_exec_stdio_belongs_to_the_exec_user(rt, bundle, tmp_path):
    detach(rt, bundle, "own2", tmp_path)
    try:
        p = rt.run("exec", "--user", "1000:1000", "own2", "sh", "-c", "echo reopened > /dev/stdout")
        assert p.stdout == "reopened\n"
    finally:
        rt.run("delete", "--force", "own2")


@pytest.mark.crun_differs("crun 1.8 keeps ONLCR on its own terminal")
def test_foreground_terminal_has_onlcr_cleared(rt, bundle):
    """runc's recvtty clears ONLCR on the container's pty; our own terminal still turns \\n into \\r\\n."""
    bundle.config["process"]["terminal"] = True
    bundle.set_args("sh", "-c", "stty -a | grep -o -- '-*onlcr'; echo line")
    rc, out = on_pty(rt.argv("run", "--bundle", bundle.path, "onl1"))
    assert rc == 0, out
    assert b"-onlcr\r\nline\r\n" in out, out


@pytest.mark.crun_differs("crun 1.8 keeps ONLCR on its own terminal")
def test_foreground_exec_tty_has_onlcr_cleared(rt, bundle, tmp_path):
    detach(rt, bundle, "onl2", tmp_path)
    try:
        rc, out = on_pty(rt.argv("exec", "-t", "onl2", "sh", "-c", "stty -a | grep -o -- '-*onlcr'"))
    finally:
        rt.run("delete", "--force", "onl2")
    assert rc == 0 and b"-onlcr" in out, out


def test_foreground_terminal_has_the_callers_size(rt, bundle, tmp_path):
    """runc gives a foreground process's pty its own terminal's size (and again on SIGWINCH)."""
    detach(rt, bundle, "sz1", tmp_path)
    try:
        rc, out = on_pty(rt.argv("exec", "-t", "sz1", "stty", "size"), size=(33, 111))
    finally:
        rt.run("delete", "--force", "sz1")
    assert rc == 0 and b"33 111" in out, out


# ------------------------------------------------------------------ the caller's stdio

def test_run_with_the_callers_stdio_closed(rt, bundle):
    """A caller's closed stdin is an empty one to the process (runc's os/exec opens /dev/null)."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}     # stage 2 hands its stdio to the user
    bundle.set_args("sh", "-c", "cat; echo done")
    p = subprocess.run(["bash", "-c", 'exec "$@" <&-', "_", *rt.argv("run", "--bundle", bundle.path, "cl1")],
                       capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, "done\n"), p.stderr


# ------------------------------------------------------------------ the process

@pytest.mark.crun_differs("crun 1.8 keeps an empty HOME")
def test_empty_home_is_taken_from_passwd(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["env"] = ["PATH=/bin", "HOME=", "AFTER=1"]
    bundle.set_args("sh", "-c", "cat /proc/1/environ | tr '\\0' '\\n'")
    # replaced where it stands, as runc's os.Setenv does
    assert run_to_completion(rt, bundle, "home1").split() == ["PATH=/bin", "HOME=/home/user", "AFTER=1"]


def only_root_may_execute(bundle):
    """/rootonly/echo: busybox that only its owner, root, may execute (mode 0700)."""
    d = os.path.join(bundle.rootfs, "rootonly")
    os.mkdir(d)
    subprocess.run(["cp", os.path.join(bundle.rootfs, "bin", "busybox"), os.path.join(d, "echo")], check=True)
    os.chmod(os.path.join(d, "echo"), 0o700)


def test_cap_dac_override_executes_what_the_user_may_not(rt, bundle):
    """The kernel lets CAP_DAC_OVERRIDE execute a file with any execute bit, whoever owns it."""
    only_root_may_execute(bundle)
    caps = ["CAP_DAC_OVERRIDE"]
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["capabilities"] = {s: caps for s in ("bounding", "effective", "permitted")}
    bundle.set_args("/rootonly/echo", "ran")
    assert run_to_completion(rt, bundle, "dac1") == "ran\n"


@pytest.mark.crun_differs("crun 1.8 words it 'Permission denied'")
def test_root_without_cap_dac_override_may_not_execute_others_files(rt, bundle):
    only_root_may_execute(bundle)
    os.chown(os.path.join(bundle.rootfs, "rootonly", "echo"), 1000, 1000)
    bundle.config["process"]["capabilities"] = {s: ["CAP_KILL"] for s in ("bounding", "effective", "permitted")}
    bundle.set_args("/rootonly/echo", "ran")
    p = rt.run("run", "--bundle", bundle.path, "dac2", check=False)
    rt.run("delete", "--force", "dac2", check=False)
    assert p.returncode != 0 and "ran" not in p.stdout
    assert "permission denied" in p.stderr


@pytest.mark.crun_differs("crun 1.8 words the warning differently")
def test_unknown_capabilities_are_ignored_with_a_warning(rt, bundle, tmp_path):
    log = tmp_path / "log.json"
    bundle.config["process"]["capabilities"] = {"bounding": ["CAP_CHOWN", "CAP_NOPE", "CAP_ALSO_NOPE"],
                                               "effective": ["CAP_NOPE"]}
    bundle.set_args("grep", "^CapBnd", "/proc/self/status")
    p = rt.run("run", "--bundle", bundle.path, "cap1", log=str(log), log_format="json")
    assert int(p.stdout.split()[1], 16) == 1          # CAP_CHOWN only
    warnings = [json.loads(line)["msg"] for line in open(log) if '"warning"' in line]
    assert "ignoring unknown or unavailable capabilities: [CAP_ALSO_NOPE CAP_NOPE]" in warnings


@pytest.mark.crun_differs("crun 1.8 words the warning differently")
def test_exec_cap_unknown_is_ignored_with_a_warning(rt, bundle, tmp_path):
    log = tmp_path / "log.json"
    detach(rt, bundle, "cap2", tmp_path)
    try:
        p = rt.run("exec", "--cap", "CAP_NOPE", "cap2", "true", log=str(log), log_format="json")
    finally:
        rt.run("delete", "--force", "cap2")
    assert p.returncode == 0
    assert any("ignoring unknown or unavailable capabilities: [CAP_NOPE]" in line for line in open(log))


def failure(rt, tmp_path, *args):
    """(exit status, its error as the last error line of --log has it: runc's stderr is quoted)."""
    log = tmp_path / "error.json"
    p = rt.run(*args, check=False, log=str(log), log_format="json")
    errors = [json.loads(line)["msg"] for line in open(log) if '"error"' in line]
    return p.returncode, errors[-1] if errors else p.stderr


@pytest.mark.crun_differs("crun 1.8 refuses it in its own words")
def test_kernel_hostname_sysctl_is_refused(rt, bundle, tmp_path):
    bundle.config["linux"]["sysctl"] = {"kernel.hostname": "other"}
    bundle.set_args("true")
    rc, msg = failure(rt, tmp_path, "run", "--bundle", bundle.path, "sys1")
    assert rc == 1
    assert 'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field' in msg
    assert "sys1" not in rt.ids()


def test_kernel_domainname_sysctl_in_slash_form(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"kernel/domainname": "example.org"}
    bundle.set_args("cat", "/proc/sys/kernel/domainname")
    assert run_to_completion(rt, bundle, "sys2") == "example.org\n"


# ------------------------------------------------------------------ errors as runc words them

@pytest.mark.crun_differs("crun words it in its own way")
def test_missing_program_is_worded_as_runc(rt, bundle, tmp_path):
    with open(os.path.join(bundle.rootfs, "bin", "notexec"), "w") as f:
        f.write("data")
    for args, words in ((["/nope"], 'exec: "/nope": stat /nope: no such file or directory'),
                        (["notexec"], 'exec: "notexec": executable file not found in $PATH')):
        bundle.set_args(*args)
        rc, msg = failure(rt, tmp_path, "run", "--bundle", bundle.path, "word1")
        rt.run("delete", "--force", "word1", check=False)
        assert rc == 1 and words in msg, msg


def write_broken_script(bundle, interpreter="/no/interpreter"):
    """/broken: executable, but its interpreter is missing (execve itself fails: ENOENT)."""
    path = os.path.join(bundle.rootfs, "broken")
    with open(path, "w") as f:
        f.write(f"#!{interpreter}\n")
    os.chmod(path, 0o755)


@pytest.mark.crun_differs("crun words it in its own way")
@pytest.mark.parametrize("loop, words", [(False, "no such file or directory"),
                                         (True, "too many levels of symbolic links")])
def test_failed_execve_is_worded_as_runc(rt, bundle, loop, words):
    """The errno in Go's words (glibc's, lowercase), not in the words of pyrunc-init's libc
    (musl's for ELOOP: "symbolic link loop")."""
    if loop:
        os.symlink("loop", os.path.join(bundle.rootfs, "loop"))
    write_broken_script(bundle, "/loop" if loop else "/no/interpreter")
    bundle.set_args("/broken")
    p = create(rt, bundle, "word2")
    rt.run("start", "word2")
    wait_for(lambda: rt.status("word2") == "stopped", what="exit")
    rt.run("delete", "word2")
    assert read(p.out_path) == f"exec /broken: {words}\n"


@pytest.mark.crun_differs("crun exits 1")
def test_exec_failures_exit_255(rt, bundle, tmp_path):
    """runc exec: 255 for every failure past its command line, 1 for a bad command line."""
    write_broken_script(bundle)
    detach(rt, bundle, "x255", tmp_path)
    try:
        assert rt.run("exec", "x255", "/nope", check=False).returncode == 255
        assert rt.run("exec", "x255", check=False).returncode == 255            # no args
        assert rt.run("exec", "ghost", "true", check=False).returncode == 255
        assert rt.run("exec", "--bogus", "x255", "true", check=False).returncode == 1
        assert rt.run("exec", check=False).returncode == 1
        # the program itself cannot be executed: runc's init reports it and exits 1
        p = rt.run("exec", "x255", "/broken", check=False)
        assert (p.returncode, p.stderr) == (1, "exec /broken: no such file or directory\n")
        rt.run("kill", "x255", "KILL")
        wait_for(lambda: rt.status("x255") == "stopped", what="exit")
        assert rt.run("exec", "x255", "true", check=False).returncode == 255
    finally:
        rt.run("delete", "--force", "x255")


@pytest.mark.crun_differs("crun words it in its own way")
def test_seccomp_listener_failure_is_worded_as_runc(rt, bundle, tmp_path):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(tmp_path / "nobody.sock"),
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    bundle.set_args("true")
    rc, msg = failure(rt, tmp_path, "run", "--bundle", bundle.path, "lis1")
    assert rc == 1
    assert re.search(r"failed to connect with seccomp agent specified in the seccomp profile: "
                     r"dial unix .*nobody\.sock: connect: no such file or directory", msg), msg
    assert "lis1" not in rt.ids()


@pytest.mark.crun_differs("crun 1.8 writes no debug lines there")
def test_debug_without_log_writes_to_stderr(rt, bundle):
    bundle.set_args("true")
    p = rt.run("run", "--bundle", bundle.path, "dbg1", debug=True)
    assert re.search(r'^time="[^"]+" level=debug msg=', p.stderr, re.M), p.stderr


# ------------------------------------------------------------------ hooks

def hook_recorder(tmp_path):
    path = tmp_path / "record.sh"
    path.write_text('#!/bin/sh\n{ echo "== $1 $(pwd)"; env; } >> "$2"\n')
    path.chmod(0o755)
    return str(path)


def recorded(log):
    """{hook kind: (cwd, {variable: value})} from what hook_recorder wrote."""
    out, kind = {}, None
    for line in open(log).read().splitlines():
        if line.startswith("== "):
            kind, cwd = line[3:].split(" ", 1)
            out[kind] = (cwd, {})
        elif "=" in line:
            k, _, v = line.partition("=")
            out[kind][1][k] = v
    return out


@pytest.mark.crun_differs("crun 1.8 runs createContainer hooks in the bundle")
def test_hooks_environment_and_working_directory(rt, bundle, tmp_path, monkeypatch):
    """Without `env`: host hooks get the runtime's environment, createContainer the process's
    (runc runs it in its init, in the rootfs); prestart and createRuntime run in the bundle."""
    rec, log = hook_recorder(tmp_path), str(tmp_path / "hooks.log")
    kinds = ("prestart", "createRuntime", "createContainer", "poststart", "poststop")
    bundle.config["hooks"] = {k: [{"path": rec, "args": ["rec", k, log]}] for k in kinds}
    bundle.config["process"]["env"] = ["PATH=/bin", "IN_PROCESS=yes"]
    bundle.set_args("true")
    monkeypatch.setenv("FROM_CALLER", "caller-value")
    run_to_completion(rt, bundle, "hk1")
    got = recorded(log)
    assert set(got) == set(kinds)
    for k in ("prestart", "createRuntime", "poststart", "poststop"):
        assert got[k][1].get("FROM_CALLER") == "caller-value" and "IN_PROCESS" not in got[k][1], (k, got[k])
    assert got["prestart"][0] == got["createRuntime"][0] == os.path.realpath(bundle.path)
    cwd, env = got["createContainer"]
    assert cwd == os.path.realpath(bundle.rootfs)
    assert env.get("IN_PROCESS") == "yes" and "FROM_CALLER" not in env


def test_start_container_hook_gets_the_process_environment(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["env"] = ["PATH=/bin", "IN_PROCESS=yes"]
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "env > /tmp/hook-env"]}]}
    bundle.set_args("cat", "/tmp/hook-env")
    env = dict(line.split("=", 1) for line in run_to_completion(rt, bundle, "hk2").splitlines())
    assert env["IN_PROCESS"] == "yes" and env["HOME"] == "/home/user"


# ------------------------------------------------------------------ user namespaces and mounts

def pod_member(rt, pod, bundle, bundle_template, tmp_path):
    """A created container `pod` in its own user namespace, and a bundle that joins that namespace
    (with the same mappings, as containerd's CRI sends them for pods with hostUsers: false)."""
    in_user_namespace(bundle)
    create(rt, bundle, pod)
    member = new_bundle(bundle_template, tmp_path / "member")
    in_user_namespace(member)
    member.config["linux"]["namespaces"][-1]["path"] = f"/proc/{rt.state(pod)['pid']}/ns/user"
    return member


def test_join_a_user_namespace_with_its_own_mappings(rt, bundle, bundle_template, tmp_path):
    member = pod_member(rt, "pod", bundle, bundle_template, tmp_path)
    member.set_args("cat", "/proc/self/uid_map")
    try:
        assert run_to_completion(rt, member, "member").split() == ["0", "100000", "65536"]
    finally:
        rt.run("delete", "--force", "pod")


@pytest.mark.skipif_reference("runc 1.1 ignores the mappings given with a joined user namespace")
def test_join_a_user_namespace_with_other_mappings_is_refused(rt, bundle, bundle_template, tmp_path):
    member = pod_member(rt, "pod2", bundle, bundle_template, tmp_path)
    member.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    member.set_args("true")
    try:
        p = create(rt, member, "member2", check=False)
        assert p.returncode != 0 and "non-matching mapping" in read(p.out_path)
        assert "member2" not in rt.ids()
    finally:
        rt.run("delete", "--force", "pod2")


def test_bind_source_only_the_hosts_root_can_reach(rt, bundle, tmp_path):
    """The container's root (uid 100000) cannot enter /private; the runtime opens the source for it."""
    in_user_namespace(bundle)
    private = tmp_path / "private"
    (private / "data").mkdir(parents=True)
    (private / "data" / "f").write_text("behind a 0700 directory\n")
    os.chmod(private, 0o700)
    os.chmod(private / "data", 0o755)
    bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(private / "data"),
                                    "options": ["rbind"]})
    bundle.set_args("cat", "/data/f")
    assert run_to_completion(rt, bundle, "src1") == "behind a 0700 directory\n"


def below_an_earlier_mount(bundle, tmp_path):
    """/a is bound from the host; /b from <rootfs>/a/sub, which exists only once /a is mounted."""
    host = tmp_path / "host"
    (host / "sub").mkdir(parents=True)
    (host / "sub" / "file").write_text("from the earlier mount\n")
    os.chmod(host, 0o755)
    bundle.config["mounts"] += [
        {"destination": "/a", "type": "bind", "source": str(host), "options": ["rbind"]},
        {"destination": "/b", "type": "bind", "source": os.path.join(bundle.rootfs, "a", "sub"), "options": ["rbind"]}]
    bundle.set_args("cat", "/b/file")


def test_bind_source_below_an_earlier_mount(rt, bundle, tmp_path):
    below_an_earlier_mount(bundle, tmp_path)
    assert run_to_completion(rt, bundle, "ord1") == "from the earlier mount\n"


@pytest.mark.skipif_reference("runc 1.1 opens every bind source of a user namespace before the mounts exist")
def test_bind_source_below_an_earlier_mount_in_a_user_namespace(rt, bundle, tmp_path):
    in_user_namespace(bundle)
    below_an_earlier_mount(bundle, tmp_path)
    assert run_to_completion(rt, bundle, "ord2") == "from the earlier mount\n"


@pytest.fixture
def flagged_source(tmp_path):
    """A host tmpfs mounted nosuid,nodev,noexec,noatime,nodiratime (made read-only by `ro`)."""
    src = tmp_path / "flagged"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=755,nosuid,nodev,noexec,noatime,nodiratime",
                    "tmpfs", str(src)], check=True)
    (src / "f").write_text("flagged\n")
    yield src
    subprocess.run(["umount", "-l", str(src)], check=True)


# options on a bind of flagged_source -> its options in the container (runc 1.1.5's, measured)
BIND_FLAGS = [
    ([], {"rw", "nosuid", "nodev", "noexec", "noatime", "nodiratime"}),
    (["ro"], {"ro", "noatime", "nodiratime"}),
    (["nosuid"], {"rw", "nosuid", "noatime", "nodiratime"}),
    (["relatime"], {"rw", "relatime"}),
    (["strictatime"], {"rw"}),
    (["noatime"], {"rw", "noatime"}),
    (["nodiratime"], {"rw", "nodiratime", "relatime"}),
    (["relatime", "noatime"], {"rw", "noatime"}),
    (["strictatime", "noatime"], {"rw"}),
    (["nosymfollow"], {"rw", "noatime", "nodiratime", "nosymfollow"}),
    (["sync"], {"rw", "noatime", "nodiratime"}),
    (["rw"], {"rw", "nosuid", "nodev", "noexec", "noatime", "nodiratime"}),     # only clears: kept as is
    (["exec", "suid"], {"rw", "nosuid", "nodev", "noexec", "noatime", "nodiratime"}),
]


@pytest.mark.crun_differs("crun 1.8 always remounts a bind, clearing the source's nosuid, nodev, noexec")
def test_bind_options_are_those_of_a_bind_remount(rt, bundle, flagged_source):
    """What is given is set, what is not is cleared (ro, nosuid, nodev, noexec, nosymfollow); an atime
    option replaces the whole atime (relatime unless noatime, strictatime over both)."""
    for i, (options, _want) in enumerate(BIND_FLAGS):
        bundle.config["mounts"].append({"destination": f"/m{i}", "type": "bind", "source": str(flagged_source),
                                        "options": ["bind", *options]})
    bundle.set_args("cat", "/proc/self/mountinfo")
    info = run_to_completion(rt, bundle, "flg1")
    got = {i: mount_options(info, f"/m{i}") for i in range(len(BIND_FLAGS))}
    assert got == {i: want for i, (_o, want) in enumerate(BIND_FLAGS)}


@pytest.mark.skipif_reference("runc 1.1 fails with EPERM on flags a user namespace has locked (1.2 keeps them)")
def test_locked_flags_of_a_source_are_kept_in_a_user_namespace(rt, bundle, flagged_source):
    subprocess.run(["mount", "-o", "remount,bind,ro", str(flagged_source)], check=True)
    in_user_namespace(bundle)
    bundle.config["mounts"] += [
        {"destination": "/l1", "type": "bind", "source": str(flagged_source), "options": ["bind", "nosuid"]},
        {"destination": "/l2", "type": "bind", "source": str(flagged_source),
         "options": ["bind", "noatime", "nodiratime"]}]
    bundle.set_args("cat", "/proc/self/mountinfo")
    info = run_to_completion(rt, bundle, "lck1")
    for dest in ("/l1", "/l2"):
        assert mount_options(info, dest) == {"ro", "nosuid", "nodev", "noexec", "noatime", "nodiratime"}


@pytest.mark.skipif_reference("runc 1.1 fails with EPERM on flags a user namespace has locked")
def test_clearing_a_locked_flag_is_refused(rt, bundle, flagged_source):
    subprocess.run(["mount", "-o", "remount,bind,ro", str(flagged_source)], check=True)
    in_user_namespace(bundle)
    bundle.config["mounts"].append({"destination": "/l", "type": "bind", "source": str(flagged_source),
                                    "options": ["bind", "nosuid", "rw"]})
    bundle.set_args("true")
    p = create(rt, bundle, "lck2", check=False)
    assert p.returncode != 0 and "cannot clear locked flags ro" in read(p.out_path)
    assert "lck2" not in rt.ids()


@pytest.mark.skipif_reference("runc 1.1 has no idmapped mounts")
@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_idmap_without_mappings_takes_the_containers(rt, bundle, tmp_path, option):
    """runc's implied mapping: the container's own (0 -> 100000): through the mount, on-disk 7:8
    is 100007:100008, which is 7:8 in the container's namespace."""
    in_user_namespace(bundle)
    idmapped_volume(bundle, tmp_path, ["rbind", option], owner=(7, 8))
    assert run_to_completion(rt, bundle, f"imp-{option}").split() == ["7", "8"]


@pytest.mark.skipif_reference("runc 1.1 has no idmapped mounts")
def test_idmap_without_mappings_in_a_joined_user_namespace(rt, bundle, bundle_template, tmp_path):
    """...and with a joined user namespace, that namespace itself."""
    member = pod_member(rt, "pod3", bundle, bundle_template, tmp_path)
    del member.config["linux"]["uidMappings"], member.config["linux"]["gidMappings"]
    idmapped_volume(member, tmp_path, ["rbind", "idmap"], owner=(7, 8))
    try:
        assert run_to_completion(rt, member, "member3").split() == ["7", "8"]
    finally:
        rt.run("delete", "--force", "pod3")
