"""Regression tests per CVE class of low-level runtimes, each also run against a deliberately weakened
pyrunc (tests/support/weaken.py) to show that it catches the hole it is about."""
import errno
import json
import os
import threading
import time

import pytest

from tests.integration.test_mount_race import check_ro_bind_race
from tests.support.helpers import create, read, run_to_completion, wait_for
from tests.support.runtime import Runtime
from tests.support.weaken import weakened


# ------------------------------------------------------------------ the checks: [] means safe

def check_exe_sealed(rt, bundle, cid="seal"):
    """CVE-2019-5736: the init's executable, as the container could grab it, must not open for writing."""
    bundle.set_args("sleep", "60")
    create(rt, bundle, cid)
    pid = rt.state(cid)["pid"]
    fd = os.open(f"/proc/{pid}/exe", os.O_PATH)
    try:
        rt.run("delete", "--force", cid)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}/exe") or not os.readlink(f"/proc/{pid}/exe"), 5,
                 what="init gone")
        time.sleep(0.1)
        try:
            os.close(os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_APPEND))
        except OSError as e:
            return [] if e.errno == errno.EROFS else [f"reopening the init's exe: {e} (expected EROFS)"]
        return ["the init's executable reopened for writing through /proc/PID/exe"]
    finally:
        os.close(fd)


def check_init_fds(rt, bundle, cid="fds"):
    """CVE-2016-9962 / CVE-2024-21626: a created init holds stdio and the exec fifo, nothing else,
    even when the caller leaks an inheritable fd of a host directory into `create`."""
    import subprocess
    bundle.set_args("sleep", "60")
    with open(os.devnull, "w") as null:
        subprocess.run(["bash", "-c", 'exec 7</ 8</sys/fs/cgroup; exec "$@"', "_",
                        *rt.argv("create", "--bundle", bundle.path, cid)], stdin=subprocess.DEVNULL,
                       stdout=null, stderr=null, check=True)
    pid = rt.state(cid)["pid"]
    try:
        extra = []
        for name in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            if int(name) > 2 and not target.endswith("/exec.fifo"):
                extra.append(f"fd {name} -> {target}")
        return extra
    finally:
        rt.run("delete", "--force", cid)


def check_mount_target_outside(rt, bundle, outside, cid="mnt"):
    """CVE-2021-30465 class: a symlink on a mount's path must not lead the mount out of the rootfs."""
    os.symlink(str(outside), os.path.join(bundle.rootfs, "escape"))
    bundle.config["mounts"].append({"destination": "/escape/m", "type": "tmpfs", "source": "tmpfs"})
    bundle.set_args("true")
    p = create(rt, bundle, cid, check=False)
    if p.returncode == 0:
        rt.run("delete", "--force", cid)
    return [f"{outside} gained {os.listdir(outside)}"] if os.listdir(outside) else []


def check_proc_symlink(rt, bundle, cid="procsym"):
    """CVE-2019-16884 class: /proc redirected by the image is refused."""
    os.rmdir(os.path.join(bundle.rootfs, "proc"))
    os.mkdir(os.path.join(bundle.rootfs, "fakeproc"))
    os.symlink("fakeproc", os.path.join(bundle.rootfs, "proc"))
    bundle.set_args("true")
    p = create(rt, bundle, cid, check=False)
    if p.returncode == 0:
        rt.run("delete", "--force", cid)
        return ["a /proc redirected by an image symlink was accepted"]
    return []


def check_dev_null_symlink(rt, bundle, cid="devnull"):
    """CVE-2025-31133: masking never binds what a fake /dev/null points to."""
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
    with open(os.path.join(bundle.rootfs, "secret"), "w") as f:
        f.write("SECRET")
    os.symlink("/secret", os.path.join(bundle.rootfs, "dev", "null"))
    bundle.config["linux"]["maskedPaths"] = ["/etc/group"]
    bundle.set_args("cat", "/etc/group")
    p = create(rt, bundle, cid, check=False)
    if p.returncode != 0:
        return []
    rt.run("start", cid)
    wait_for(lambda: rt.status(cid) == "stopped", what="exit")
    rt.run("delete", cid)
    out = read(p.out_path)
    return [f"a masked file showed {out!r}"] if "SECRET" in out else []


def check_console_symlink(rt, bundle, tmp_path, cid="console"):
    """CVE-2025-52565: /dev/console as a symlink never gets the pty mounted over its target."""
    from tests.support.console import ConsoleSocket
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] not in ("/dev",)]
    target = os.path.join(bundle.rootfs, "etc", "target")
    with open(target, "w") as f:
        f.write("target")
    os.symlink("/etc/target", os.path.join(bundle.rootfs, "dev", "console"))
    bundle.config["process"]["terminal"] = True
    bundle.set_args("sh", "-c", "stat -c %F /etc/target")
    cs = ConsoleSocket(tmp_path / f"{cid}.sock")
    try:
        p = create(rt, bundle, cid, extra=["--console-socket", cs.path], check=False)
        if p.returncode != 0:
            return []
        _, fds, _ = cs.receive()
        from tests.support.console import read_all
        rt.run("start", cid)
        out = read_all(fds[0], until=b"\n")
        os.close(fds[0])
        wait_for(lambda: rt.status(cid) == "stopped", what="exit")
        rt.run("delete", cid)
        return ["the pty was mounted over the console symlink's target"] if b"character" in out else []
    finally:
        cs.close()


