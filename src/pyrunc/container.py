"""Parent-side lifecycle (CLI process): create, start, state, kill, delete, list, run."""
import errno
from pyrunc import oslite as os  # posix without os.py: see oslite

from pyrunc import OCI_VERSION, jsonlite, log, state, trace
from pyrunc.errors import Error, NotExist, WrongState

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
    def create(self, cid, bundle, **opts):
        """Set the container up until its init waits for `start` (pyrunc/create.py); the init's pid."""
        from pyrunc import create
        return create.create(self, cid, bundle, **opts)

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
            hooks = c.data["config"].get("hooks", {}).get("poststart")
            try:
                # unlink first: a `start` killed half-way leaves "running" (which delete --force
                # cleans up), never a "created" container that has in fact started
                os.unlink(c.fifo)
                os.write(fd, b"0")
                if hooks:
                    # runtime-spec: poststart runs once the program is executed; the init
                    # holds the fifo until its execve, then we are its last user (POLLERR)
                    _wait_fifo_orphaned(fd)
            finally:
                os.close(fd)
            trace.mark("exec")     # pyrunc-init now execs the program
            t = dict(c.data.get("trace", {}), start=trace.marks())
            c.save(dict(c.data, trace=t))
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
                from pyrunc import cgroups
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
        from pyrunc import cgroups
        mgr = cgroups.from_state(c.data["cgroup"])
        if hasattr(mgr, "thaw"):
            mgr.thaw()

    def _destroy(self, c):
        """Remove cgroups and state; run poststop hooks (their failure is only a warning)."""
        from pyrunc import cgroups
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


def _wait_fifo_orphaned(fd, timeout=10.0):
    import select
    p = select.poll()
    p.register(fd, select.POLLERR)
    p.poll(int(timeout * 1000))


def _wait_exit(pidfd, timeout=5.0):
    import select
    select.select([pidfd], [], [], timeout)


def _quiet(fn):
    try:
        fn()
    except Exception as e:   # cleanup after a failure must not hide the failure
        log.warning(f"cleanup: {e}")
