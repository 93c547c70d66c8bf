"""Regression tests per CVE class of low-level runtimes, each also run against a deliberately weakened
pyrunc (tests/support/weaken.py) to show that it catches the hole it is about."""
import errno
import json
import os
import platform
import threading
import shutil
import subprocess
import time

import pytest

from tests.integration.test_mount_race import check_ro_bind_race
from tests.support import leaks
from tests.support.helpers import create, open_path_to, proc_status, read, run_to_completion, wait_for
from tests.support.runtime import HERE, Runtime, python_cli
from tests.support.weaken import weakened

ALL_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
CAP_NUMBERS = {"CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_AUDIT_WRITE": 29}


def _helper(tmp_path_factory, name):
    """tests/support/<name>.c built static."""
    if not shutil.which("gcc"):
        pytest.skip(f"gcc is needed to build {name}")
    out = str(tmp_path_factory.mktemp(name) / name)
    subprocess.run(["gcc", "-static", "-O2", "-o", out, os.path.join(HERE, f"{name}.c")], check=True)
    return out


@pytest.fixture(scope="session")
def exescan(tmp_path_factory):
    """A container process hunting writable executables in /proc."""
    return _helper(tmp_path_factory, "exescan")


@pytest.fixture(scope="session")
def pidat(tmp_path_factory):
    """Runs a command at a chosen pid (clone3 set_tid)."""
    return _helper(tmp_path_factory, "pidat")


@pytest.fixture(scope="session")
def ptinject(tmp_path_factory):
    """Makes a process stopped in a syscall run one mkdir of ours (ptrace, x86_64)."""
    if platform.machine() != "x86_64":
        pytest.skip("the ptrace injection helper is written for x86_64")
    return _helper(tmp_path_factory, "ptinject")


@pytest.fixture(scope="session")
def ptwatch(tmp_path_factory):
    """Stops (ptrace) every process that appears in its pid namespace, and says which it could."""
    return _helper(tmp_path_factory, "ptwatch")


@pytest.fixture(scope="session")
def tiocsti(tmp_path_factory):
    """Pushes text into the input of the terminal on its stdin."""
    return _helper(tmp_path_factory, "tiocsti")


class Inotify:
    """IN_OPEN events on one path, seen from the host (an open the device cgroup refuses makes none)."""
    IN_OPEN = 0x20

    def __init__(self, path):
        import ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or self.libc.inotify_add_watch(self.fd, path.encode(), self.IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), "inotify")

    def opened(self):
        try:
            return len(os.read(self.fd, 4096)) > 0
        except BlockingIOError:
            return False
        finally:
            os.close(self.fd)


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


