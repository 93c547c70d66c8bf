"""Sealed memfds (CLI and init processes): data or a file handed to another process, which cannot change it."""
import fcntl

from pyrunc import oslite as os  # posix without os.py: see oslite

SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def sealed(data, name="pyrunc"):
    """A close-on-exec memfd holding `data`, sealed against every change, its offset at 0 (ready to be stdin)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
        os.lseek(fd, 0, 0)   # SEEK_SET
    except BaseException:
        os.close(fd)
        raise
    return fd


def sealed_copy(path, name):
    """A close-on-exec memfd holding a copy of the file at `path`, sealed."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
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
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_all(fd):
    """The whole content of a memfd (or any regular file fd), from offset 0."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    if len(data) != size:
        raise OSError(5, "short read of a memfd")
    return data
