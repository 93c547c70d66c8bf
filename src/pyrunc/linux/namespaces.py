"""Namespaces as a plan (CLI process, pure): which to join by path, which to create, in runc's order."""
from pyrunc.errors import Problem, refuse
from pyrunc.linux import syscalls as S

# runtime-spec type -> (clone flag, name under /proc/PID/ns), in the order runc enters them
TYPES = {
    "user": (S.CLONE_NEWUSER, "user"),
    "ipc": (S.CLONE_NEWIPC, "ipc"),
    "uts": (S.CLONE_NEWUTS, "uts"),
    "network": (S.CLONE_NEWNET, "net"),
    "pid": (S.CLONE_NEWPID, "pid"),
    "mount": (S.CLONE_NEWNS, "mnt"),
    "cgroup": (S.CLONE_NEWCGROUP, "cgroup"),
    "time": (S.CLONE_NEWTIME, "time"),
}
PROC_NAME = {t: n for t, (_, n) in TYPES.items()}


def problems(namespaces):
    """Problems of unknown, duplicate or relative-path entries of linux.namespaces."""
    out, seen = [], set()
    for i, ns in enumerate(namespaces):
        t = ns.get("type")
        if t not in TYPES:
            out.append(Problem(f"/linux/namespaces/{i}/type", f"unknown namespace type {t!r}"))
        elif t in seen:
            out.append(Problem(f"/linux/namespaces/{i}", f"duplicate {t} namespace"))
        path = ns.get("path", "")
        if path and not path.startswith("/"):
            out.append(Problem(f"/linux/namespaces/{i}/path", f"{path!r} is not an absolute path"))
        seen.add(t)
    return out


def plan(namespaces):
    """{"join": [[type, path]...] in runc's order, "new": [types], "flags": clone flags of new ones}."""
    refuse(problems(namespaces), "config.json: ")
    seen = {ns["type"]: ns.get("path", "") for ns in namespaces}
    join = [[t, seen[t]] for t in TYPES if seen.get(t)]
    new = [t for t in TYPES if t in seen and not seen[t]]
    flags = 0
    for t in new:
        flags |= TYPES[t][0]
    return {"join": join, "new": new, "flags": flags}


def has(ns_plan, t):
    """Is namespace t private to the container (new or joined)?"""
    return t in ns_plan["new"] or any(j[0] == t for j in ns_plan["join"])
