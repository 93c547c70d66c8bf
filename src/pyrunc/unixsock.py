"""Connecting to a caller's unix socket (CLI process): the console socket, a seccomp listener."""
import _socket

from pyrunc.errors import Error, go_text


def connect(path, what=None):
    """A connected, close-on-exec stream socket fd; Error naming `what` when nobody listens
    there, or, without `what`, worded as Go's net.Dial ("dial unix P: connect: reason")."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        if what:
            raise Error(f"cannot connect to {what} {path}: {e.strerror}") from None
        raise Error(f"dial unix {path}: connect: {go_text(e)}") from None
    return s.detach()