def check_host_dev_null_stdio(rt, bundle, cid="nullstdio"):
    """stdin is the host's /dev/null and the process runs as uid 1000: handing the stdio to the
    process's user (runc's fixStdioPermissions) must skip /dev/null, or the host's becomes uid 1000's."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.set_args("true")
    run_to_completion(rt, bundle, cid, stdin=os.devnull)
    if leaks.dev_null_ok():
        return []
    leaks.restore_dev_null()
    return ["the host's /dev/null was handed to the container's user"]


FOREGROUND_ATTACK = "cat; readlink /proc/self/fd/0; echo TAMPERED >> /proc/self/fd/0; exit 3"


def check_foreground_stdio(rt, bundle, tmp_path, verb, cid="fgstdio"):
    """A foreground `run` or `exec` without a terminal gives its process pipes of the runtime's
    (runc's setupProcessPipes), never the caller's own files: a process of uid 1000 reopens its
    stdin through /proc/self/fd for writing, and stage 2 hands the process's stdio to its user."""
    source, sink = tmp_path / f"{cid}.input", tmp_path / f"{cid}.output"
    source.write_text("from the caller\n")
    sink.write_text("")
    if verb == "run":
        bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
        bundle.set_args("sh", "-c", FOREGROUND_ATTACK)
        argv = rt.argv("run", "--bundle", bundle.path, cid)
    else:
        bundle.set_args("sleep", "300")
        create(rt, bundle, cid)
        rt.run("start", cid)
        argv = rt.argv("exec", "--user", "1000:1000", cid, "sh", "-c", FOREGROUND_ATTACK)
    try:
        with open(source) as i, open(sink, "a") as o:
            p = subprocess.run(argv, stdin=i, stdout=o, stderr=subprocess.STDOUT, timeout=60)
    finally:
        rt.run("delete", "--force", cid, check=False)
    problems = []
    out = read(sink)
    if p.returncode != 3 or not out.startswith("from the caller\n"):
        problems.append(f"{verb}: exit {p.returncode}, output {out!r}")
    if read(source) != "from the caller\n":
        problems.append(f"{verb}: the container wrote into the caller's stdin file: {read(source)!r}")
    for f in (source, sink):
        st = os.stat(f)
        if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (0, 0, 0o644):
            problems.append(f"{verb}: the caller's {f.name} is now {st.st_uid}:{st.st_gid} {st.st_mode & 0o7777:o}")
    return problems


def check_foreground_tiocsti(rt, bundle, tiocsti, cid="fgtty"):
    """The caller's terminal never reaches a foreground exec's process, which with CAP_SYS_ADMIN
    could push a command into the caller's shell (TIOCSTI); runc's gets a pipe: ENOTTY."""
    from tests.integration.test_parity import on_pty
    shutil.copy2(tiocsti, os.path.join(bundle.rootfs, "bin", "tiocsti"))
    bundle.set_args("sleep", "300")
    create(rt, bundle, cid)
    rt.run("start", cid)
    try:
        rc, out = on_pty(rt.argv("exec", "--cap", "CAP_SYS_ADMIN", cid, "tiocsti", "id\n"))
    finally:
        rt.run("delete", "--force", cid)
    return [] if b"errno 25" in out else [f"TIOCSTI into the caller's terminal: {out!r} (exit {rc})"]


def tiocsti_refused_to_all():
    legacy = "/proc/sys/dev/tty/legacy_tiocsti"
    return os.path.exists(legacy) and read(legacy).strip() == "0"


def check_dev_null_symlink(rt, bundle, cid="devnull"):
    """CVE-2025-31133: masking never binds what a fake /dev/null points to."""
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
    with open(os.path.join(bundle.rootfs, "secret"), "w") as f:
        f.write("SECRET")
    os.symlink("/secret", os.path.join(bundle.rootfs, "dev", "null"))
    bundle.config["linux"]["maskedPaths"] = ["/etc/group"]
    bundle.set_args("cat", "/etc/group")
    out = run_to_completion(rt, bundle, cid, check=False)
    return [f"a masked file showed {out!r}"] if out is not None and "SECRET" in out else []


def check_proc_sysctl_redirect(rt, bundle, cid="procmnt", via_symlink=False):
    """CVE-2025-52881 class: a mount over a /proc/sys file must not turn a sysctl into a write of
    another file (via_symlink: its destination reaches /proc through the image's symlink).  The
    file written here is the host procfs's kernel.hostname, which a process in a UTS namespace
    (the container's init, writing the sysctl) only sets for that namespace: the attack shows as
    the container's hostname, never the host's."""
    namespaces = {n["type"] for n in bundle.config["linux"]["namespaces"]}
    assert {"uts", "network"} <= namespaces, "the redirected write must stay in the container's UTS namespace"
    dest = "/proc/sys/net/ipv4/ip_forward"
    if via_symlink:
        os.symlink("/proc", os.path.join(bundle.rootfs, "evil"))
        dest = "/evil/sys/net/ipv4/ip_forward"
    bundle.config["hostname"] = "before"
    bundle.config["mounts"].append({"destination": dest, "type": "bind",
                                    "source": "/proc/sys/kernel/hostname", "options": ["bind"]})
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "redirected"}
    bundle.set_args("hostname")
    out = run_to_completion(rt, bundle, cid, check=False)
    if out is None:
        return []
    out = out.strip()
    return [f"a mount inside /proc was made; the sysctl wrote the hostname: {out!r}" if out == "redirected"
            else "a mount inside /proc was made"]


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


