"""The caller's side of a container's terminal and foreground wait (CLI process: run, exec)."""
import _signal
from pyrunc import oslite  # posix without os.py: see oslite
import select

from pyrunc.errors import Error

# signals a foreground `run`/`exec` passes on to the container's process
RELAYED = (1, 2, 3, 10, 12, 14, 15, 18, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30)


def local_pair():
    """(our socket, their fd): an in-process stand-in for --console-socket."""
    import _socket
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    return a, b.detach()


def stdio_pipes():
    """(ours, theirs): pipes for the stdio of a process in the foreground without a terminal, as
    runc's setupProcessPipes makes them.  The caller's own files and terminal never reach the
    container then: its process could reopen a file through /proc/self/fd for writing, push
    input into a terminal with TIOCSTI (given CAP_SYS_ADMIN), and stage 2 gives its stdio to the
    process's user (program.give_stdio_to), which would chown them.
    ours: [stdin's write end, stdout's and stderr's read ends]; theirs: the other ends, fds 0-2
    of the process."""
    ends = [_above_stdio(fd) for pair in (oslite.pipe() for _ in range(3)) for fd in pair]   # close-on-exec
    return [ends[1], ends[2], ends[4]], [ends[0], ends[3], ends[5]]


def _above_stdio(fd):
    """fd, moved above 0-2 if a closed stdio fd of the caller's had its number (fd 0 is ours to read)."""
    if fd > 2:
        return fd
    import fcntl
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    finally:
        oslite.close(fd)


def wait_foreground(pid, master=None, pipes=None):
    """Relay signals (and the tty, or the stdio pipes) to `pid`, our child (directly, or as
    subreaper), until it exits; its exit code."""
    for sig in RELAYED:
        _signal.signal(sig, lambda s, _f: _relay(pid, s))
    if master is not None:
        proxy_tty(master, pid)
    elif pipes is not None:
        relay_stdio(pid, pipes)
    _, status = oslite.waitpid(pid, 0)
    return oslite.WEXITSTATUS(status) if oslite.WIFEXITED(status) else 128 + oslite.WTERMSIG(status)


def _relay(pid, sig):
    try:
        oslite.kill(pid, sig)
    except ProcessLookupError:
        pass


def recv_master(sock):
    """The pty master our own foreground run/exec proxies, with ONLCR cleared as runc's recvtty
    clears it: the program's "\n" reaches our stdout as "\n", not "\r\n" (a --console-socket
    receiver decides that for itself), and our terminal's size: both before the program runs."""
    import _socket
    import termios
    _data, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, typ, blob in anc:
        if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
            master = int.from_bytes(blob[:4], "little", signed=True)
            attrs = termios.tcgetattr(master)
            attrs[1] &= ~termios.ONLCR
            termios.tcsetattr(master, termios.TCSANOW, attrs)
            _copy_size(master)
            return master
    raise Error("the container did not send its terminal")


def proxy_tty(master, pid):
    """Copy our stdin to the pty and the pty to our stdout, our terminal raw, until the init exits.

    Raw but with output processing kept (containerd/console's SetRaw, which runc uses): the
    container's pty has ONLCR cleared (recv_master), so our own terminal turns its "\n" into "\r\n"."""
    import termios
    saved = None
    if oslite.isatty(0):
        saved = termios.tcgetattr(0)
        raw = termios.tcgetattr(0)
        raw[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
                    | termios.IGNCR | termios.ICRNL | termios.IXON)
        raw[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
        raw[2] = (raw[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        termios.tcsetattr(0, termios.TCSANOW, raw)
    # the pty follows our terminal's size (runc's tty.resize, on SIGWINCH); recv_master set it first
    _signal.signal(_signal.SIGWINCH, lambda _s, _f: _copy_size(master))
    pidfd = oslite.pidfd_open(pid)
    try:
        fds = [0, master, pidfd]
        while True:
            r, _, _ = select.select(fds, [], [])
            if 0 in r:
                data = oslite.read(0, 65536)
                if data:
                    oslite.write(master, data)
                else:
                    fds.remove(0)
            if master in r:
                try:
                    data = oslite.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                oslite.write(1, data)
            if pidfd in r:
                _drain(master)
                break
    finally:
        _signal.signal(_signal.SIGWINCH, _signal.SIG_DFL)
        oslite.close(pidfd)
        oslite.close(master)
        if saved is not None:
            termios.tcsetattr(0, termios.TCSANOW, saved)


def _copy_size(master):
    """Our terminal's window size (the first of fds 0-2 that is one) onto the container's pty."""
    import fcntl
    import termios
    for fd in (0, 1, 2):
        try:
            size = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8))
        except OSError:
            continue
        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, size)
        except OSError:
            pass    # the pty is gone: the process has exited
        return


