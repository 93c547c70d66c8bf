"""The container program's hand-over (create's init after its set-up, exec's stage 1 after joining): checks, then pyrunc-init's fields."""
import os

from pyrunc.errors import Error
from pyrunc.linux import creds, final, lookpath, procattrs, rootfs, seccomp, terminal, users


def enter_cwd(cwd, create):
    """chdir to the process's cwd, resolved (with create: made) inside the container's root.

    openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from "/": an image's cwd
    of /proc/<host pid>/root/... (no pid namespace) or a leaked
    /proc/self/fd/N leads nowhere outside (CVE-2024-21626), and nothing is
    ever created outside the root on the way."""
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = rootfs.ensure(root, cwd) if create else rootfs.resolve(root, cwd)
    except OSError as e:
        raise Error(f"cannot {'create cwd' if create else 'chdir to'} {cwd}: {e.strerror}") from None
    finally:
        os.close(root)
    try:
        os.fchdir(fd)
        if not os.getcwd().startswith("/"):
            raise FileNotFoundError(2, "outside the container's root")
    except OSError as e:
        raise Error(f"cannot chdir to {cwd}: {e.strerror}") from None
    finally:
        os.close(fd)


def setup_console(p, sock_fd, bind_console=False, controlling=True):
    """A pty of the container's devpts: the master to the console socket, the slave our stdio.

    controlling: make it our controlling terminal now (a session leader);
    exec's stage 1 leaves that to the process pyrunc-init forks."""
    master, slave = terminal.open_pty()
    if p["console_size"]:
        terminal.set_size(master, *p["console_size"])
    terminal.send_master(sock_fd, master)
    os.close(master)
    if bind_console:
        rootfs.bind_console(slave)
    terminal.become_stdio(slave, controlling)


def prepare(plan, p, in_userns, state):
    """Everything about the process that can fail, done before READY so that errors reach the CLI.

    Returns (pyrunc-init's fields, the program's path, its environment, the
    fds pyrunc-init inherits); state: the container's, for a seccomp listener."""
    env = list(p["env"])
    if lookpath.env_value(env, "HOME") is None:
        env.append("HOME=" + users.home_of(p["uid"], users.read_regular("/etc/passwd")))
    creds.apply_rlimits(p["rlimits"])
    procattrs.apply(p["attrs"])
    os.umask(p["umask"])
    creds.check_identity(p, in_userns)
    path = lookpath.find(p["args"][0], env)
    creds.check_executable(path, p)
    sfields, keep = seccomp.handover(plan, state)
    fields = final.identity_fields(p, 3 + plan["fds"]["preserve"], creds.setgroups_allowed(), seccomp=bool(sfields))
    fields.update(sfields)
    return fields, path, env, keep
