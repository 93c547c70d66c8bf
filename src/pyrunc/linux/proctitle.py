"""Process titles of pyrunc's stages (bootstrap and init processes), as runc names its own (`runc:[1:CHILD]`).

`ps` shows a process's comm (15 characters, prctl(PR_SET_NAME)) and its
command line (/proc/PID/cmdline, the argv area of its memory).  A stage
forked from the CLI inherits the CLI's argv; it overwrites that area in
place through /proc/self/mem, so that `ps -ef` says which stage it is
(where the stage may open that file: not from inside a user namespace).
"""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.linux import procself
from pyrunc.linux import syscalls as S


def set_title(title):
    """comm and command line become `title` (the command line only if its area is long enough)."""
    S.prctl(S.PR_SET_NAME, int(_keep(title[:15].encode() + b"\0")))
    fields = procself.read("stat").rsplit(")", 1)[1].split()
    start, end = int(fields[45]), int(fields[46])      # arg_start, arg_end: stat fields 48 and 49
    data = title.encode() + b"\0"
    if end - start < len(data):
        return
    try:
        fd = procself.open_file("mem", oslite.O_WRONLY)
    except PermissionError:
        # a non-dumpable process's /proc files belong to the host's root: inside a user
        # namespace (and rootless) our ids are not that root, so only comm is set
        return
    try:
        oslite.pwrite(fd, data.ljust(end - start, b"\0"), start)
    finally:
        oslite.close(fd)


def _keep(buf):
    """The address of a C copy of buf, kept alive for the prctl call."""
    from pyrunc._native import ffi
    global _kept
    _kept = ffi.new("char[]", buf)
    return ffi.cast("uintptr_t", _kept)


_kept = None
