"""A SOCK_SEQPACKET channel carrying one JSON message (and optional fds) per packet; both sides."""
import _socket

from pyrunc import jsonlite
from pyrunc.errors import Error

MAX_MESSAGE = 1 << 20
MAX_FDS = 64
_FD_SIZE = 4


class ChannelClosed(Error):
    """The other side went away."""


class Channel:
    def __init__(self, fd):
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, fd)

    @classmethod
    def pair(cls):
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        return cls(a.detach()), cls(b.detach())

    def fileno(self):
        return self.sock.fileno()

    def send(self, mtype, fds=(), **payload):
        payload["type"] = mtype
        data = jsonlite.dumps(payload).encode()
        anc = []
        if fds:
            anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                    b"".join(fd.to_bytes(_FD_SIZE, "little", signed=True) for fd in fds))]
        try:
            self.sock.sendmsg([data], anc)
        except (BrokenPipeError, ConnectionResetError):
            raise ChannelClosed("the other side of the channel exited") from None

    def recv(self):
        """(message dict, [fds]); raises ChannelClosed on EOF."""
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(
                MAX_MESSAGE, _socket.CMSG_SPACE(MAX_FDS * _FD_SIZE), _socket.MSG_CMSG_CLOEXEC)
        except ConnectionResetError:
            data, anc = b"", []
        if not data:
            raise ChannelClosed("the other side of the channel exited")
        fds = []
        for level, typ, blob in anc:
            if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
                n = len(blob) - len(blob) % _FD_SIZE
                fds.extend(int.from_bytes(blob[i:i + _FD_SIZE], "little", signed=True)
                           for i in range(0, n, _FD_SIZE))
        return jsonlite.loads(data), fds

    def close(self):
        self.sock.close()
