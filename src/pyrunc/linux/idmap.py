"""User namespaces that exist only to be handed to mount_setattr(MOUNT_ATTR_IDMAP) (CLI process)."""
from pyrunc import oslite as os  # posix without os.py: see oslite

from pyrunc.errors import Error
from pyrunc.linux import syscalls as S
from pyrunc.linux.userns import write_maps


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
        write_maps(pid, uid_map, gid_map, deny_setgroups=os.geteuid() != 0)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except Error as e:
        raise Error(f"idmapped mount: {e}") from None
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)
