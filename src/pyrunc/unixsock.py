"""Connecting to a caller's unix socket (CLI process): the console socket, a seccomp listener."""
import _socket

from pyrunc.errors import Error


def connect(path, what):
    """A connected, close-on-exec stream socket fd; Error naming `what` when nobody listens there."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise Error(f"cannot connect to {what} {path}: {e.strerror}") from None
    return s.detach()
