"""The sealed executables a process inside a container may have as its exe (CLI and bootstrap processes): CVE-2019-5736.

If a container's entrypoint is /proc/self/exe (or a script whose interpreter
is), the kernel runs the init's own executable inside the container, which
could then open it for writing through /proc/PID/exe and replace a host
binary; a container process with CAP_SYS_PTRACE can open /proc/PID/exe of
any process in its pid namespace.  So no process inside the container ever
runs a host file as such: pyrunc-init (and, where the Python init must run
in a pid namespace that others share, the interpreter) is exec'd from

- first choice: a detached, read-only clone of its mount
  (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY)): writes
  fail with EROFS, it costs ~0.05 ms and no memory, and being detached it
  never shows in any mount table;
- fallback (no CAP_SYS_ADMIN, e.g. rootless, or an old kernel): a sealed
  memfd copy (F_SEAL_WRITE and friends);
- pyrunc-init for a container with a user namespace: a memfd copy of
  mode 0711 (sealed_init says why).
"""
import errno
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.linux import syscalls as S

AT_FDCWD = -100


def init_path():
    return oslite.path.join(oslite.path.dirname(oslite.path.abspath(__file__)), "pyrunc-init")


def sealed_init(userns=False):
    """An O_CLOEXEC fd of pyrunc-init that no container can write through; with a user namespace
    (userns), one that the container's root cannot read either.

    Stage 2 execs it after joining the container's user namespace.  A file
    its root may read makes the new program's memory that namespace's, where
    CAP_SYS_PTRACE (a pod member sharing it and the pid namespace) may stop
    it before it takes its identity and filter.  One it may not read (a
    memfd of ours, mode 0711, whose owner is not mapped there) the kernel
    keeps in the first user namespace privileged over it, the host's, not
    dumpable (would_dump), as runc's init, exec'd before it joins any.  A
    rootless caller owns the memfd and is root in the namespace: nothing
    changes for it (its containers are its own), and its `exec` may still
    join the created init's namespaces (setns by pidfd asks for ptrace
    access).  The copy costs 0.02 ms; without a user namespace the mount
    clone, which costs no memory, is as good."""
    if userns:
        return _memfd_copy(init_path(), "pyrunc-init", mode=0o711)
    return sealed(init_path(), "pyrunc-init")


def sealed(path, name):
    """An O_CLOEXEC fd of the executable at `path` that nobody can write through."""
    try:
        fd = S.open_tree(AT_FDCWD, path, S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOSYS, errno.EINVAL):
            raise
        return _memfd_copy(path, name)
    try:
        S.mount_setattr(fd, "", S.AT_EMPTY_PATH,
                        attr_set=S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV)
    except OSError as e:
        oslite.close(fd)
        if e.errno not in (errno.EPERM, errno.ENOSYS, errno.EINVAL):
            raise
        return _memfd_copy(path, name)
    return fd


def running_sealed():
    """Is this process's own executable unwritable, whoever reopens it through /proc/PID/exe?  So it is
    when the front end started it from a read-only clone of the interpreter's mount (stage 1 of
    `create` and `run`), or after entry._reexec_sealed; not as a fork of the CLI."""
    try:
        fd = oslite.open("/proc/self/exe", oslite.O_RDONLY | oslite.O_CLOEXEC)
    except OSError:
        return False
    try:
        return bool(oslite.fstatvfs(fd).f_flag & oslite.ST_RDONLY)   # the mount it was opened through
    finally:
        oslite.close(fd)


def _memfd_copy(path, name, mode=None):
    from pyrunc.linux import memfd
    return memfd.sealed_copy(path, name, mode)
