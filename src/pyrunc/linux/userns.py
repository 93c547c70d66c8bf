"""User namespace id maps (CLI process): writing a new one's (the container's, an idmapped mount's), reading a joined one's."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.errors import Error, Problem


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
            fd = oslite.open(f"/proc/{pid}/{name}", oslite.O_WRONLY | oslite.O_CLOEXEC)
            try:
                oslite.write(fd, text.encode())
            finally:
                oslite.close(fd)
        except OSError as e:
            raise Error(f"writing {name} {text.strip()!r}: {e.strerror}") from None


def _parse_map(text):
    return [{"containerID": int(c), "hostID": int(h), "size": int(n)}
            for c, h, n in (line.split() for line in text.splitlines() if line.strip())]


def maps_of(path):
    """(uid map, gid map) of the user namespace at path, as runtime-spec mappings.

    /proc/PID/ns/user: read PID's maps; any other path (a bind-mounted
    namespace): a forked child joins it and reads its own."""
    parts = path.split("/")
    if len(parts) == 5 and parts[:2] == ["", "proc"] and parts[2].isdigit() and parts[3:] == ["ns", "user"]:
        try:
            return tuple(_parse_map(_read(f"/proc/{parts[2]}/{name}")) for name in ("uid_map", "gid_map"))
        except OSError:
            pass     # as runc: the slow path
    return _maps_from_inside(path)


def _read(path):
    fd = oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)
    try:
        return oslite.read(fd, 1 << 16).decode()
    finally:
        oslite.close(fd)


def _maps_from_inside(path):
    from pyrunc.linux import syscalls as S
    r, w = oslite.pipe()
    pid = oslite.fork()
    if pid == 0:
        code = 1
        try:
            oslite.close(r)
            fd = oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)
            S.setns(fd, S.CLONE_NEWUSER)
            oslite.write(w, (_read("/proc/self/uid_map") + "-\n" + _read("/proc/self/gid_map")).encode())
            code = 0
        finally:
            oslite._exit(code)
    oslite.close(w)
    try:
        data = b""
        while chunk := oslite.read(r, 1 << 16):
            data += chunk
    finally:
        oslite.close(r)
        _, status = oslite.waitpid(pid, 0)
    if status != 0:
        raise Error(f"cannot read the id mappings of the user namespace {path}")
    uid_text, _, gid_text = data.decode().partition("-\n")
    return _parse_map(uid_text), _parse_map(gid_text)


def joined_problems(path, linux):
    """A joined user namespace with uid/gid mappings in config.json (containerd and CRI-O send
    both): as runc 1.2+, the mappings must be the namespace's own (a warning), else refused."""
    if not (linux.get("uidMappings") or linux.get("gidMappings")):
        return []
    try:
        uid_map, gid_map = maps_of(path)
    except Error as e:
        return [Problem("/linux/namespaces", str(e))]
    if uid_map != linux.get("uidMappings", []) or gid_map != linux.get("gidMappings", []):
        return [Problem("/linux/uidMappings", "user namespaces enabled, but both namespace path and non-matching "
                        "mapping specified -- you may only provide one")]
    from pyrunc import log
    log.warning("config.json has both a userns path to join and a matching userns mapping specified "
                "-- you may only provide one")
    return []
