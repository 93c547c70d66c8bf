"""Parent-side lifecycle (CLI process): create, start, state, kill, delete, list, run."""
import errno
import os

from pyrunc import OCI_VERSION, jsonlite, log, state, trace
from pyrunc.errors import BadConfig, Error, NotExist, WrongState

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
    "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
    "POLL": 29, "PWR": 30, "SYS": 31,
}


def parse_signal(text):
    """runc's rules: a number, or a name with or without SIG (RTMIN+n too)."""
    t = text.upper()
    if t.isdigit():
        n = int(t)
        if 0 <= n <= 64:    # 0 checks that the init exists, as kill(2) does
            return n
    else:
        if t.startswith("SIG"):
            t = t[3:]
        if t in SIGNALS:
            return SIGNALS[t]
        for base, num in (("RTMIN", 34), ("RTMAX", 64)):
            if t == base:
                return num
            if t.startswith(base + "+") and t[len(base) + 1:].isdigit():
                n = num + int(t[len(base) + 1:])
                if n <= 64:
                    return n
            if t.startswith(base + "-") and t[len(base) + 1:].isdigit():
                n = num - int(t[len(base) + 1:])
                if n >= 34:
                    return n
    raise Error(f"unknown signal {text!r}")


class Runtime:
    """Global options shared by every command."""

    def __init__(self, root, systemd_cgroup=False, rootless=False):
        self.root = root
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless

    def container(self, cid):
        return state.Container(self.root, cid)

    # ------------------------------------------------------------ create
    def create(self, cid, bundle, pid_file=None, console_socket=None, no_pivot=False,
               no_new_keyring=False, preserve_fds=0, detach=True, subreaper=False, console_fd=None):
        """Set the container up until its init waits for `start`; returns the init's pid.

        Crash consistency: state.json (marked "creating", with the cgroup
        paths) exists before anything else does, so a `delete --force` or a
        new `create` of the id cleans up after a create that was killed.
        """
        from pyrunc import config, exeseal
        from pyrunc.cgroups import base as cgroups
        from pyrunc.cgroups import detect
        from pyrunc.linux.userns import write_maps
        from pyrunc.process.parent import Stages, run_runtime_hooks

        bundle = os.path.abspath(bundle or ".")
        if console_fd is not None:
            console_socket = f"fd {console_fd}"
        doc = _checked_config(bundle, console_socket, detach, preserve_fds, self.rootless)
        from pyrunc.linux import seccomp
        filter_entry, bpf = seccomp.prepare(doc.get("linux", {}).get("seccomp"), self.root)
        if filter_entry:
            log.debug(f"seccomp filter flags: {filter_entry['flags']}")   # runc's words
        trace.mark("seccomp")
        c = self._claim(cid)
        trace.mark("reserve id")
        stages = manager = None
        fds = []
        try:
            # rootless: no cgroup of our own to manage (runc ignores them on v1 too)
            layout = (detect.NONE, []) if self.rootless else detect.host_layout()
            linux = doc.get("linux", {})
            manager = cgroups.new(linux.get("cgroupsPath", ""), cid, layout, systemd=self.systemd_cgroup,
                                  resources=linux.get("resources", {}),
                                  cgroupns=any(n.get("type") == "cgroup" for n in linux.get("namespaces", ())))
            plan = config.build(doc, bundle, cid, manager, layout, no_pivot, no_new_keyring)
            base = {"id": cid, "bundle": bundle, "rootfs": plan["rootfs"],
                    "created": state.now_rfc3339nano(), "annotations": doc.get("annotations", {}),
                    "cgroup": manager.to_state(), "config": _saved_config(doc)}
            c.save(dict(base, creating=True))
            manager.create(linux.get("devices", ()))
            trace.mark("create cgroup")
            fds.append(os.open(c.fifo, os.O_RDWR | os.O_CLOEXEC))
            plan["fds"] = {"fifo": fds[0], "console": None, "preserve": preserve_fds}
            fds.extend(_prepare_idmaps(plan["mounts"]))
            fds.append(exeseal.sealed_init())
            plan["fds"]["init"] = fds[-1]
            if console_socket:
                fds.append(os.dup(console_fd) if console_fd is not None else _connect(console_socket))
                plan["fds"]["console"] = fds[-1]
            seccomp.attach(plan, filter_entry, bpf, fds)
            if subreaper:
                from pyrunc.linux import syscalls as S
                S.prctl(S.PR_SET_CHILD_SUBREAPER, 1)
            stages = Stages().spawn(plan, keep_fds=fds)

            def on_setup(kinds, pid):
                if doc.get("linux", {}).get("netDevices"):
                    from pyrunc.linux import netdev
                    netdev.move(doc["linux"]["netDevices"], pid)
                run_runtime_hooks(kinds, doc.get("hooks", {}), _hook_state(base, "creating", pid))

            def on_pid(pid):
                start = state.proc_start_time(pid)
                c.save(dict(base, pid=pid, pid_start=start[0] if start else 0, creating=True))

            pid = stages.wait_ready(on_userns=lambda p: write_maps(p, plan["uid_map"], plan["gid_map"],
                                                                   deny_setgroups=self.rootless),
                                    on_setup=on_setup, on_pid=on_pid)
            start = state.proc_start_time(pid)
            if start is None:
                raise Error("container init exited before it was ready")
            trace.mark("init ready")
            c.save(dict(base, pid=pid, pid_start=start[0], trace={"create": trace.marks()}))
            if pid_file:
                write_pid_file(pid_file, pid)
            stages.commit()
            trace.mark("state saved")
        except BaseException:
            if stages is not None:
                stages.kill()
            if manager is not None:
                _quiet(manager.destroy)
            _quiet(c.remove)
            raise
        finally:
            for fd in fds:
                os.close(fd)
            c.unlock()
        log.debug(f"created container {cid}", pid=pid)
        return pid

    def _claim(self, cid):
        """Reserve the id; an earlier create of it that was killed half-way is cleaned up first."""
        c = self.container(cid)
        try:
            return c.reserve()
        except Error:
            if not c.exists():
                raise
        old = self.container(cid)
        try:
            old.lock(blocking=False)
        except Error:
            raise Error(f"container with id {cid} already exists") from None
        with old:
            old.load()
            if old.data and not old.data.get("creating"):
                raise Error(f"container with id {cid} already exists")
            # unlocked and never finished: its creator is gone
            log.warning(f"cleaning up an interrupted create of {cid}")
            self._kill_init(old, 9)
            self._destroy(old)
        return self.container(cid).reserve()

    # ------------------------------------------------------------ start
    def start(self, cid):
        with self.container(cid).lock() as c:
            c.load()
            status = c.status()
            if status != "created":
                raise WrongState(_cannot("start", status))
            if not c.data.get("config", {}).get("process"):
                raise WrongState("the container has no process to start (process is not set in config.json)")
            try:
                fd = os.open(c.fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    raise WrongState("the container init is not waiting for start (it exited)") from None
                raise
            try:
                # unlink first: a `start` killed half-way leaves "running" (which delete --force
                # cleans up), never a "created" container that has in fact started
                os.unlink(c.fifo)
                os.write(fd, b"0")
            finally:
                os.close(fd)
            hooks = c.data["config"].get("hooks", {}).get("poststart")
            if hooks:
                self._poststart(c, hooks)

    def _poststart(self, c, hooks_list):
        from pyrunc import hooks
        try:
            hooks.run_all("poststart", hooks_list, _hook_state(c.data, "running", c.data["pid"]))
        except Error as e:
            # runtime-spec 1.3: a failed poststart hook stops and removes the container
            self._kill_init(c, 9)
            self._destroy(c)
            raise Error(f"{e}; the container was stopped and removed") from None

    # ------------------------------------------------------------ state
    def state(self, cid):
        c = self.container(cid)
        if not c.exists():
            raise NotExist(cid)
        c.load()
        return c.oci_state()

    # ------------------------------------------------------------ kill
    def kill(self, cid, sig, all_processes=False):
        c = self.container(cid)
        try:
            c.lock()
        except NotExist:
            if all_processes:
                return   # containerd's cleanup sends `kill --all ID 9` after delete
            raise
        with c:
            c.load()
            status = c.status()
            if status == "stopped" or status == "creating" and not all_processes:
                if all_processes:
                    return
                raise WrongState("container not running")
            if all_processes:
                from pyrunc.cgroups import base as cgroups
                cgroups.from_state(c.data["cgroup"]).kill_all(sig)
            self._kill_init(c, sig)

    def _kill_init(self, c, sig):
        import _signal
        pid = c.data.get("pid")
        if not pid:
            return
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            # the pidfd pins the process: check it is still our init, then signal it
            if state.alive(pid, c.data.get("pid_start")):
                _signal.pidfd_send_signal(pidfd, sig)
                if sig == 9:
                    _wait_exit(pidfd)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)

    # ------------------------------------------------------------ delete
    def delete(self, cid, force=False):
        c = self.container(cid)
        try:
            c.lock()
        except NotExist:
            if force:
                if os.path.isdir(self.root):
                    c.sweep_temporary()
                return   # idempotent cleanup, as containerd and podman expect
            raise
        with c:
            c.load()
            status = c.status()
            if status in ("running", "paused") and not force:
                raise WrongState(f"cannot delete container {cid} that is not stopped: {status}")
            if status != "stopped":
                if status == "paused":
                    self._thaw(c)
                self._kill_init(c, 9)
            self._destroy(c)

    def _thaw(self, c):
        from pyrunc.cgroups import base as cgroups
        mgr = cgroups.from_state(c.data["cgroup"])
        if hasattr(mgr, "thaw"):
            mgr.thaw()

    def _destroy(self, c):
        """Remove cgroups and state; run poststop hooks (their failure is only a warning)."""
        from pyrunc.cgroups import base as cgroups
        d = c.data or {}
        if d.get("cgroup"):
            cgroups.from_state(d["cgroup"]).destroy()
        hooks_list = d.get("config", {}).get("hooks", {}).get("poststop")
        c.remove()
        if hooks_list and not d.get("creating"):
            from pyrunc import hooks
            # runtime-spec: a failing poststop hook is a warning and the remaining hooks still run
            hooks.run_all("poststop", hooks_list, _hook_state(d, "stopped", 0),
                          on_failure=lambda e: log.warning(str(e)))

    # ------------------------------------------------------------ list
    def list(self):
        out = []
        for cid in state.list_ids(self.root):
            c = self.container(cid)
            try:
                c.load()
            except (NotExist, Error):
                continue
            s = c.oci_state()
            try:
                s["owner"] = _owner(os.stat(c.dir).st_uid)
            except OSError:
                continue
            out.append(s)
        return out


