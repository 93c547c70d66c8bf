"""A small seccomp agent for tests: receives the listener fd and the container process state over
listenerPath (runtime-spec's protocol), then answers notifications with a test-chosen policy."""
import fcntl
import json
import os
import select
import socket
import struct
import threading

# <linux/seccomp.h>: struct seccomp_notif is 80 bytes, struct seccomp_notif_resp 24
IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
IOCTL_NOTIF_ID_VALID = 0x40082102
USER_NOTIF_FLAG_CONTINUE = 1


class Notification:
    def __init__(self, buf):
        self.id, self.pid, self.flags, self.nr, self.arch, self.ip = struct.unpack_from("=QIIiIQ", buf)
        self.args = struct.unpack_from("=6Q", buf, 32)

    def read_string(self, addr, limit=4096):
        """A NUL-terminated string from the caller's memory (a test agent may trust it)."""
        with open(f"/proc/{self.pid}/mem", "rb") as f:
            f.seek(addr)
            return f.read(limit).split(b"\0", 1)[0].decode(errors="replace")


class Agent:
    """Listen on path; answer(notification) returns ("errno", N), ("value", V) or ("continue",)."""

    def __init__(self, path, answer):
        self.path = path
        self.answer = answer
        self.states = []            # (state dict, number of fds) per connection
        self.seen = []              # (pid, nr, first argument as a string or None)
        self.errors = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        os.write(self.stop_w, b"x")
        self.thread.join(10)
        self.sock.close()
        os.close(self.stop_r)
        os.close(self.stop_w)
        assert not self.errors, self.errors

    def _serve(self):
        listeners = []
        try:
            while True:
                ready, _, _ = select.select([self.sock, self.stop_r] + listeners, [], [])
                if self.stop_r in ready:
                    return
                if self.sock in ready:
                    listeners += self._accept()
                for fd in [fd for fd in ready if fd in listeners]:
                    if not self._handle(fd):
                        listeners.remove(fd)
                        os.close(fd)
        except Exception as e:      # reported by __exit__
            self.errors.append(repr(e))
        finally:
            for fd in listeners:
                os.close(fd)

    def _accept(self):
        conn, _ = self.sock.accept()
        with conn:
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 4)
            while not data.endswith(b"}"):    # the state may come in several sendmsg calls
                more = conn.recv(1 << 16)
                if not more:
                    break
                data += more
        if not data:
            return fds              # closed without a message: its container is gone
        self.states.append((json.loads(data), len(fds)))
        return fds

    def _handle(self, fd):
        req = bytearray(80)
        try:
            fcntl.ioctl(fd, IOCTL_NOTIF_RECV, req)
        except OSError:
            return False            # every process of the filter is gone
        n = Notification(req)
        path = None
        if n.nr in (83, 258):       # mkdir(path), mkdirat(dirfd, path)
            path = n.read_string(n.args[0] if n.nr == 83 else n.args[1])
        self.seen.append((n.pid, n.nr, path))
        kind, *value = self.answer(n, path)
        error, val, flags = 0, 0, 0
        if kind == "errno":
            error = -value[0]
        elif kind == "value":
            val = value[0]
        else:
            flags = USER_NOTIF_FLAG_CONTINUE
        resp = bytearray(struct.pack("=QqiI", n.id, val, error, flags))
        try:
            fcntl.ioctl(fd, IOCTL_NOTIF_SEND, resp)
        except OSError:
            pass                    # the caller died meanwhile
        return True