def check_exec_cap_inheritable(rt, bundle, cid="inh"):
    """CVE-2022-29162: `exec --cap` never fills the inheritable set."""
    bundle.set_args("sleep", "60")
    create(rt, bundle, cid)
    rt.run("start", cid)
    try:
        out = rt.run("exec", "--cap", "CAP_NET_ADMIN", cid, "grep", "^CapInh", "/proc/self/status").stdout
        return [] if int(out.split()[1], 16) == 0 else [f"exec --cap gave {out.strip()}"]
    finally:
        rt.run("delete", "--force", cid)


# ------------------------------------------------------------------ against pyrunc as built

def test_exe_is_sealed(rt, bundle):
    assert check_exe_sealed(rt, bundle) == []


def test_proc_self_exe_entrypoint_runs_only_pyrunc_init(rt, bundle, is_pyrunc):
    """An entrypoint of /proc/self/exe (or a #!/proc/self/exe script) gets the sealed pyrunc-init, never Python."""
    if not is_pyrunc:
        pytest.skip("pyrunc's own init")
    with open(os.path.join(bundle.rootfs, "evil"), "w") as f:
        f.write("#!/proc/self/exe\n")
    os.chmod(os.path.join(bundle.rootfs, "evil"), 0o755)
    for args in (["/proc/self/exe"], ["/evil"]):
        bundle.set_args(*args)
        out = run_to_completion(rt, bundle, "self")
        assert "pyrunc-init" in out and "started by pyrunc only" in out, out


def test_created_init_holds_only_allowed_fds(rt, bundle):
    assert check_init_fds(rt, bundle) == []


def test_cwd_through_a_leaked_fd_is_refused(rt, bundle):
    for n in range(3, 10):
        bundle.config["process"]["cwd"] = f"/proc/self/fd/{n}"
        bundle.set_args("pwd")
        p = create(rt, bundle, f"cwd{n}", check=False)
        if p.returncode == 0:
            rt.run("start", f"cwd{n}")
            wait_for(lambda: rt.status(f"cwd{n}") == "stopped", what="exit")
            rt.run("delete", f"cwd{n}")
            assert read(p.out_path).startswith("/"), read(p.out_path)


def test_mount_target_symlink_stays_inside(rt, bundle, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    assert check_mount_target_outside(rt, bundle, outside) == []


def test_mount_target_symlink_race(rt, bundle, tmp_path):
    """CVE-2021-30465 / CVE-2024-45310: a path component swapped for a symlink while containers are created."""
    outside = tmp_path / "outside"
    outside.mkdir()
    data = os.path.join(bundle.rootfs, "data")
    os.mkdir(data)
    bundle.config["mounts"].append({"destination": "/data/m", "type": "tmpfs", "source": "tmpfs"})
    bundle.set_args("true")
    stop = threading.Event()

    link = data + ".link"
    os.symlink(str(outside), link)

    def racer():
        # swap /data (a directory) and a symlink to the outside, atomically, over and over
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2, at_fdcwd, exchange = 316, -100, 2
        while not stop.is_set():
            libc.syscall(renameat2, at_fdcwd, data.encode(), at_fdcwd, link.encode(), exchange)

    t = threading.Thread(target=racer)
    t.start()
    try:
        for i in range(30):
            p = create(rt, bundle, f"race{i}", check=False)
            if p.returncode == 0:
                rt.run("delete", "--force", f"race{i}")
            assert not os.listdir(outside), f"round {i}: {os.listdir(outside)}"
    finally:
        stop.set()
        t.join()
        if os.path.islink(data):
            os.rename(data, data + ".tmp")
            os.rename(link, data)
            os.rename(data + ".tmp", link)


def test_proc_symlink_refused(rt, bundle, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("Debian's runc 1.1 refuses it but leaks its init")
    assert check_proc_symlink(rt, bundle) == []


def test_fake_dev_null_never_masks(rt, bundle):
    assert check_dev_null_symlink(rt, bundle) == []


def test_console_symlink_never_followed(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("Debian's runc 1.1.5 predates the CVE-2025-52565 fix")
    assert check_console_symlink(rt, bundle, tmp_path) == []


def test_exec_cap_not_inheritable(rt, bundle):
    assert check_exec_cap_inheritable(rt, bundle) == []


# ------------------------------------------------------------------ the same checks catch a weakened pyrunc

@pytest.mark.parametrize("weakening,check", [
    ("no-seal", check_exe_sealed),
    ("keep-fds", check_init_fds),
    ("path-targets", "mount"),
    ("path-remount", "ro-bind-race"),
    ("follow-proc-symlink", check_proc_symlink),
    ("any-dev-null", check_dev_null_symlink),
    ("console-symlink", "console"),
    ("inheritable-cap", check_exec_cap_inheritable),
])
def test_checks_catch_a_weakened_build(rt, bundle, tmp_path, weakening, check, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("weakens pyrunc's own install")
    weak = Runtime(weakened(rt.path, weakening, tmp_path / "weak"), rt.root)
    if check == "mount":
        outside = tmp_path / "outside"
        outside.mkdir()
        problems = check_mount_target_outside(weak, bundle, outside)
        for name in os.listdir(outside):      # what the weakened build created on the "host"
            os.rmdir(outside / name)
    elif check == "console":
        problems = check_console_symlink(weak, bundle, tmp_path)
    elif check == "ro-bind-race":
        host = tmp_path / "host"
        host.mkdir()
        problems, _failed = check_ro_bind_race(weak, bundle, host)
    else:
        problems = check(weak, bundle)
    weak.cleanup()
    assert problems, f"the check did not notice the {weakening} weakening"
    json.dumps(problems)