def _prepare_idmaps(mounts):
    """One user namespace fd per distinct mapping of the idmapped mounts (the init uses them)."""
    from pyrunc.linux.idmap import userns_fd
    made = {}
    for m in mounts:
        if m["uid_mappings"] and ("idmap" in m["extensions"] or "ridmap" in m["extensions"]):
            key = jsonlite.dumps([m["uid_mappings"], m["gid_mappings"]])
            if key not in made:
                made[key] = userns_fd(m["uid_mappings"], m["gid_mappings"])
            m["userns_fd"] = made[key]
    return list(made.values())


def _checked_config(bundle, console_socket, detach, preserve_fds, rootless=False):
    """config.json, typed and checked; every problem at once."""
    from pyrunc import spec, validate
    doc = spec.load(bundle)
    trace.mark("load config")
    problems = validate.check(doc, bundle)
    if rootless:
        problems += validate.check_rootless(doc)
    p = doc.get("process", {})
    if p.get("terminal") and detach and not console_socket:
        problems.append("/process/terminal: cannot allocate a tty for a detached container without --console-socket")
    if console_socket and not p.get("terminal"):
        problems.append("--console-socket: the process has no terminal (process.terminal is false)")
    problems += _check_preserved(preserve_fds)
    if problems:
        raise BadConfig("config.json: " + "; ".join(problems))
    trace.mark("validate")
    return doc


