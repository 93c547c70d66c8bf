"""The plan the stages execute, defined once (the CLI builds and checks it; stage 1 and 2 read it).

A plan is plain data (it travels as JSON in a sealed memfd), typed here as
schema-as-data like spec.py: a type is "str", "int", "bool", "any", "fd"
(an fd of the CLI's, passed with the plan: see fd_slots), a one-element
list (a list of that type), ("opt", T) (T or null), ("map", T) (an object
with any keys), or a dict of fields, all of them required.  `new` builds
a plan from keywords (a misspelt or missing one is a TypeError in the CLI,
where tests catch it); `check` verifies a whole plan before it is sent, so
that a key set afterwards (fds, the seccomp entry) cannot be misspelt
either; tests/unit/test_plan.py checks that every key the stages read is
declared here.
"""
from pyrunc.errors import Error

CAPS = {s: "int" for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}
PROCESS = {
    "args": ["str"], "env": ["str"], "cwd": "str", "terminal": "bool", "console_size": ("opt", ["int"]),
    "uid": "int", "gid": "int", "groups": ["int"], "umask": "int", "caps": ("opt", CAPS), "nnp": "bool",
    "rlimits": [["int"]],
    "attrs": {"scheduler": ("opt", ["int"]), "ioprio": ("opt", "int"), "cpus_final": ("opt", ["int"]),
              "mempolicy": ("opt", ["int"])},
    "cpus_initial": ("opt", ["int"]),
    # LSM labels pyrunc-init writes change-on-exec ("": none; linux/lsm.py)
    "apparmor_profile": "str", "selinux_label": "str",
}
MOUNT = {
    "index": "int", "kind": "str", "dest": "str", "source": "str", "type": "str", "flags": "int", "clear": "int",
    "propagation": ["int"], "attr_set": "int", "attr_clr": "int", "extensions": ["str"], "data": "str",
    "uid_mappings": ["any"], "gid_mappings": ["any"],
    # set for id-mapped mounts: the user namespace that maps them (create opens it), or the path of
    # a joined one
    "userns_fd": ("opt", "fd"), "userns_path": ("opt", "str"),
}
DEVICE = {"path": "str", "type": "str", "major": "int", "minor": "int", "mode": "int", "uid": "int", "gid": "int"}
HOOK_STATE = {"ociVersion": "str", "id": "str", "pid": "int", "bundle": "str", "annotations": ("map", "str")}
HIERARCHY = {"name": "str", "dir": "str", "v2": "bool", "options": "str", "links": ["str"]}
FDS = {
    "fifo": "fd", "console": ("opt", "fd"), "preserve": "int", "init": "fd",
    # a foreground process without a terminal: the pipes that become its fds 0-2 (console.stdio_pipes)
    "stdio": ("opt", ["fd"]),
    "seccomp": "fd", "seccomp_notify": "fd",
    # stage 1's own note of the fds it received, set once it has the plan (the resealed stage 1 keeps them)
    "received": ("opt", ["int"]),
}
COMMON = {
    "kind": "str", "id": "str", "cgroup_join": ["str"], "oom_score_adj": ("opt", "int"),
    "process": ("opt", PROCESS), "hook_state": HOOK_STATE, "seccomp": ("opt", "any"),
    # the session keyring the process joins (None: --no-new-keyring at create)
    "keyring": ("opt", "str"),
}
INIT = dict(COMMON, **{
    "ns": {"join": [["str"]], "new": ["str"], "flags": "int", "time_offsets": ("opt", "str")},
    "uid_map": ["any"], "gid_map": ["any"],
    "cgroup_mounts": {"mode": "str", "cgroupns": "bool", "hierarchies": [HIERARCHY]},
    "rootfs": "str", "root_readonly": "bool", "rootfs_propagation": "int", "mounts": [MOUNT],
    "dev_setup": "bool", "devices": [DEVICE], "extra_dev_links": [["str"]],
    "masked_paths": ["str"], "readonly_paths": ["str"], "no_pivot": "bool",
    "hostname": ("opt", "str"), "domainname": ("opt", "str"), "sysctl": ("map", "str"),
    "personality": ("opt", "int"),
    # SELinux: the label of the container's mounts ("" without SELinux; linux/lsm.py)
    "mount_label": "str",
    "runtime_hooks": ["str"], "runtime_setup": "bool", "hooks": ("map", ["any"]),
    "fds": FDS,
})
EXEC = dict(COMMON, **{
    "ns": {"flags": "int", "user": "bool"},
    "fds": dict(FDS, pidfd="fd", report="fd"),
})
KINDS = {"init": INIT, "exec": EXEC}
# fields a constructor may leave out: the CLI sets them once it has opened their fds
LATER = {"seccomp": None}


def new(kind, **fields):
    """A plan of `kind` ("init" or "exec") from every field of its schema."""
    schema = KINDS[kind]
    fields = dict(LATER, kind=kind, **fields)
    unknown = sorted(set(fields) - set(schema))
    missing = sorted(set(schema) - set(fields))
    if unknown or missing:
        raise TypeError(f"{kind} plan: unknown fields {unknown}, missing fields {missing}")
    return fields


def fds(kind):
    """The fds field of a new plan: no fd yet (-1, or None where optional)."""
    out = {k: None if isinstance(t, tuple) else -1 for k, t in KINDS[kind]["fds"].items()}
    out["preserve"] = 0
    return out


def check(plan):
    """Raise Error (an internal one: the CLI built the plan) unless plan matches its schema."""
    problems = []
    _check(plan, KINDS.get(plan.get("kind")) or {"kind": "str"}, "", problems)
    if problems:
        raise Error("internal error: the plan does not match its type: " + "; ".join(problems[:5]))


def _check(value, schema, path, problems):
    if isinstance(schema, tuple):
        if schema[0] == "opt":
            if value is not None:
                _check(value, schema[1], path, problems)
            return
        if not isinstance(value, dict):
            problems.append(f"{path or '/'}: not an object")
            return
        for k, v in value.items():
            _check(v, schema[1], f"{path}/{k}", problems)
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            problems.append(f"{path or '/'}: not an object")
            return
        for k in sorted(set(value) ^ set(schema)):
            problems.append(f"{path}/{k}: " + ("not a field" if k in value else "missing"))
        for k in set(value) & set(schema):
            _check(value[k], schema[k], f"{path}/{k}", problems)
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            problems.append(f"{path}: not a list")
            return
        for i, v in enumerate(value):
            _check(v, schema[0], f"{path}/{i}", problems)
        return
    ok = {"str": str, "bool": bool, "int": int, "fd": int}.get(schema)
    if schema != "any" and (not isinstance(value, ok) or schema in ("int", "fd") and isinstance(value, bool)):
        problems.append(f"{path}: not {schema}")


def fd_slots(plan):
    """{"fds/fifo": fd, "mounts/3/userns_fd": fd, ...}: every fd field set (>= 0), found by the schema.

    They travel with BOOTSTRAP as SCM_RIGHTS; stage 1 puts the fds it received where their slots say."""
    out = {}
    _slots(plan, KINDS[plan["kind"]], "", out)
    return out


def _slots(value, schema, path, out):
    if value is None:
        return
    if isinstance(schema, tuple):
        if schema[0] == "opt":
            _slots(value, schema[1], path, out)
        return
    if schema == "fd":
        if value >= 0:
            out[path.lstrip("/")] = value
    elif isinstance(schema, dict):
        for k, sub in schema.items():
            _slots(value.get(k), sub, f"{path}/{k}", out)
    elif isinstance(schema, list):
        for i, v in enumerate(value):
            _slots(v, schema[0], f"{path}/{i}", out)
