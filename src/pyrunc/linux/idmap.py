"""User namespaces that exist only to be handed to mount_setattr(MOUNT_ATTR_IDMAP) (CLI process)."""
import os

from pyrunc.errors import Error
from pyrunc.linux import syscalls as S


def _map_text(entries):
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in entries)


def userns_fd(uid_map, gid_map):
    """An fd of a new user namespace with these mappings (a forked child holds it while we map it)."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(done_w)
            S.unshare(S.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise Error("cannot create a user namespace for an idmapped mount")
        for name, entries in (("uid_map", uid_map), ("gid_map", gid_map)):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(_map_text(entries))
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise Error(f"idmapped mount: cannot map a user namespace: {e.strerror}") from None
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)
