"""This process's own /proc/self files, read through the host's procfs (init and exec stages, and the CLI).

A stage pins its /proc/self directory before it enters the container
(`pin`): afterwards "/proc" may be the container's, which shows nothing of
a process outside its pid namespace (exec's stage 1), may be missing, or
may be an image's fake one.  Unpinned (the CLI), /proc/self is used.
"""
from pyrunc import oslite  # posix without os.py: see oslite

_dir = None


def pin():
    """Remember our /proc/self (an O_PATH fd, closed on exec) for the rest of this process
    (a forked child pins its own: the inherited one names its parent)."""
    global _dir
    if _dir is not None:
        oslite.close(_dir)
    _dir = oslite.open("/proc/self", oslite.O_PATH | oslite.O_DIRECTORY | oslite.O_CLOEXEC)


def open_file(name, flags=oslite.O_RDONLY):
    """An fd of /proc/self/<name> (close-on-exec)."""
    if _dir is None:
        return oslite.open("/proc/self/" + name, flags | oslite.O_CLOEXEC)
    return oslite.open(name, flags | oslite.O_CLOEXEC, dir_fd=_dir)


def read(name):
    """The text of /proc/self/<name>."""
    fd = open_file(name)
    try:
        chunks = []
        while chunk := oslite.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        oslite.close(fd)