def _check_preserved(n):
    """--preserve-fds N passes fds 3..N+2: each must be open, or one of ours could take its number."""
    missing = []
    for fd in range(3, 3 + n):
        try:
            os.fstat(fd)
        except OSError:
            missing.append(f"--preserve-fds {n}: fd {fd} is not open")
    return missing


def _saved_config(doc):
    """What later commands need from config.json, kept in state.json (the bundle may change)."""
    keep = {"process": doc.get("process"), "hooks": doc.get("hooks", {}),
            "namespaces": [ns["type"] for ns in doc.get("linux", {}).get("namespaces", ())],
            "seccomp": doc.get("linux", {}).get("seccomp")}   # exec'd processes get the same filter
    return {k: v for k, v in keep.items() if v}


def _hook_state(base, status, pid):
    return jsonlite.dumps({"ociVersion": OCI_VERSION, "id": base["id"], "status": status, "pid": pid,
                           "bundle": base["bundle"], "annotations": base.get("annotations", {})})


def _cannot(verb, status):
    return {"stopped": f"cannot {verb} a container that has stopped",
            "running": f"cannot {verb} an already running container",
            "paused": f"cannot {verb} a paused container",
            "creating": f"cannot {verb} a container that is still being created"}.get(
                status, f"cannot {verb} a container in state {status}")


def _owner(uid):
    try:
        import pwd
        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def _connect(path):
    import _socket
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise Error(f"cannot connect to console socket {path}: {e.strerror}") from None
    return s.detach()


def write_pid_file(path, pid):
    """Decimal, no newline, atomically (the shim reads it with strconv.Atoi right after create)."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _wait_exit(pidfd, timeout=5.0):
    import select
    select.select([pidfd], [], [], timeout)


def _quiet(fn):
    try:
        fn()
    except Exception as e:   # cleanup after a failure must not hide the failure
        log.warning(f"cleanup: {e}")