def check_start_hook_privileges(rt, bundle, cid="hookpriv"):
    """A startContainer hook from the image runs as the container's process would: same user,
    capabilities, no_new_privs and seccomp, and its parent's executable is no host file."""
    out_dir = os.path.join(bundle.rootfs, "out")
    os.mkdir(out_dir)
    os.chmod(out_dir, 0o777)
    fields = "grep -E '^(Uid|Gid|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status"
    # the attack: the hook reports what it is, then goes for its parent's executable
    attack = (f"{fields} > /out/hook.$$; echo parent=$(readlink /proc/$PPID/exe) >> /out/hook.$$; "
              "if (: >> /proc/$PPID/exe) 2>/dev/null; then echo parent-writable >> /out/hook.$$; fi")
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", attack]}]}
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["noNewPrivileges"] = True
    bundle.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                         "syscalls": [{"names": ["swapon"], "action": "SCMP_ACT_ERRNO"}]}
    bundle.set_args("sh", "-c", f"{fields} > /out/process")
    run_to_completion(rt, bundle, cid)
    process = read(os.path.join(out_dir, "process"))
    hooks = [read(os.path.join(out_dir, n)) for n in sorted(os.listdir(out_dir)) if n.startswith("hook.")]
    if not hooks:
        return ["the startContainer hook did not run"]
    problems = []
    for h in hooks:
        lines = h.splitlines()
        if lines[:len(process.splitlines())] != process.splitlines():
            problems.append(f"the hook ran as {lines[:9]}, the process as {process.splitlines()}")
        parent = [x for x in lines if x.startswith("parent=")]
        if not parent or "python" in parent[0] or "parent-writable" in lines:
            problems.append(f"the hook's parent: {parent} {'writable' if 'parent-writable' in lines else ''}")
    return problems


def _rootfs_inodes(rootfs):
    out = set()
    for d, _dirs, files in os.walk(rootfs):
        for name in files:
            st = os.lstat(os.path.join(d, name))
            out.add((st.st_dev, st.st_ino))
    return out


def _scanner_verdict(output, rootfs):
    """What exescan found writable or exposed, other than the container's own files."""
    own = _rootfs_inodes(rootfs)
    lines = output.splitlines()
    if not lines or not lines[-1].startswith("scans ") or int(lines[-1].split()[1]) < 10:
        return [f"the scanner did not run: {output!r}"]
    problems = []
    f_seal_write = 0x0008
    for line in lines[:-1]:
        name, ids, mount, seals, verdict = line.split(" ", 4)
        dev, ino = (int(x) for x in ids.split(":"))
        if (dev, ino) in own:
            continue
        # sealed: a read-only (detached) mount, or a memfd with F_SEAL_WRITE; any other host file is
        # exposed, even if it refused writers for now (ETXTBSY while something else runs it)
        sealed = mount == "ro" or int(seals) >= 0 and int(seals) & f_seal_write
        if verdict == "writable" or not sealed:
            problems.append(f"the container saw {name} ({mount}, seals {seals}), reopened for writing: {verdict}")
    return problems


def _scanner_container(rt, bundle, scanner, cid):
    """A running container with CAP_SYS_PTRACE whose process is exescan; its stop file."""
    shutil.copy(scanner, os.path.join(bundle.rootfs, "exescan"))
    caps = bundle.config["process"]["capabilities"]
    for s in ALL_SETS:
        caps[s] = sorted(set(caps.get(s, [])) | {"CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE"})
    bundle.set_args("/exescan", "/stop")
    p = create(rt, bundle, cid)
    rt.run("start", cid)
    return p, os.path.join(bundle.rootfs, "stop")


