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


def wait_foreground(pid, master=None):
    """Relay signals (and the tty) to `pid`, our child (directly, or as subreaper), until it exits; its exit code."""
    for sig in RELAYED:
        _signal.signal(sig, lambda s, _f: _relay(pid, s))
    if master is not None:
        proxy_tty(master, pid)
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
    receiver decides that for itself)."""
    import _socket
    import termios
    _data, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, typ, blob in anc:
        if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
            master = int.from_bytes(blob[:4], "little", signed=True)
            attrs = termios.tcgetattr(master)
            attrs[1] &= ~termios.ONLCR
            termios.tcsetattr(master, termios.TCSANOW, attrs)
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
        oslite.close(pidfd)
        oslite.close(master)
        if saved is not None:
            termios.tcsetattr(0, termios.TCSANOW, saved)


def _drain(master):
    oslite.set_blocking(master, False)
    try:
        while data := oslite.read(master, 65536):
            oslite.write(1, data)
    except OSError:
        pass
