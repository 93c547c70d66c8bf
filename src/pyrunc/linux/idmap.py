"""User namespaces that exist only to be handed to mount_setattr(MOUNT_ATTR_IDMAP) (CLI process)."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.errors import Error
from pyrunc.linux import syscalls as S
from pyrunc.linux.userns import write_maps


def userns_fd(uid_map, gid_map):
    """An fd of a new user namespace with these mappings (a forked child holds it while we map it)."""
    ready_r, ready_w = oslite.pipe()
    done_r, done_w = oslite.pipe()
    pid = oslite.fork()
    if pid == 0:
        try:
            oslite.close(ready_r)
            oslite.close(done_w)
            S.unshare(S.CLONE_NEWUSER)
            oslite.write(ready_w, b"1")
            oslite.read(done_r, 1)
        finally:
            oslite._exit(0)
    oslite.close(ready_w)
    oslite.close(done_r)
    try:
        if oslite.read(ready_r, 1) != b"1":
            raise Error("cannot create a user namespace for an idmapped mount")
        write_maps(pid, uid_map, gid_map, deny_setgroups=oslite.geteuid() != 0)
        return oslite.open(f"/proc/{pid}/ns/user", oslite.O_RDONLY | oslite.O_CLOEXEC)
    except Error as e:
        raise Error(f"idmapped mount: {e}") from None
    finally:
        oslite.close(ready_r)
        oslite.close(done_w)
        oslite.waitpid(pid, 0)