def _scanner_result(rt, bundle, cid, p, stop):
    with open(stop, "w"):
        pass
    wait_for(lambda: rt.status(cid) == "stopped", what="the scanner to finish")
    rt.run("delete", cid)
    os.unlink(stop)
    return _scanner_verdict(read(p.out_path), bundle.rootfs)


def check_exec_exes(rt, bundle, scanner, rounds=20, cid="exscan"):
    """CVE-2019-5736 through `exec`: a container with CAP_SYS_PTRACE watches /proc/*/exe while
    processes are exec'd into it; no executable it sees may be a host file it can reopen for writing."""
    p, stop = _scanner_container(rt, bundle, scanner, cid)
    try:
        for _ in range(rounds):
            rt.run("exec", cid, "true")
    finally:
        problems = _scanner_result(rt, bundle, cid, p, stop)
    return problems


def check_shared_pidns_exes(rt, bundle, scanner, rounds=5, cid="pidscan"):
    """The same watcher in a pid namespace that other containers join (a pod sharing its pid
    namespace): their inits, Python while they set up, must not show a writable host executable."""
    import copy
    member = copy.deepcopy(bundle.config)
    p, stop = _scanner_container(rt, bundle, scanner, cid)
    try:
        pid = rt.state(cid)["pid"]
        member["linux"]["namespaces"] = [n for n in member["linux"]["namespaces"] if n["type"] != "pid"]
        member["linux"]["namespaces"].append({"type": "pid", "path": f"/proc/{pid}/ns/pid"})
        member["process"]["args"] = ["true"]
        original, bundle.config = bundle.config, member
        bundle.save()
        try:
            for i in range(rounds):
                create(rt, bundle, f"{cid}-m{i}")
                rt.run("delete", "--force", f"{cid}-m{i}")
        finally:
            bundle.config = original
            bundle.save()
    finally:
        problems = _scanner_result(rt, bundle, cid, p, stop)
    return problems


def check_exec_device_passwd(rt, bundle, cid="mknod"):
    """exec reads the container's /etc/passwd (for HOME) only under the container's device cgroup:
    replaced by a block device node (what a container with CAP_MKNOD can do), it is never opened."""
    import stat
    bundle.set_args("sleep", "60")
    create(rt, bundle, cid)
    rt.run("start", cid)
    try:
        passwd = os.path.join(bundle.rootfs, "etc", "passwd")
        os.unlink(passwd)
        os.mknod(passwd, stat.S_IFBLK | 0o644, os.makedev(7, 0))     # loop0
        watch = Inotify(passwd)
        rt.run("exec", cid, "true", check=False)
        opened = watch.opened()
    finally:
        rt.run("delete", "--force", cid)
    return ["exec opened the container's /etc/passwd, a host block device, outside its device cgroup"] if opened else []


def check_cwd_magic_link(rt, bundle, tmp_path, cid="cwdlink"):
    """Without a pid namespace, an image's cwd of /proc/<host pid>/root/... must not make create
    build directories on the host (runc 1.1.5 does)."""
    target = tmp_path / "host-side"
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"] if n["type"] != "pid"]
    bundle.config["process"]["cwd"] = f"/proc/{os.getpid()}/root{target}/made"
    bundle.set_args("true")
    p = create(rt, bundle, cid, check=False)
    if p.returncode == 0:
        rt.run("delete", "--force", cid)
    made = os.path.exists(target)
    if made:
        shutil.rmtree(target)
    return [f"create made {target} on the host through the cwd"] if made else []


