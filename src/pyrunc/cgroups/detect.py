"""Which cgroup layout this host has, and where each hierarchy is mounted (CLI process)."""
from pyrunc import oslite  # posix without os.py: see oslite

UNIFIED = "unified"      # pure cgroup v2 at /sys/fs/cgroup
LEGACY = "legacy"        # v1 hierarchies only
HYBRID = "hybrid"        # v1 hierarchies plus a cgroup2 mount holding some controllers
NONE = "none"            # no cgroup filesystem at all

ROOT = "/sys/fs/cgroup"
# super options of a v1 cgroup mount that are not controllers
_NOT_CONTROLLERS = {"rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode",
                    "favordynmods", "nsdelegate", "memory_recursiveprot", "memory_localevents"}


def mounts(mountinfo_text, mount_id):
    """[(mountpoint, mount root, fstype, controllers)] of every cgroup mount a lookup of its
    mountpoint reaches, in mountinfo order.

    mount_id(path): the id of the mount a lookup of path lands on, or None (statx).  A mount
    hidden by a later mount on the same point, or below a hidden parent, is not reached: a
    tmpfs over /sys/fs/cgroup/unified hides cgroup2.  The kernel answers that, where working it
    out from mountinfo meant reading every mount of a node (thousands: container root
    filesystems, pod volumes) on every create.
    """
    out = []
    for line in _typed_lines(mountinfo_text, " - cgroup"):
        e = _entry(line)
        if e is None or e[4] not in ("cgroup", "cgroup2") or mount_id(e[2]) != int(e[0]):
            continue
        _id, _parent, mp, root, fstype, opts = e
        ctrls = []
        if fstype == "cgroup":
            ctrls = [o for o in opts.split(",")
                     if o not in _NOT_CONTROLLERS and ("=" not in o or o.startswith("name="))]
        out.append((mp, root, fstype, ctrls))
    return out


def _typed_lines(mountinfo_text, marker):
    """The lines holding marker (" - TYPE"): found by the string's own search, not line by line."""
    lines = []
    at = mountinfo_text.find(marker)
    while at >= 0:
        end = mountinfo_text.find("\n", at)
        end = len(mountinfo_text) if end < 0 else end
        lines.append(mountinfo_text[mountinfo_text.rfind("\n", 0, at) + 1:end])
        at = mountinfo_text.find(marker, end)
    return lines


def _entry(line):
    """(id, parent id, mountpoint, mount root, fstype, super options) of a mountinfo line."""
    left, _, right = line.partition(" - ")
    f = left.split()
    r = right.split()
    if len(f) < 5 or len(r) < 3:
        return None
    return (f[0], f[1], _unescape(f[4]), _unescape(f[3]), r[0], r[2])


def own_paths(proc_cgroup_text):
    """{controller: path} of a process; "" is the unified (cgroup2) entry."""
    out = {}
    for line in proc_cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            out[""] = parts[2]
        for c in parts[1].split(","):
            if c:
                out[c] = parts[2]
    return out


def layout(mountinfo_text, proc_cgroup_text, mount_id):
    """The host's cgroup mode and hierarchies.

    Returns (mode, [(key, mountpoint, mount root, own path)]) where key is the
    comma-joined controller list of a v1 hierarchy or "" for cgroup2.  Mirrors
    runc's manager.New: cgroup2 mounted at /sys/fs/cgroup means unified.
    """
    own = own_paths(proc_cgroup_text)
    v1, v2 = [], None
    seen = set()
    for mp, root, fstype, ctrls in mounts(mountinfo_text, mount_id):
        if fstype == "cgroup2":
            if v2 is None or mp == ROOT:
                v2 = ("", mp, root, own.get("", "/"))
            continue
        key = ",".join(ctrls)
        if not ctrls or key in seen:
            continue
        seen.add(key)
        v1.append((key, mp, root, own.get(ctrls[0], "/")))
    if v2 is not None and v2[1] == ROOT:
        return UNIFIED, [v2]
    if v1:
        return (HYBRID, v1 + [v2]) if v2 is not None else (LEGACY, v1)
    if v2 is not None:
        return UNIFIED, [v2]
    return NONE, []


def host_layout():
    with open("/proc/self/mountinfo") as f:
        mi = f.read()
    with open("/proc/self/cgroup") as f:
        pc = f.read()
    from pyrunc.linux.syscalls import lookup_mount_id
    return layout(mi, pc, lookup_mount_id)


def _unescape(s):
    # mountinfo escapes space, tab, newline and backslash as octal
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def resolve(cgroups_path, cid, hierarchy):
    """Directory of the container's cgroup in one hierarchy, runc's cgroupfs semantics.

    Absolute cgroupsPath: below the hierarchy's mountpoint.  Relative (or
    none, which means the container id): below pyrunc's own cgroup.
    """
    _key, mp, root, own = hierarchy
    inner = cgroups_path or cid
    if inner.startswith("/"):
        rel = oslite.path.normpath(inner).lstrip("/")
    else:
        rel = oslite.path.normpath("/" + inner).lstrip("/")
        base = own[len(root):] if root != "/" and own.startswith(root) else own
        rel = oslite.path.join(base.lstrip("/"), rel)
    return oslite.path.join(mp, rel) if rel else mp
