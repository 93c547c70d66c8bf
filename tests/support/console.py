"""A --console-socket listener, as containerd's shim and conmon run it."""
import array
import os
import socket
import threading


class ConsoleSocket:
    """Listens on a unix socket; `receive()` returns (data, master fd) of the one message."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)

    def receive(self, timeout=10):
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        with conn:
            fds = array.array("i")
            data, anc, flags, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
            for level, typ, blob in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(blob[: len(blob) - len(blob) % fds.itemsize])
            rest = conn.recv(1)   # nothing more, then EOF
        return data, list(fds), rest

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def read_all(fd, until=None, timeout=10):
    """Read a pty master until `until` appears or EOF/EIO."""
    out = bytearray()
    done = threading.Event()

    def reader():
        try:
            while True:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                out.extend(chunk)
                if until and until in out:
                    break
        except OSError:
            pass
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    done.wait(timeout)
    return bytes(out)
