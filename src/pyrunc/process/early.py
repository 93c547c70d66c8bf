"""The bootstrap process the front end started beside the CLI (CLI process): adopt it as stage 1, or reap it.

For `create` and `run` the front end (csrc/pyrunc_front.c, spawn_bootstrap)
execs a fresh interpreter for stage 1 (lib/pyrunc/pyrunc-bootstrap, whose
code is entry.spawned) before it execs the CLI, and passes "PID,FD" in
frontabi.EARLY_BOOTSTRAP_ENV: FD is the CLI's end of their socket pair.
Both interpreters start side by side, each on its own pages; stage 1
imports everything while the CLI checks the config and makes the cgroups
(both end at about the same time: README "Performance").  A fork of the CLI, the
way any other caller gets stage 1 (the API, `pyrunc-cli` run directly),
shares the CLI's pages instead, and every page either process then writes
(Python writes the reference count of every object it touches) is copied
on a fault: `create` measured 3-8% faster this way (README "Performance").

What is adopted must be our own live child on a SOCK_SEQPACKET socket;
anything else is ignored (and a child of ours that is not usable, killed).
A call that adopts none (a failed `create`, `--help`) kills and reaps it
before exiting, so no process outlives the call.
"""
import _socket
import posix

from pyrunc import frontabi, oslite
from pyrunc.process.parent import kill_and_reap

_unclaimed = []    # [(pid, fd)] the front end started, until adopted or discarded


def _parse():
    raw = oslite.startup_environ.get(frontabi.EARLY_BOOTSTRAP_ENV)
    if raw is None or _unclaimed:
        return
    posix.unsetenv(frontabi.EARLY_BOOTSTRAP_ENV)   # nothing the CLI starts inherits it
    del oslite.startup_environ[frontabi.EARLY_BOOTSTRAP_ENV]
    try:
        pid, fd = (int(x) for x in raw.split(","))
        exited = oslite.waitpid(pid, oslite.WNOHANG) != (0, 0)    # and reaped, if so
    except (ValueError, ChildProcessError):
        return              # not a child of ours: nothing of ours to touch
    try:
        sock = _socket.socket(fileno=fd)
        usable = sock.family == _socket.AF_UNIX and sock.type == _socket.SOCK_SEQPACKET
        sock.detach()
    except OSError:
        usable = False
    if exited or not usable:
        if usable:
            oslite.close(fd)    # its end of a pair whose other end is gone
        if not exited:
            kill_and_reap(pid)
        return
    oslite.set_inheritable(fd, False)    # hooks and the container's processes must not get it
    _unclaimed.append((pid, fd))


def adopt():
    """(pid, fd) of the bootstrap process the front end started for this call, or None."""
    _parse()
    return _unclaimed.pop() if _unclaimed else None


def discard():
    """Kill and reap a bootstrap process nobody adopted (the call failed before it needed one)."""
    _parse()
    while _unclaimed:
        pid, fd = _unclaimed.pop()
        oslite.close(fd)
        kill_and_reap(pid)