def check_exec_pid_reuse(rt, bundle, pidat, cid="reuse"):
    """exec joins its container's init and nothing else: the init dies and another process takes its
    pid while exec is between the state check and the join (the window widened with strace)."""
    bundle.set_args("sleep", "60")
    create(rt, bundle, cid)
    rt.run("start", cid)
    pid = rt.state(cid)["pid"]
    # pyrunc's CLI opens the sealed pyrunc-init (open_tree) after the state check, before the join;
    # the delay covers the reaping of the killed init (this machine's PID 1 reaps every ~2 s)
    delay = 8.0
    started = time.monotonic()
    ex = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", "-e", "trace=open_tree",
                           "-e", f"inject=open_tree:delay_enter={int(delay * 1e6)}", *rt.argv("exec", cid, "hostname")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    impostor = None
    try:
        time.sleep(0.7)
        os.kill(pid, 9)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="the init to be reaped")
        impostor = subprocess.Popen([pidat, str(pid), "unshare", "--uts", "sh", "-c", "hostname impostor; exec sleep 30"])
        wait_for(lambda: os.path.exists(f"/proc/{pid}/ns/uts") and
                 os.readlink(f"/proc/{pid}/ns/uts") != os.readlink("/proc/self/ns/uts"), what="the impostor")
        if time.monotonic() - started > delay - 0.5:
            return ["the impostor was not in place before exec went on: the check proves nothing"]
        out, err = ex.communicate(timeout=30)
    finally:
        if impostor is not None:
            impostor.kill()
            impostor.wait()
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        ex.kill()
        ex.wait()
        rt.run("delete", "--force", cid)
    if ex.returncode == 0 or "impostor" in out:
        return [f"exec ran in the namespaces of the process that took the init's pid: {out!r} {err!r}"]
    return []


