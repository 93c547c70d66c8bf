"""Stage 1 of `exec` (bootstrap process, in the host's pid namespace): join the container, check the process, become pyrunc-init.

Nothing of this process is visible inside the container: it joins the
container's cgroups and namespaces with setns, but a process never enters
a pid namespace itself, only its children do.  The process that does
enter it is forked by pyrunc-init (sealed, see exeseal) once it already
has the container process's identity and seccomp filter.  Its cgroups are
joined first (bootstrap.join_cgroups), so that the container's device
cgroup applies to the files opened here (/etc/passwd, /dev/ptmx): a
container with CAP_MKNOD cannot make us open a host device through them.
"""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import trace
from pyrunc.errors import Error
from pyrunc.linux import initabi, proctitle
from pyrunc.linux import syscalls as S
from pyrunc.linux.final import exec_init
from pyrunc.process import messages as M
from pyrunc.process import program


def main(plan, chan):
    """Never returns: raises before READY (bootstrap reports it), exits or execs after."""
    proctitle.set_title("pyrunc:[1:EXEC]")
    join_namespaces(plan["fds"]["pidfd"], plan["ns"], lambda: program.join_keyring(plan))
    trace.mark("namespaces")
    p = plan["process"]
    if p["terminal"]:
        program.setup_console(p, plan["fds"]["console"], controlling=False)
    program.enter_cwd(p["cwd"], create=False)
    hs = dict(plan["hook_state"], status="running")
    fields, path, env, keep = program.prepare(plan, p, plan["ns"]["user"], hs)
    fields.update(mode="exec", report=plan["fds"]["report"])
    if p["terminal"]:
        fields["flags"] |= initabi.FLAGS["TTY"]
    trace.mark("process checked")
    M.ready_then_commit(chan, trace.marks())
    try:
        exec_init(plan["fds"]["init"], initabi.argv(fields, path, p["args"]), env,
                  pass_fds=[plan["fds"]["report"], *keep])
    except BaseException as e:
        oslite.pwrite(plan["fds"]["report"], f"exec pyrunc-init: {e}".encode()[:initabi.REPORT_SIZE - 9], 8)
    oslite._exit(1)


def join_namespaces(pidfd, ns, join_keyring):
    """The container's namespaces through a pidfd of its init that the CLI opened and checked
    (pid and start time) under the container's lock: a pid reused since cannot lead us into
    someone else's namespaces.  Its user namespace first (as root of it: pyrunc-init then
    switches to the process's user), where join_keyring() finds the init's session keyring by
    name (runc's exec joins it too: never the caller's), while /proc is still the host's (the
    SELinux key label is written there); then the others."""
    try:
        if ns["user"]:
            _setns(pidfd, S.CLONE_NEWUSER)
            oslite.setresgid(0, 0, 0)
            oslite.setresuid(0, 0, 0)
        join_keyring()
        if ns["flags"] & ~S.CLONE_NEWUSER:
            _setns(pidfd, ns["flags"] & ~S.CLONE_NEWUSER)
    finally:
        oslite.close(pidfd)


def _setns(pidfd, flags):
    try:
        S.setns(pidfd, flags)
    except OSError as e:
        raise Error(f"joining the container's namespaces: {e.strerror}") from None
