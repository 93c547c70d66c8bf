"""Stage 2 (init process: the container's PID 1, or the process of `exec`): set up, then exec pyrunc-init."""
import _signal
import os

from pyrunc import hooks, jsonlite, trace
from pyrunc.errors import Error, oserror_reason
from pyrunc.linux import creds, lookpath, loopback, procattrs, rootfs, seccomp, terminal, users
from pyrunc.linux import syscalls as S
from pyrunc.linux.final import exec_init, init_argv
from pyrunc.linux.mountplan import DEV_LINKS
from pyrunc.process import messages as M
from pyrunc.process.channel import ChannelClosed

# While it waits for `start` (only when startContainer hooks need Python),
# the init dies of these like a process with default handlers would: PID 1
# of a namespace gets no default actions.
DEADLY_WHILE_WAITING = (1, 2, 3, 10, 12, 14, 15)


def report(chan, e):
    """Send a failure to the parent as one line; never print (stdio is the container's)."""
    if isinstance(e, Error):
        msg = str(e)
    elif isinstance(e, OSError):
        msg = oserror_reason(e)
    else:
        msg = f"internal error: {type(e).__name__}: {e}"
    try:
        chan.send(M.ERROR, msg=msg)
    except BaseException:
        pass


def main(plan, chan):
    try:
        msg, _ = chan.recv()
        if msg["type"] != M.HOST_PID:
            raise Error(f"unexpected message {msg['type']}")
        plan["hook_state"]["pid" if plan["kind"] != "exec" else "exec_pid"] = msg["pid"]
        if plan["kind"] == "exec":
            handover = setup_exec(plan)
        else:
            handover = setup_container(plan, chan)
        trace.mark("process checked")
        chan.send(M.READY, marks=trace.marks())
        msg, _ = chan.recv()
        if msg["type"] != M.COMMIT:
            raise Error(f"unexpected message {msg['type']}")
        chan.close()
    except ChannelClosed:
        os._exit(1)
    except BaseException as e:
        report(chan, e)
        os._exit(1)
    fifo = plan["fds"]["fifo"]
    if plan["kind"] != "exec" and handover is None:
        # no process: wait (in pyrunc-init's place) until killed; `start` refuses
        wait_for_start(fifo)
        os._exit(1)
    if plan["kind"] != "exec" and plan["hooks"].get("startContainer"):
        wait_for_start(fifo)
        try:
            hooks.run_all("startContainer", plan["hooks"]["startContainer"], hook_state(plan, "created"))
            # re-arm the fifo (we hold it read-write): pyrunc-init reads this byte at once and
            # keeps the fifo open until its execve, which is what `start` waits for
            os.write(fifo, b"0")
        except BaseException as e:
            _die(f"pyrunc: {e}", 1)
    if plan["kind"] == "exec":
        fifo = -1
        try:
            for fd in plan["cgroup_fds"]:
                os.write(fd, b"0")
        except OSError as e:
            _die(f"pyrunc: joining the container's cgroup: {e.strerror}", 1)
    argv, env, keep = handover
    argv[1] = str(fifo)
    try:
        exec_init(plan["fds"]["init"], argv, env, pass_fds=[fifo, *keep])
    except BaseException as e:
        _die(f"pyrunc: exec pyrunc-init: {e}", 127)


def _die(msg, code):
    try:
        os.write(2, (msg + "\n").encode())
    finally:
        os._exit(code)


def hook_state(plan, status):
    return jsonlite.dumps(dict(plan["hook_state"], status=status))


def in_user_namespace(ns):
    return "user" in ns["new"] or any(t == "user" for t, _ in ns["join"])


def own_mount_namespace(ns):
    return "mount" in ns["new"] or any(t == "mount" for t, _ in ns["join"])