def check_created_init_identity(rt, bundle, cid="waiting"):
    """A created container waits for `start` as its process: a process exec'd into it (which runc
    and pyrunc allow) sees PID 1 with the process's user and capabilities, never the runtime's."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.set_args("true")
    create(rt, bundle, cid)
    try:
        st = proc_status(rt.state(cid)["pid"])
    finally:
        rt.run("delete", "--force", cid)
    allowed = 0
    for name in bundle.config["process"]["capabilities"]["effective"]:
        allowed |= 1 << CAP_NUMBERS[name]
    problems = []
    if st["Uid"].split()[0] != "1000":
        problems.append(f"the created init waits as uid {st['Uid']}")
    if int(st["CapEff"], 16) & ~allowed:
        problems.append(f"the created init waits with CapEff {st['CapEff']}")
    return problems


def _created_with_filter(rt, bundle, cid, rule, **extra):
    """A created (never started) container whose process has noNewPrivileges, CAP_SYS_PTRACE and a
    filter of `rule`: its init loads that filter itself, after the identity switch."""
    from tests.integration.test_seccomp import profile, with_profile
    caps = bundle.config["process"]["capabilities"]
    for s in ("bounding", "effective", "permitted"):
        caps[s] = caps.get(s, []) + ["CAP_SYS_PTRACE"]
    with_profile(bundle, profile(rule, **extra), "sleep", "300", nnp=True)
    create(rt, bundle, cid)
    return rt.state(cid)["pid"]


def check_created_init_filtered(rt, bundle, ptinject, cid="filtered"):
    """With noNewPrivileges, a created container's init waits under its filter already, as runc's:
    else a process exec'd into it with CAP_SYS_PTRACE (under the filter itself) makes PID 1 run a
    syscall the profile denies (here mkdir), or exec the program unfiltered."""
    shutil.copy2(ptinject, os.path.join(bundle.rootfs, "bin", "ptinject"))
    pid = _created_with_filter(rt, bundle, cid, {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"})
    try:
        # pyrunc-init loads it just after create returns (stage 2 execs it then), well before any exec
        _eventually(lambda: proc_status(pid)["Seccomp"].strip() == "2")
        seccomp = proc_status(pid)["Seccomp"].strip()
        p = rt.run("exec", cid, "ptinject", "1", "/dev/shm/injected", check=False)
    finally:
        rt.run("delete", "--force", cid)
    problems = []
    if seccomp != "2":
        problems.append(f"the created init waits with Seccomp: {seccomp}")
    if p.stdout.strip() != "mkdir -1":     # EPERM: the profile's answer
        problems.append(f"PID 1 made to mkdir: {p.stdout.strip()} {p.stderr.strip()}")
    return problems


def check_created_init_holds_no_agent_socket(rt, bundle, tmp_path, cid="agentsock"):
    """With noNewPrivileges and SCMP_ACT_NOTIFY the listener reaches the agent at create, as runc's,
    and the created init keeps no socket to it: a process exec'd with CAP_SYS_PTRACE could take it
    (pidfd_getfd) and tell the agent what it likes, as this container."""
    from tests.support.seccomp_agent import Agent
    sock = str(tmp_path / f"{cid}.sock")
    with Agent(sock, lambda n, path: ("continue",)) as agent:
        pid = _created_with_filter(rt, bundle, cid, {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
                                   listenerPath=sock)

        def sockets():
            return [fd for fd in (os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd"))
                    if fd.startswith("socket:")]
        try:
            # sent as soon as pyrunc-init has loaded the filter, just after create returns
            done = _eventually(lambda: agent.states and not sockets())
            held, sent = sockets(), bool(agent.states)
        finally:
            rt.run("delete", "--force", cid)
    problems = [f"the created init holds {fd}" for fd in held]
    if not sent:
        problems.append("the listener did not reach the agent while the container was created")
    return problems if not done else []


def check_pod_member_cannot_stop_the_next_init(rt, bundle, ptwatch, cid="podtrace"):
    """A pod whose containers share a user and a pid namespace (CRI: a user-namespaced pod sharing
    its pid namespace): a member with CAP_SYS_PTRACE in that user namespace must not stop the next
    container's init before its program runs.  Until then that init holds the runtime's fds (the
    exec fifo: a tracer could start it), and before it takes its identity every capability of the
    namespace and no seccomp filter.  runc's init joins the user namespace after its exec, so its
    memory stays the host's user namespace's, as pyrunc-init's must (exeseal.sealed_init)."""
    import copy
    open_path_to(bundle.rootfs)
    os.chown(bundle.rootfs, 100000, 100000)
    linux = bundle.config["linux"]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    member = copy.deepcopy(bundle.config)
    shutil.copy(ptwatch, os.path.join(bundle.rootfs, "ptwatch"))
    caps = bundle.config["process"]["capabilities"]
    for s in ALL_SETS:
        caps[s] = sorted(set(caps.get(s, [])) | {"CAP_SYS_PTRACE"})
    bundle.set_args("/ptwatch", "/stop")
    p = create(rt, bundle, cid)
    rt.run("start", cid)
    stop = os.path.join(bundle.rootfs, "stop")
    try:
        wait_for(lambda: "watching" in read(p.out_path), what="the watcher")
        pid = rt.state(cid)["pid"]
        member["linux"]["namespaces"] = [n for n in member["linux"]["namespaces"] if n["type"] not in ("user", "pid")]
        member["linux"]["namespaces"] += [{"type": "user", "path": f"/proc/{pid}/ns/user"},
                                          {"type": "pid", "path": f"/proc/{pid}/ns/pid"}]
        member["process"]["capabilities"] = {}
        member["process"]["noNewPrivileges"] = True
        member["process"]["args"] = ["true"]
        original, bundle.config = bundle.config, member
        bundle.save()
        try:
            create(rt, bundle, f"{cid}-m")
            init = rt.state(f"{cid}-m")["pid"]
            # waiting for `start` with its identity: a tracer that can stop it has had every chance
            _eventually(lambda: proc_status(init)["CapEff"] == "0000000000000000")
            time.sleep(0.5)
            rt.run("delete", "--force", f"{cid}-m")
        finally:
            bundle.config = original
            bundle.save()
    finally:
        with open(stop, "w"):
            pass
        wait_for(lambda: rt.status(cid) == "stopped", what="the watcher to finish")
        rt.run("delete", cid)
        os.unlink(stop)
    return [f"a pod member {line}" for line in read(p.out_path).splitlines() if line.startswith("stopped")]


