"""Sealed memfds (CLI and init processes): data or a file handed to another process, which cannot change it."""
import fcntl

from pyrunc import oslite  # posix without os.py: see oslite

SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def sealed(data, name="pyrunc"):
    """A close-on-exec memfd holding `data`, sealed against every change, its offset at 0 (ready to be stdin)."""
    fd = oslite.memfd_create(name, oslite.MFD_CLOEXEC | oslite.MFD_ALLOW_SEALING)
    try:
        view = memoryview(data)
        while view:
            view = view[oslite.write(fd, view):]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
        oslite.lseek(fd, 0, 0)   # SEEK_SET
    except BaseException:
        oslite.close(fd)
        raise
    return fd


def sealed_copy(path, name, mode=None):
    """A close-on-exec memfd holding a copy of the file at `path`, sealed (of `mode`, if given)."""
    fd = oslite.memfd_create(name, oslite.MFD_CLOEXEC | oslite.MFD_ALLOW_SEALING)
    try:
        if mode is not None:
            oslite.fchmod(fd, mode)
        src = oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)
        try:
            size = oslite.fstat(src).st_size
            done = 0
            while done < size:
                n = oslite.sendfile(fd, src, done, size - done)
                if n == 0:
                    break
                done += n
        finally:
            oslite.close(src)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except BaseException:
        oslite.close(fd)
        raise
    return fd


def read_all(fd):
    """The whole content of a memfd (or any regular file fd), from offset 0."""
    size = oslite.fstat(fd).st_size
    data = oslite.pread(fd, size, 0)
    if len(data) != size:
        raise OSError(5, "short read of a memfd")
    return data
