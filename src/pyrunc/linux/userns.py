"""Writing a new user namespace's id maps (CLI process), for the container and for idmapped mounts."""
from pyrunc import oslite as os  # posix without os.py: see oslite

from pyrunc.errors import Error


def map_text(entries):
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in entries)


def write_maps(pid, uid_map, gid_map, deny_setgroups=False):
    """uid_map and gid_map of pid's user namespace; without privilege, setgroups must be denied first
    (user_namespaces(7)), which pyrunc-init then respects."""
    steps = [("uid_map", map_text(uid_map))]
    if deny_setgroups:
        steps.append(("setgroups", "deny"))
    steps.append(("gid_map", map_text(gid_map)))
    for name, text in steps:
        try:
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError as e:
            raise Error(f"writing {name} {text.strip()!r}: {e.strerror}") from None
