"""Stage 2 of create (init process: the container's PID 1): set the container up, then exec pyrunc-init."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import hooks, jsonlite, trace
from pyrunc.errors import Error, oserror_reason
from pyrunc.linux import creds, final, initabi, loopback, memfd, procself, proctitle, rootfs
from pyrunc.linux import syscalls as S
from pyrunc.linux.final import exec_init
from pyrunc.linux.mountplan import DEV_LINKS
from pyrunc.process import messages as M
from pyrunc.process import program
from pyrunc.process.channel import ChannelClosed

# The identity a container without a process waits with until it is deleted.
NOBODY_PROCESS = {"nnp": True, "uid": 0, "gid": 0, "groups": [], "caps": {s: 0 for s in final.CAP_SETS}}


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
        procself.pin()
        proctitle.set_title("pyrunc:[2:INIT]")
        msg, _ = chan.recv()
        if msg["type"] != M.HOST_PID:
            raise Error(f"unexpected message {msg['type']}")
        plan["hook_state"]["pid"] = msg["pid"]
        argv, env, keep = setup_container(plan, chan)
        trace.mark("process checked")
        M.ready_then_commit(chan, trace.marks())
    except ChannelClosed:
        oslite._exit(1)
    except BaseException as e:
        report(chan, e)
        oslite._exit(1)
    try:
        exec_init(plan["fds"]["init"], argv, env, pass_fds=[plan["fds"]["fifo"], *keep])
    except BaseException as e:
        _die(f"pyrunc: exec pyrunc-init: {e}", 127)


def _die(msg, code):
    try:
        oslite.write(2, (msg + "\n").encode())
    finally:
        oslite._exit(code)


def hook_state(plan, status):
    return jsonlite.dumps(dict(plan["hook_state"], status=status))


def in_user_namespace(ns):
    return "user" in ns["new"] or any(t == "user" for t, _ in ns["join"])


def own_mount_namespace(ns):
    return "mount" in ns["new"] or any(t == "mount" for t, _ in ns["join"])


def mount_source_from_host(chan, index):
    """Mount `index`'s source, opened by the runtime with the host's credentials (linux/mountsrc.py)."""
    chan.send(M.MOUNT_SOURCE, index=index)
    msg, fds = chan.recv()
    if msg["type"] != M.MOUNT_FD:
        raise Error(f"unexpected message {msg['type']}")
    if not fds:
        raise Error(msg.get("error") or "the runtime sent no mount source")
    return fds[0]


def setup_container(plan, chan):
    oslite.setsid()
    ns = plan["ns"]
    in_userns = in_user_namespace(ns)
    program.join_keyring(plan)
    if "network" in ns["new"]:
        loopback.up()
    root_fd = rootfs.prepare_root(plan["rootfs"], plan["rootfs_propagation"])
    deferred_ro = rootfs.mount_all(root_fd, plan["mounts"], plan["cgroup_mounts"], in_userns,
                                   host_source=lambda i: mount_source_from_host(chan, i))
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
    # as runc's init runs them: in the rootfs, with the process's environment (HOME not yet added)
    hooks.run_all("createContainer", plan["hooks"].get("createContainer", ()), hook_state(plan, "creating"),
                  env=(plan["process"] or {}).get("env", []), cwd=plan["rootfs"])
    if plan["runtime_setup"] or plan["hooks"].get("createContainer"):
        trace.mark("hooks")
    if not own_mount_namespace(ns):
        rootfs.chroot_into(root_fd)
    elif plan["no_pivot"]:
        rootfs.move_root(plan["rootfs"])
    else:
        rootfs.pivot(root_fd)
    oslite.close(root_fd)
    rootfs.set_root_propagation(plan["rootfs_propagation"])
    trace.mark("pivot_root")
    p = plan["process"]
    if p and p["terminal"]:
        program.setup_console(p, plan["fds"]["console"], bind_console=plan["dev_setup"])
    # a read-only /dev only once /dev/console exists (runc's finalizeRootfs comes after its console too)
    rootfs.finish_readonly(deferred_ro)
    if p:
        # before the root turns read-only (runc creates it then too)
        program.enter_cwd(p["cwd"], create=True)
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
    rootfs.masked_paths(plan["masked_paths"], plan["mount_label"])
    trace.mark("masked and read-only paths")
    if plan["personality"] is not None:
        S.personality(plan["personality"])
    return handover(plan, in_userns)


def handover(plan, in_userns):
    """pyrunc-init's argv, environment and inherited fds: it waits for `start`, runs the
    startContainer hooks as the container's process, then execs the program (or, without
    a process, waits until it is killed)."""
    hs = plan["hook_state"]
    fields = {"mode": "init", "fifo": plan["fds"]["fifo"], "self_pid": hs["pid"]}
    p = plan["process"]
    if p is None:
        # nothing to run: wait as root of the container with no capability at all
        fields.update(final.identity_fields(NOBODY_PROCESS, 3 + plan["fds"]["preserve"], creds.setgroups_allowed()))
        return initabi.argv(fields), [], []
    ident, path, env, keep = program.prepare(plan, p, in_userns, dict(hs, status="creating"))
    fields.update(ident)
    if plan["hooks"].get("startContainer"):
        blob = initabi.hooks_blob(plan["hooks"]["startContainer"], hook_state(plan, "created"))
        fields["hooks"] = memfd.sealed(blob, "pyrunc-hooks")
        keep.append(fields["hooks"])
    return initabi.argv(fields, path, p["args"]), env, keep
