"""The sealed pyrunc-init every container process is exec'd through (CLI process): CVE-2019-5736.

If a container's entrypoint is /proc/self/exe (or a script whose interpreter
is), the kernel runs the init's own executable inside the container, which
could then open it for writing through /proc/PID/exe and replace a host
binary.  So the last exec before the container's program is always of
pyrunc-init, and never from its host file as such:

- first choice: a detached, read-only clone of its mount
  (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY)): writes
  fail with EROFS, it costs ~0.05 ms and no memory, and being detached it
  never shows in any mount table;
- fallback (no CAP_SYS_ADMIN, e.g. rootless, or an old kernel): a sealed
  memfd copy (F_SEAL_WRITE and friends).
"""
import errno
import fcntl
from pyrunc import oslite as os  # posix without os.py: see oslite

from pyrunc.linux import syscalls as S

AT_FDCWD = -100


def init_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyrunc-init")


def sealed_init():
    """An O_CLOEXEC fd of pyrunc-init that no container can write through."""
    path = init_path()
    try:
        fd = S.open_tree(AT_FDCWD, path, S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOSYS, errno.EINVAL):
            raise
        return _memfd_copy(path)
    try:
        S.mount_setattr(fd, "", S.AT_EMPTY_PATH,
                        attr_set=S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV)
    except OSError as e:
        os.close(fd)
        if e.errno not in (errno.EPERM, errno.ENOSYS, errno.EINVAL):
            raise
        return _memfd_copy(path)
    return fd


def _memfd_copy(path):
    fd = os.memfd_create("pyrunc-init", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    src = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(src).st_size
        done = 0
        while done < size:
            n = os.sendfile(fd, src, done, size - done)
            if n == 0:
                break
            done += n
    finally:
        os.close(src)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    return fd
