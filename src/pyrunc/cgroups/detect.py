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


def mounts(mountinfo_text):
    """[(mountpoint, mount root, fstype, controllers)] of every visible cgroup mount, in mountinfo order.

    A mount hidden by a later mount on the same point (or below a hidden
    parent) is skipped: a tmpfs over /sys/fs/cgroup/unified hides cgroup2.
    """
    entries = _entries(mountinfo_text)
    out = []
    for e in _visible(entries, [c for c in entries if c[4] in ("cgroup", "cgroup2")]):
        _id, _parent, mp, root, fstype, opts = e
        ctrls = []
        if fstype == "cgroup":
            ctrls = [o for o in opts.split(",")
                     if o not in _NOT_CONTROLLERS and ("=" not in o or o.startswith("name="))]
        out.append((mp, root, fstype, ctrls))
    return out


def _entries(mountinfo_text):
    """[(id, parent id, mountpoint, mount root, fstype, super options)] of each mountinfo line."""
    entries = []
    for line in mountinfo_text.splitlines():
        left, _, right = line.partition(" - ")
        f = left.split()
        r = right.split()
        if len(f) < 5 or len(r) < 3:
            continue
        entries.append((f[0], f[1], _unescape(f[4]), _unescape(f[3]), r[0], r[2]))
    return entries


def _visible(entries, candidates):
    """Those of the candidate mounts a path lookup can reach (mountinfo is not in mount order).

    Only the candidates and their ancestors are looked at: a node's mountinfo
    holds a mount or more per container and pod volume, siblings under /run or
    /var/lib, and checking each of those against its siblings grew with their
    square (300 of them: 13 ms per call; 1,000: 150 ms).

    A mount is covered when a child is mounted on its own root (same
    mountpoint); it is reachable when its parent is, the parent is not
    covered (unless the mount is that cover), and no sibling is mounted on
    an ancestor of its mountpoint.
    """
    by_id = {e[0]: e for e in entries}
    children = {}
    for e in entries:
        children.setdefault(e[1], []).append(e)

    def under(a, b):
        return b.startswith(a.rstrip("/") + "/")

    def covered(m):
        return any(c[2] == m[2] for c in children.get(m[0], ()))

    memo = {}

    def reachable(m, depth=0):
        if m[0] in memo:
            return memo[m[0]]
        parent = by_id.get(m[1])
        if parent is None or parent is m or depth > 100:
            ok = True
        elif m[2] == parent[2]:
            ok = reachable(parent, depth + 1)
        else:
            ok = (reachable(parent, depth + 1) and not covered(parent)
                  and not any(c is not m and c[2] != parent[2] and under(c[2], m[2])
                              for c in children.get(parent[0], ())))
        memo[m[0]] = ok
        return ok

    return [e for e in candidates if reachable(e) and not covered(e)]


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


def layout(mountinfo_text, proc_cgroup_text):
    """The host's cgroup mode and hierarchies.

    Returns (mode, [(key, mountpoint, mount root, own path)]) where key is the
    comma-joined controller list of a v1 hierarchy or "" for cgroup2.  Mirrors
    runc's manager.New: cgroup2 mounted at /sys/fs/cgroup means unified.
    """
    own = own_paths(proc_cgroup_text)
    v1, v2 = [], None
    seen = set()
    for mp, root, fstype, ctrls in mounts(mountinfo_text):
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
    return layout(mi, pc)


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
