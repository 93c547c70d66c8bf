"""The lifecycle behind the Python API (CLI process): start, state, kill, delete and list of containers under a root.

create and exec, which drive the init stages, are create.py and execproc.py.
Every verb checks transitions.require first; start and delete then run
their steps (steps.operations), the same steps the front end runs from a
container's recipe.
"""
import errno
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import frontabi, hooks, log, state, steps, trace, transitions
from pyrunc.errors import Error, NotExist, WrongState


# ------------------------------------------------------------ start
def start(host, cid):
    with host.container(cid).lock() as c:
        c.load()
        trace.mark("state loaded")
        transitions.require("start", c.status(), cid)
        if not c.data.get("config", {}).get("process"):
            raise WrongState("the container has no process to start (process is not set in config.json)")
        run_steps(c, steps.operations("start", c.data))


# ------------------------------------------------------------ state, list
def container_state(host, cid):
    c = host.container(cid)
    if not c.exists():
        raise NotExist(cid)
    c.load()
    return c.oci_state()


def containers(host):
    out = []
    for cid in state.list_ids(host.root):
        c = host.container(cid)
        try:
            c.load()
        except Error:
            continue
        s = c.oci_state()
        try:
            s["owner"] = _owner(oslite.stat(c.dir).st_uid)
        except OSError:
            continue
        out.append(s)
    return out


# ------------------------------------------------------------ kill
def kill(host, cid, sig, all_processes=False):
    c = host.container(cid)
    try:
        c.lock()
    except NotExist:
        if all_processes:
            return   # containerd's cleanup sends `kill --all ID 9` after delete
        raise
    with c:
        c.load()
        status = c.status()
        transitions.require("kill --all" if all_processes else "kill", status, cid)
        if all_processes and (c.data or {}).get("cgroup"):
            # also once the init is gone, as runc: a container without its own pid namespace
            # leaves its background processes behind, holding the caller's pipes (containerd's
            # shim sends exactly this after such an init exits, then waits for the pipes)
            from pyrunc import cgroups
            cgroups.from_state(c.data["cgroup"]).kill_all(sig)
        kill_init(c, sig, paused=status == "paused")


def kill_init(c, sig, paused=False):
    """Signal the container's init, if it is still the process create started; SIGKILL: wait for its exit.

    A paused container is thawed once its init has SIGKILL pending, as runc
    does: a task in a frozen v1 cgroup acts on no signal until it is thawed,
    and with the signal already pending it dies before it runs again."""
    import _signal
    pid = c.data.get("pid")
    if not pid:
        return
    try:
        pidfd = oslite.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        # the pidfd pins the process: check it is still our init, then signal it
        if state.alive(pid, c.data.get("pid_start")):
            _signal.pidfd_send_signal(pidfd, sig)
            if sig == 9:
                if paused:
                    _thaw(c)
                _wait_readable(pidfd, 5.0)
    except ProcessLookupError:
        pass
    finally:
        oslite.close(pidfd)


# ------------------------------------------------------------ delete
def delete(host, cid, force=False):
    c = host.container(cid)
    try:
        c.lock()
    except NotExist:
        if force:
            if oslite.path.isdir(host.root):
                c.sweep_temporary()
            return   # idempotent cleanup, as containerd and podman expect
        raise
    with c:
        c.load()
        status = c.status()
        transitions.require("delete --force" if force else "delete", status, cid)
        if status != "stopped":
            kill_init(c, 9, paused=status == "paused")
        destroy(c)


def destroy(c):
    """Remove a container whose init is gone: its cgroups, its state, then its poststop hooks."""
    run_steps(c, steps.operations("delete", c.data or {}))


def _thaw(c):
    from pyrunc import cgroups
    mgr = cgroups.from_state(c.data["cgroup"])
    if hasattr(mgr, "thaw"):
        mgr.thaw()


# ------------------------------------------------------------ the steps
def run_steps(c, ops):
    """Run a verb's steps (steps.py) on a locked, loaded container: what the front end does from
    the recipe, with Python's fuller handling where the front end would hand over."""
    fifo_fd = None
    cgroups_removed = False
    try:
        for op in ops:
            name = op[0]
            if name == "fifo-start":
                fifo_fd = _fifo_start(c, op[1])
            elif name == "wait-exec":
                # the init holds the fifo until its execve: then we are its last user (POLLERR)
                _wait_fifo_orphaned(fifo_fd)
            elif name == "hooks":
                _run_hooks(c, op[1])
            elif name == "trace-start":
                trace.mark("exec")     # pyrunc-init now execs the program
                c.save_start_trace(trace.marks())
            elif name in ("stop-unit", "rmdir"):
                # every cgroup directory at once (they may share processes), by the driver,
                # whose destroy stops the systemd unit first
                if not cgroups_removed:
                    _remove_cgroups(c, [o[1] for o in ops if o[0] == "rmdir"])
                    cgroups_removed = True
            elif name == "remove-state":
                c.remove()
            else:
                raise Error(f"internal error: unknown step {name!r}")
    finally:
        if fifo_fd is not None:
            oslite.close(fifo_fd)


def _fifo_start(c, name):
    try:
        fd = oslite.open(oslite.path.join(c.dir, name), oslite.O_WRONLY | oslite.O_NONBLOCK | oslite.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise WrongState("the container init is not waiting for start (it exited)") from None
        raise
    try:
        # unlink first: a `start` killed half-way leaves "running" (which delete --force
        # cleans up), never a "created" container that has in fact started
        oslite.unlink(oslite.path.join(c.dir, name))
        oslite.write(fd, b"0")
    except BaseException:
        oslite.close(fd)
        raise
    return fd


def _run_hooks(c, kind):
    d = c.data
    hook_list = d.get("config", {}).get("hooks", {}).get(kind, ())
    if kind == "poststop":
        # runtime-spec: a failing poststop hook is a warning and the remaining hooks still run
        hooks.run_all(kind, hook_list, hooks.state_json(d, "stopped", 0), on_failure=lambda e: log.warning(str(e)))
        return
    try:
        hooks.run_all(kind, hook_list, hooks.state_json(d, "running", d["pid"]))
    except Error as e:
        # runtime-spec 1.3: a failed poststart hook stops and removes the container
        kill_init(c, 9)
        destroy(c)
        raise Error(f"{e}; the container was stopped and removed") from None


def _remove_cgroups(c, dirs):
    """rmdir each; what still holds processes (a container without its own pid namespace) or
    children is thawed, killed and removed bottom-up by the cgroup driver."""
    from pyrunc import cgroups
    cg = c.data["cgroup"]
    cgroups.from_state(dict(cg, dirs={k: v for k, v in cg["dirs"].items() if v in dirs})).destroy()


# ------------------------------------------------------------ small helpers
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


def _wait_readable(fd, timeout):
    import select
    select.select([fd], [], [], timeout)
