"""The container's pty (init process, after pivot_root): opened in its own devpts, master sent to the console socket."""
import _socket
import fcntl
from pyrunc import oslite  # posix without os.py: see oslite
import sys

from pyrunc._native import lib

# ioctl numbers differ between architectures: the build takes them from the headers
TIOCSPTLCK, TIOCGPTPEER, TIOCSCTTY, TIOCSWINSZ = lib.TIOCSPTLCK, lib.TIOCGPTPEER, lib.TIOCSCTTY, lib.TIOCSWINSZ


def open_pty():
    """(master, slave) fds of a new pty of the container's devpts."""
    master = oslite.open("/dev/ptmx", oslite.O_RDWR | oslite.O_NOCTTY | oslite.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, b"\0\0\0\0")
    # TIOCGPTPEER opens the peer through the master, not through a path the
    # container could have replaced
    slave = fcntl.ioctl(master, TIOCGPTPEER, oslite.O_RDWR | oslite.O_NOCTTY | oslite.O_CLOEXEC)
    return master, slave


def set_size(fd, height, width):
    # struct winsize: rows, columns, then two unused pixel sizes, all unsigned short (native order)
    ws = b"".join(v.to_bytes(2, sys.byteorder) for v in (height, width, 0, 0))
    fcntl.ioctl(fd, TIOCSWINSZ, ws)


def send_master(sock_fd, master):
    """One message: the name runc sends as data, the master as the single SCM_RIGHTS fd."""
    sock = _socket.socket(fileno=sock_fd)
    try:
        sock.sendmsg([b"/dev/ptmx"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                        master.to_bytes(4, "little", signed=True))])
    finally:
        sock.close()


def become_stdio(slave, controlling=True):
    """Make the slave fds 0-2 and, if controlling, our controlling terminal (we are a session leader)."""
    if controlling:
        fcntl.ioctl(slave, TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        oslite.dup2(slave, fd)
    if slave > 2:
        oslite.close(slave)