def _eventually(pred, timeout=5.0):
    """pred() became true within timeout seconds."""
    try:
        wait_for(pred, timeout=timeout)
        return True
    except AssertionError:
        return False


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


@pytest.mark.agnostic
@pytest.mark.parametrize("via_symlink", [False, True])
def test_no_mount_inside_proc_redirects_a_sysctl(rt, bundle, via_symlink):
    assert check_proc_sysctl_redirect(rt, bundle, via_symlink=via_symlink) == []
    assert read("/proc/sys/kernel/hostname").strip() != "redirected"


def test_fake_dev_null_never_masks(rt, bundle):
    assert check_dev_null_symlink(rt, bundle) == []


@pytest.mark.agnostic
def test_host_dev_null_stdio_stays_roots(rt, bundle):
    assert check_host_dev_null_stdio(rt, bundle) == []


@pytest.mark.agnostic
@pytest.mark.parametrize("verb", ["run", "exec"])
def test_foreground_stdio_is_never_the_callers_files(rt, bundle, tmp_path, verb):
    assert check_foreground_stdio(rt, bundle, tmp_path, verb) == []


@pytest.mark.agnostic
def test_a_pod_member_cannot_stop_the_next_containers_init(rt, bundle, ptwatch):
    assert check_pod_member_cannot_stop_the_next_init(rt, bundle, ptwatch) == []


@pytest.mark.agnostic
def test_created_init_waits_under_its_filter(rt, bundle, ptinject):
    assert check_created_init_filtered(rt, bundle, ptinject) == []


@pytest.mark.agnostic
def test_created_init_holds_no_agent_socket(rt, bundle, tmp_path):
    assert check_created_init_holds_no_agent_socket(rt, bundle, tmp_path) == []


@pytest.mark.agnostic
def test_foreground_exec_cannot_type_into_the_callers_terminal(rt, bundle, tiocsti):
    if tiocsti_refused_to_all():
        pytest.skip("this kernel refuses TIOCSTI to every process (dev.tty.legacy_tiocsti=0)")
    assert check_foreground_tiocsti(rt, bundle, tiocsti) == []


