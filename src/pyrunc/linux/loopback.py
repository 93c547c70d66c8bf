"""Bring up `lo` in a new network namespace (init process): one ioctl pair, no netlink library."""
import _socket
import fcntl

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def up():
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        req = bytearray(b"lo".ljust(16, b"\0") + bytes(24))
        fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req, True)
        flags = int.from_bytes(req[16:18], "little") | IFF_UP
        req[16:18] = flags.to_bytes(2, "little")
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, bytes(req))
    finally:
        s.close()