def setup_container(plan, chan):
    os.setsid()
    ns = plan["ns"]
    in_userns = in_user_namespace(ns)
    if plan["keyring"]:
        try:
            S.join_session_keyring(plan["keyring"])
        except OSError as e:
            raise Error(f"cannot join a new session keyring: {e.strerror}") from None
    if "network" in ns["new"]:
        loopback.up()
    root_fd = rootfs.prepare_root(plan["rootfs"], plan["rootfs_propagation"])
    deferred_ro = rootfs.mount_all(root_fd, plan["mounts"], plan["cgroup_mounts"], in_userns)
    trace.mark("mounts")
    rootfs.create_devices(root_fd, plan["devices"], in_userns)
    if plan["dev_setup"]:
        rootfs.create_dev_links(root_fd, DEV_LINKS + tuple(plan["extra_dev_links"]))
    trace.mark("devices")
    if plan["runtime_setup"]:
        # the parent's turn, in the runtime namespace: netDevices, prestart and createRuntime hooks
        chan.send(M.RUNTIME_SETUP, kinds=plan["runtime_hooks"])
        msg, _ = chan.recv()
        if msg["type"] != M.SETUP_DONE:
            raise Error(f"unexpected message {msg['type']}")
    hooks.run_all("createContainer", plan["hooks"].get("createContainer", ()), hook_state(plan, "creating"))
    if plan["runtime_setup"] or plan["hooks"].get("createContainer"):
        trace.mark("hooks")
    if not own_mount_namespace(ns):
        rootfs.chroot_into(root_fd)
    elif plan["no_pivot"]:
        rootfs.move_root(plan["rootfs"])
    else:
        rootfs.pivot(root_fd)
    os.close(root_fd)
    rootfs.set_root_propagation(plan["rootfs_propagation"])
    trace.mark("pivot_root")
    p = plan["process"]
    if p and p["terminal"]:
        setup_console(p, plan["fds"]["console"], bind_console=plan["dev_setup"])
    # a read-only /dev only once /dev/console exists (runc's finalizeRootfs comes after its console too)
    rootfs.finish_readonly(deferred_ro)
    if plan["root_readonly"]:
        rootfs.readonly_root()
    if plan["hostname"] is not None:
        S.sethostname(plan["hostname"])
    if plan["domainname"] is not None:
        S.setdomainname(plan["domainname"])
    for key, value in plan["sysctl"].items():
        try:
            rootfs.write_proc("/proc/sys/" + key.replace(".", "/"), value)
        except OSError as e:
            raise Error(f"sysctl {key}={value}: {e.strerror}") from None
    rootfs.readonly_paths(plan["readonly_paths"])
    rootfs.masked_paths(plan["masked_paths"])
    trace.mark("masked and read-only paths")
    if plan["personality"] is not None:
        S.personality(plan["personality"])
    if p is None:
        return None
    hs = plan["hook_state"]
    return prepare_process(plan, p, in_userns, make_cwd=True, listener_view=(hs["pid"], dict(hs, status="creating")))


def setup_exec(plan):
    os.setsid()
    p = plan["process"]
    if p["terminal"]:
        setup_console(p, plan["fds"]["console"])
    hs = dict(plan["hook_state"])
    view = (hs.pop("exec_pid"), dict(hs, status="running"))
    return prepare_process(plan, p, in_user_namespace(plan["ns"]), make_cwd=False, listener_view=view)


def setup_console(p, sock_fd, bind_console=False):
    master, slave = terminal.open_pty()
    if p["console_size"]:
        terminal.set_size(master, *p["console_size"])
    terminal.send_master(sock_fd, master)
    os.close(master)
    if bind_console:
        rootfs.bind_console(slave)
    terminal.become_stdio(slave)


def prepare_process(plan, p, in_userns, make_cwd, listener_view=None):
    """Everything about the process that can fail, done before READY so that errors reach `create`.

    Returns pyrunc-init's argv, the environment and the fds it inherits.
    listener_view: (host pid, container state) for a seccomp listener."""
    env = list(p["env"])
    if lookpath.env_value(env, "HOME") is None:
        env.append("HOME=" + users.home_of(p["uid"], users.read_regular("/etc/passwd")))
    cwd = p["cwd"]
    if make_cwd:
        try:
            os.makedirs(cwd, 0o755, exist_ok=True)
        except OSError as e:
            raise Error(f"cannot create cwd {cwd}: {e.strerror}") from None
    creds.apply_rlimits(p["rlimits"])
    procattrs.apply(p["attrs"])
    os.umask(p["umask"])
    creds.check_identity(p, in_userns)
    try:
        os.chdir(cwd)
        # a cwd reached through a leaked fd would lie outside the root (CVE-2024-21626)
        if not os.getcwd().startswith("/"):
            raise FileNotFoundError(2, "outside the container's root")
    except OSError as e:
        raise Error(f"cannot chdir to {cwd}: {e.strerror}") from None
    path = lookpath.find(p["args"][0], env)
    creds.check_executable(path, p)
    values, keep = seccomp.handover(plan, listener_view)
    return init_argv(p, path, 3 + plan["fds"]["preserve"], setgroups=creds.setgroups_allowed(), **values), env, keep


def wait_for_start(fifo_fd):
    """Block until `start` writes to the exec fifo; die like a normal process on a deadly signal."""
    for sig in DEADLY_WHILE_WAITING:
        _signal.signal(sig, _exit_on_signal)
    try:
        data = os.read(fifo_fd, 1)
    except OSError:
        data = b""
    if not data:
        os._exit(1)


def _exit_on_signal(sig, _frame):
    os._exit(128 + sig)
