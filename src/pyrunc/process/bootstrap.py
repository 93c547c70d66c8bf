"""Stage 1 (bootstrap process): cgroups first, then (create) namespaces joined and created in runc's order and the init forked, or (exec) execstage."""
import fcntl
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import jsonlite, trace
from pyrunc.oslite import write_file
from pyrunc.errors import Error
from pyrunc.linux import memfd
from pyrunc.linux import syscalls as S
from pyrunc.linux.namespaces import TYPES
from pyrunc.process import execstage, init
from pyrunc.process.init import report
from pyrunc.process import messages as M
from pyrunc.process.channel import Channel, ChannelClosed


def joins_shared_pid_namespace(plan):
    """Does the init enter a pid namespace that processes of other containers already live in?"""
    return plan["kind"] == "init" and any(t == "pid" for t, _ in plan["ns"]["join"])


def receive_plan(chan):
    """BOOTSTRAP: the plan (from its sealed memfd), with the fds that came along put where their slots say."""
    msg, fds = chan.recv()
    if msg["type"] != M.BOOTSTRAP:
        raise Error(f"unexpected message {msg['type']}")
    if len(fds) != len(msg["slots"]) + 1:
        raise Error("the plan's fds did not all arrive")
    plan = jsonlite.loads(memfd.read_all(fds[0]))
    oslite.close(fds[0])
    plan["fds"]["received"] = fds[1:]
    for slot, fd in zip(msg["slots"], fds[1:]):
        *path, last = slot.split("/")
        cur = plan
        for k in path:
            cur = cur[int(k)] if isinstance(cur, list) else cur[k]
        cur[int(last) if isinstance(cur, list) else last] = fd
    return plan


def take_stdio(plan):
    """A foreground run or exec without a terminal: the CLI's pipes become our fds 0-2 (and so the
    process's), in place of the caller's, which we close (console.stdio_pipes says why)."""
    stdio = plan["fds"]["stdio"]
    if not stdio:
        return
    # first above 0-2: one of them may have landed there, if the caller had closed its own
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in stdio]
    for fd in stdio:
        oslite.close(fd)
    for target, fd in enumerate(high):
        oslite.dup2(fd, target)     # inheritable
        oslite.close(fd)
    plan["fds"]["received"] = [fd for fd in plan["fds"]["received"] if fd not in stdio]
    plan["fds"]["stdio"] = None


def main(chan, plan):
    try:
        join_cgroups(plan)
        if plan["kind"] == "exec":
            execstage.main(plan, chan)   # never returns
        enter_namespaces(plan["ns"], chan)
        trace.mark("namespaces")
        parent_end, child_end = Channel.pair()
        pid = oslite.fork()
        if pid == 0:
            # stage 2 must not hold stage 1's channel: the parent relies on its EOF
            trace.reset()
            chan.close()
            parent_end.close()
            init.main(plan, child_end)   # never returns
        child_end.close()
        parent_end.send(M.HOST_PID, pid=pid)
        trace.mark("fork init")
        chan.send(M.INIT_PID, fds=[parent_end.fileno()], pid=pid, marks=trace.marks())
        parent_end.close()
    except ChannelClosed:
        oslite._exit(1)
    except BaseException as e:
        report(chan, e)
        oslite._exit(1)


def join_cgroups(plan):
    """First of all: the container's cgroups (and CPUs and OOM score), so that its limits, and its
    device cgroup above all, apply to every file of the container a stage opens later."""
    cpus = (plan.get("process") or {}).get("cpus_initial")
    if cpus:
        # execCPUAffinity.initial: where we run until we are in the container's cgroup
        oslite.sched_setaffinity(0, cpus)
    for f in plan["cgroup_join"]:
        try:
            # exec into a paused container (--ignore-paused) waits here until it is resumed, as runc's
            write_file(f, "0")
        except OSError as e:
            raise Error(f"joining cgroup {oslite.path.dirname(f)}: {e.strerror}") from None
    if plan.get("oom_score_adj") is not None:
        try:
            write_file("/proc/self/oom_score_adj", str(plan["oom_score_adj"]))
        except OSError as e:
            raise Error(f"failed to update /proc/self/oom_score_adj: {e.strerror}") from None
    trace.mark("join cgroup")


def enter_namespaces(ns, chan):
    # Open every path first: joining a mount namespace changes what paths mean.
    fds = []
    try:
        for t, path in ns["join"]:
            try:
                fds.append((t, oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)))
            except OSError as e:
                raise Error(f"open {t} namespace {path}: {e.strerror}") from None
        # Join what we can while we still hold the host's privileges; a
        # namespace owned by the container's user namespace may need us to
        # be in that first (runc 1.2's order).
        deferred = []
        user_fd = None
        for t, fd in fds:
            if t == "user":
                user_fd = fd
                continue
            try:
                S.setns(fd, TYPES[t][0])
            except PermissionError:
                deferred.append((t, fd))
            except OSError as e:
                raise Error(f"join {t} namespace: {e.strerror}") from None
        if user_fd is not None:
            S.setns(user_fd, S.CLONE_NEWUSER)
        elif "user" in ns["new"]:
            # An unprivileged parent can only open our /proc/PID/*_map while we are
            # dumpable: open that window for the mapping only (as runc's nsexec).
            unprivileged = oslite.geteuid() != 0
            S.unshare(S.CLONE_NEWUSER)
            if unprivileged:
                S.prctl(S.PR_SET_DUMPABLE, 1)
            chan.send(M.USERNS)
            msg, _ = chan.recv()
            if unprivileged:
                S.prctl(S.PR_SET_DUMPABLE, 0)
            if msg["type"] != M.USERNS_MAPPED:
                raise Error("the parent did not map the user namespace")
        if user_fd is not None or "user" in ns["new"]:
            # become root of the user namespace
            oslite.setresgid(0, 0, 0)
            oslite.setresuid(0, 0, 0)
        for t, fd in deferred:
            try:
                S.setns(fd, TYPES[t][0])
            except OSError as e:
                raise Error(f"join {t} namespace: {e.strerror}") from None
    finally:
        for _t, fd in fds:
            oslite.close(fd)
    flags = ns["flags"] & ~(S.CLONE_NEWUSER | S.CLONE_NEWCGROUP)
    if flags:
        S.unshare(flags)
    if ns.get("time_offsets"):
        write_file("/proc/self/timens_offsets", ns["time_offsets"])
    if ns["flags"] & S.CLONE_NEWCGROUP:
        # last: the new cgroup namespace is rooted where we now are
        S.unshare(S.CLONE_NEWCGROUP)