def _drain(master):
    oslite.set_blocking(master, False)
    try:
        while data := oslite.read(master, 65536):
            oslite.write(1, data)
    except OSError:
        pass


def relay_stdio(pid, pipes):
    """Copy our stdin into the process's pipe while it runs, and its stdout and stderr pipes into
    ours until both are at their end, also after its exit (runc waits for its copies the same
    way); closes `pipes` (stdio_pipes' ours).  Our own fds stay as the caller set them (blocking or
    not: their file descriptions are shared), only our pipe ends change."""
    stdin_w, out_r, err_r = pipes
    pidfd = oslite.pidfd_open(pid)
    poller = select.poll()
    outputs = {out_r: 1, err_r: 2}
    for fd in outputs:
        poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    oslite.set_blocking(stdin_w, False)     # a process that reads no stdin must not stop its output
    feeding = _valid(0)
    if feeding:
        poller.register(0, select.POLLIN)
    pending = b""
    running = True
    try:
        while outputs or running:
            if stdin_w is not None and (not running or not (feeding or pending)):
                # our stdin is at its end (or the process is gone): the process sees its EOF
                for fd in (0, stdin_w):
                    try:
                        poller.unregister(fd)
                    except KeyError:
                        pass
                oslite.close(stdin_w)
                stdin_w, feeding = None, False
            for fd, _events in poller.poll():
                if fd == pidfd:
                    running = False
                    poller.unregister(pidfd)
                elif fd in outputs:
                    try:
                        data = oslite.read(fd, 65536)
                    except OSError:
                        data = b""
                    if data:
                        outputs[fd] = _write_all(outputs[fd], data)
                    else:
                        poller.unregister(fd)
                        oslite.close(fd)
                        del outputs[fd]
                elif fd == 0:
                    try:
                        pending = oslite.read(0, 65536)
                    except OSError:
                        pending = b""
                    poller.unregister(0)
                    if not pending:
                        feeding = False
                    else:
                        poller.register(stdin_w, select.POLLOUT)
                elif fd == stdin_w:
                    try:
                        pending = pending[oslite.write(stdin_w, pending):]
                    except BlockingIOError:
                        continue
                    except OSError:         # the process closed its stdin
                        feeding, pending = False, b""
                    if not pending:
                        poller.unregister(stdin_w)
                        if feeding:
                            poller.register(0, select.POLLIN)
    finally:
        for fd in [stdin_w, *outputs, pidfd]:
            if fd is not None:
                oslite.close(fd)


def _valid(fd):
    try:
        oslite.fstat(fd)
        return True
    except OSError:
        return False


def _write_all(fd, data):
    """Write all of data to our fd (waiting while it would block); the fd to write to from now on,
    or None once writing failed: the rest is read and dropped, so the process never blocks on it."""
    if fd is None:
        return None
    while data:
        try:
            data = data[oslite.write(fd, data):]
        except BlockingIOError:
            select.select([], [fd], [])
        except OSError:
            return None
    return fd