def test_console_symlink_never_followed(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("Debian's runc 1.1.5 predates the CVE-2025-52565 fix")
    assert check_console_symlink(rt, bundle, tmp_path) == []


def test_exec_cap_not_inheritable(rt, bundle):
    assert check_exec_cap_inheritable(rt, bundle) == []


@pytest.mark.agnostic
def test_start_hooks_run_as_the_container_process(rt, bundle, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("Debian's runc 1.1 runs them before it drops the capabilities")
    assert check_start_hook_privileges(rt, bundle) == []


@pytest.mark.agnostic
def test_exec_never_shows_a_host_executable(rt, bundle, exescan):
    assert check_exec_exes(rt, bundle, exescan) == []


@pytest.mark.agnostic
def test_shared_pid_namespace_never_shows_a_host_executable(rt, bundle, exescan):
    assert check_shared_pidns_exes(rt, bundle, exescan) == []


@pytest.mark.agnostic
def test_created_container_waits_with_its_process_identity(rt, bundle):
    assert check_created_init_identity(rt, bundle) == []


@pytest.mark.agnostic
def test_exec_opens_container_files_under_its_device_cgroup(rt, bundle):
    assert check_exec_device_passwd(rt, bundle) == []


@pytest.mark.agnostic
def test_cwd_never_created_through_a_magic_link(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("runc 1.1.5 follows it")
    assert check_cwd_magic_link(rt, bundle, tmp_path) == []


def test_exec_never_joins_a_reused_pid(rt, bundle, pidat, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("the widened window is pyrunc's own (the syscall strace delays)")
    assert check_exec_pid_reuse(rt, bundle, pidat) == []


# ------------------------------------------------------------------ the same checks catch a weakened pyrunc

@pytest.mark.parametrize("weakening,check", [
    ("no-seal", check_exe_sealed),
    ("keep-fds", check_init_fds),
    ("path-targets", "mount"),
    ("path-remount", "ro-bind-race"),
    ("follow-proc-symlink", check_proc_symlink),
    ("any-dev-null", check_dev_null_symlink),
    ("proc-mounts", check_proc_sysctl_redirect),
    ("stdio-dev-null", check_host_dev_null_stdio),
    ("caller-stdio", "foreground-stdio"),
    ("caller-stdio", "foreground-tty"),
    ("console-symlink", "console"),
    ("inheritable-cap", check_exec_cap_inheritable),
    ("python-start-hooks", check_start_hook_privileges),
    ("exec-python-in-pidns", "exec-scan"),
    ("no-python-seal", "pidns-scan"),
    ("exe-seal-unchecked", "pidns-scan"),
    ("exec-cgroups-late", check_exec_device_passwd),
    ("cwd-by-path", "cwd"),
    ("exec-ns-by-path", "pid-reuse"),
    ("privileged-wait", check_created_init_identity),
    ("unfiltered-wait", "created-filter"),
    ("unfiltered-wait", "agent-socket"),
    ("readable-init", "pod-ptrace"),
])
def test_checks_catch_a_weakened_build(rt, bundle, tmp_path, weakening, check, is_pyrunc, exescan, pidat, tiocsti,
                                      ptinject, ptwatch):
    if not is_pyrunc:
        pytest.skip("weakens pyrunc's own install")
    if check == "foreground-tty" and tiocsti_refused_to_all():
        pytest.skip("this kernel refuses TIOCSTI to every process (dev.tty.legacy_tiocsti=0)")
    weak = Runtime(weakened(rt.path, weakening, tmp_path / "weak"), rt.root)
    if check == "mount":
        outside = tmp_path / "outside"
        outside.mkdir()
        problems = check_mount_target_outside(weak, bundle, outside)
        for name in os.listdir(outside):      # what the weakened build created on the "host"
            os.rmdir(outside / name)
    elif check == "console":
        problems = check_console_symlink(weak, bundle, tmp_path)
    elif check == "exec-scan":
        problems = check_exec_exes(weak, bundle, exescan)
    elif check == "pidns-scan":
        # through the Python CLI, whose stage 1 is a fork of it (the host's interpreter): the front end
        # starts stage 1 from a read-only clone, which needs no re-exec (test_early_bootstrap checks it)
        problems = check_shared_pidns_exes(Runtime(python_cli(weak.path), weak.root), bundle, exescan)
    elif check == "foreground-stdio":
        problems = check_foreground_stdio(weak, bundle, tmp_path, "run") + \
            check_foreground_stdio(weak, bundle, tmp_path, "exec", cid="fgstdio2")
    elif check == "created-filter":
        problems = check_created_init_filtered(weak, bundle, ptinject)
    elif check == "pod-ptrace":
        problems = check_pod_member_cannot_stop_the_next_init(weak, bundle, ptwatch)
    elif check == "agent-socket":
        problems = check_created_init_holds_no_agent_socket(weak, bundle, tmp_path)
    elif check == "foreground-tty":
        problems = check_foreground_tiocsti(weak, bundle, tiocsti)
    elif check == "cwd":
        problems = check_cwd_magic_link(weak, bundle, tmp_path)
    elif check == "pid-reuse":
        problems = check_exec_pid_reuse(weak, bundle, pidat)
    elif check == "ro-bind-race":
        host = tmp_path / "host"
        host.mkdir()
        problems, _failed = check_ro_bind_race(weak, bundle, host)
    else:
        problems = check(weak, bundle)
    weak.cleanup()
    assert problems, f"the check did not notice the {weakening} weakening"
    json.dumps(problems)
