"""The container program's hand-over (create's init after its set-up, exec's stage 1 after joining): checks, then pyrunc-init's fields."""
import errno
from pyrunc import oslite  # posix without os.py: see oslite
import stat

from pyrunc.errors import Error
from pyrunc.linux import creds, final, lookpath, lsm, procattrs, rootfs, seccomp, terminal, users
from pyrunc.linux import syscalls as S


def join_keyring(plan):
    """A session keyring of the container's (plan["keyring"]), not the caller's: joined by name, so
    the init makes it and exec'd processes join the init's (runc's JoinSessionKeyring).  Its user
    may search it, which the lookup by name needs (runc's ModKeyringPerm)."""
    if not plan["keyring"]:
        return
    try:
        if plan["process"] and plan["process"]["selinux_label"]:
            lsm.set_keycreate(plan["process"]["selinux_label"])
        key = S.join_session_keyring(plan["keyring"])
        S.set_key_permissions(key, S.key_permissions(key) | S.KEY_USR_SEARCH)
    except OSError as e:
        raise Error(f"cannot join a new session keyring: {e.strerror}") from None


def enter_cwd(cwd, create):
    """chdir to the process's cwd, resolved (with create: made) inside the container's root.

    openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from "/": an image's cwd
    of /proc/<host pid>/root/... (no pid namespace) or a leaked
    /proc/self/fd/N leads nowhere outside (CVE-2024-21626), and nothing is
    ever created outside the root on the way."""
    root = oslite.open("/", oslite.O_PATH | oslite.O_DIRECTORY | oslite.O_CLOEXEC)
    try:
        fd = rootfs.ensure(root, cwd) if create else rootfs.resolve(root, cwd)
    except OSError as e:
        raise Error(f"cannot {'create cwd' if create else 'chdir to'} {cwd}: {e.strerror}") from None
    finally:
        oslite.close(root)
    try:
        oslite.fchdir(fd)
        if not oslite.getcwd().startswith("/"):
            raise FileNotFoundError(2, "outside the container's root")
    except OSError as e:
        raise Error(f"cannot chdir to {cwd}: {e.strerror}") from None
    finally:
        oslite.close(fd)


def setup_console(p, sock_fd, bind_console=False, controlling=True):
    """A pty of the container's devpts: the master to the console socket, the slave our stdio.

    controlling: make it our controlling terminal now (a session leader);
    exec's stage 1 leaves that to the process pyrunc-init forks."""
    master, slave = terminal.open_pty()
    if p["console_size"]:
        terminal.set_size(master, *p["console_size"])
    terminal.send_master(sock_fd, master)
    oslite.close(master)
    if bind_console:
        rootfs.bind_console(slave)
    terminal.become_stdio(slave, controlling)


def with_home(env, uid):
    """HOME from the container's /etc/passwd when process.env has none or an empty one (runc's
    os.Setenv: an empty entry is replaced where it stands; env is deduplicated already)."""
    if lookpath.env_value(env, "HOME"):
        return env
    home = "HOME=" + users.home_of(uid, users.read_regular("/etc/passwd"))
    return [home if e.startswith("HOME=") else e for e in env] if "HOME=" in env else env + [home]


def give_stdio_to(uid):
    """fds 0-2 become the process's user's (gid kept: devpts's gid= option or the tty group),
    so that it can use its own terminal, and reopen /dev/stdout, as under runc
    (fixStdioPermissions).  /dev/null is left alone; an owner or group not mapped in our user
    namespace (EPERM), or a read-only /dev (EROFS), leaves that fd as it is, as runc does."""
    for fd in (0, 1, 2):
        st = oslite.fstat(fd)
        if st.st_uid == uid or (stat.S_ISCHR(st.st_mode) and st.st_rdev == rootfs.NULL_DEV):
            continue
        try:
            oslite.fchown(fd, uid, -1)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EROFS, errno.EINVAL):
                raise Error(f"cannot give stdio to uid {uid}: {e.strerror}") from None


def prepare(plan, p, in_userns, state):
    """Everything about the process that can fail, done before READY so that errors reach the CLI.

    Returns (pyrunc-init's fields, the program's path, its environment, the
    fds pyrunc-init inherits); state: the container's, for a seccomp listener."""
    env = with_home(list(p["env"]), p["uid"])
    creds.apply_rlimits(p["rlimits"])
    procattrs.apply(p["attrs"])
    oslite.umask(p["umask"])
    creds.check_identity(p, in_userns)
    give_stdio_to(p["uid"])
    path = lookpath.find(p["args"][0], env)
    creds.check_executable(path, p, in_userns)
    sfields, keep = seccomp.handover(plan, state)
    fields = final.identity_fields(p, 3 + plan["fds"]["preserve"], creds.setgroups_allowed(), seccomp=bool(sfields))
    fields.update(sfields)
    fields.update(final.label_fields(p))
    return fields, path, env, keep
