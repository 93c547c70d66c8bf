"""The runtime-spec config model (CLI process): strict typed loading with JSON-pointer errors, and `spec`'s example."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import OCI_VERSION, jsonlite
from pyrunc.errors import BadConfig, Error, Problem, refuse

# A schema is a type name ("str", "bool", "int", "u16", "u32", "u64", "i32",
# "i64", "any"), a dict of known keys, a one-element list (an array of that
# type), or ("map", T) for an object with arbitrary keys.  Unknown keys are
# ignored, as runtime-spec requires.
_INT_RANGES = {
    "int": (-(1 << 63), (1 << 64) - 1),
    "u16": (0, (1 << 16) - 1),
    "u32": (0, (1 << 32) - 1),
    "u64": (0, (1 << 64) - 1),
    "i32": (-(1 << 31), (1 << 31) - 1),
    "i64": (-(1 << 63), (1 << 63) - 1),
}

IDMAP = {"containerID": "u32", "hostID": "u32", "size": "u32"}
USER = {"uid": "u32", "gid": "u32", "umask": "u32", "additionalGids": ["u32"], "username": "str"}
CAPABILITIES = {k: ["str"] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
PROCESS = {
    "terminal": "bool",
    "consoleSize": {"height": "u32", "width": "u32"},
    "user": USER,
    "args": ["str"],
    "commandLine": "str",
    "env": ["str"],
    "cwd": "str",
    "capabilities": CAPABILITIES,
    "rlimits": [{"type": "str", "soft": "u64", "hard": "u64"}],
    "noNewPrivileges": "bool",
    "apparmorProfile": "str",
    "oomScoreAdj": "i32",
    "selinuxLabel": "str",
    "ioPriority": {"class": "str", "priority": "i32"},
    "scheduler": {"policy": "str", "nice": "i32", "priority": "i32", "flags": ["str"],
                  "runtime": "u64", "deadline": "u64", "period": "u64"},
    "execCPUAffinity": {"initial": "str", "final": "str"},
}
MOUNT = {"destination": "str", "source": "str", "type": "str", "options": ["str"],
         "uidMappings": [IDMAP], "gidMappings": [IDMAP]}
HOOK = {"path": "str", "args": ["str"], "env": ["str"], "timeout": "int"}
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
DEVICE = {"type": "str", "path": "str", "major": "i64", "minor": "i64", "fileMode": "u32",
          "uid": "u32", "gid": "u32"}
THROTTLE = [{"major": "i64", "minor": "i64", "rate": "u64"}]
RESOURCES = {
    "devices": [{"allow": "bool", "type": "str", "major": "i64", "minor": "i64", "access": "str"}],
    "memory": {"limit": "i64", "reservation": "i64", "swap": "i64", "kernel": "i64",
               "kernelTCP": "i64", "swappiness": "u64", "disableOOMKiller": "bool",
               "useHierarchy": "bool", "checkBeforeUpdate": "bool"},
    "cpu": {"shares": "u64", "quota": "i64", "burst": "u64", "period": "u64",
            "realtimeRuntime": "i64", "realtimePeriod": "u64", "cpus": "str", "mems": "str",
            "idle": "i64"},
    "pids": {"limit": "i64"},
    "blockIO": {"weight": "u16", "leafWeight": "u16",
                "weightDevice": [{"major": "i64", "minor": "i64", "weight": "u16", "leafWeight": "u16"}],
                "throttleReadBpsDevice": THROTTLE, "throttleWriteBpsDevice": THROTTLE,
                "throttleReadIOPSDevice": THROTTLE, "throttleWriteIOPSDevice": THROTTLE},
    "hugepageLimits": [{"pageSize": "str", "limit": "u64"}],
    "network": {"classID": "u32", "priorities": [{"name": "str", "priority": "u32"}]},
    "rdma": ("map", {"hcaHandles": "u32", "hcaObjects": "u32"}),
    "unified": ("map", "str"),
}
SECCOMP = {
    "defaultAction": "str", "defaultErrnoRet": "u32", "architectures": ["str"], "flags": ["str"],
    "listenerPath": "str", "listenerMetadata": "str",
    "syscalls": [{"names": ["str"], "action": "str", "errnoRet": "u32",
                  "args": [{"index": "u32", "value": "u64", "valueTwo": "u64", "op": "str"}]}],
}
LINUX = {
    "namespaces": [{"type": "str", "path": "str"}],
    "uidMappings": [IDMAP],
    "gidMappings": [IDMAP],
    "timeOffsets": ("map", {"secs": "i64", "nanosecs": "u32"}),
    "devices": [DEVICE],
    "netDevices": ("map", {"name": "str"}),
    "cgroupsPath": "str",
    "rootfsPropagation": "str",
    "resources": RESOURCES,
    "intelRdt": {"closID": "str", "l3CacheSchema": "str", "memBwSchema": "str", "schemata": ["str"],
                 "enableMonitoring": "bool"},
    "sysctl": ("map", "str"),
    "seccomp": SECCOMP,
    "maskedPaths": ["str"],
    "readonlyPaths": ["str"],
    "mountLabel": "str",
    "personality": {"domain": "str", "flags": ["str"]},
    "memoryPolicy": {"mode": "str", "nodes": "str", "flags": ["str"]},
}
CONFIG = {
    "ociVersion": "str",
    "root": {"path": "str", "readonly": "bool"},
    "process": PROCESS,
    "hostname": "str",
    "domainname": "str",
    "mounts": [MOUNT],
    "hooks": {k: [HOOK] for k in HOOK_KINDS},
    "annotations": ("map", "str"),
    "linux": LINUX,
}

_JSON_TYPE = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
              float: "number"}
# Arrays and objects inside each other: the schema goes 7 deep (/linux/seccomp/syscalls/0/args/0),
# and later code (copy.deepcopy of the saved process for exec, the encoder) recurses through every
# value, unknown keys included: 900 levels there made each later exec fail with RecursionError
MAX_DEPTH = 100


def pointer(path, key):
    """Extend a JSON pointer (RFC 6901) by one key or index; a key's control characters are shown
    escaped (\\n, \\x00...), so that an error naming it stays one line."""
    key = str(key).replace("~", "~0").replace("/", "~1")
    if not key.isprintable():
        key = key.encode("unicode_escape").decode("ascii")
    return f"{path}/{key}"


def check(value, schema, path, errors):
    """Type-check value against schema, collecting Problems; True when value itself has the right type.

    JSON null counts as absent (as Go's decoder treats it): such keys are
    dropped, so the rest of pyrunc never sees None.  So are the keys whose
    value has the wrong type, and an array item of the wrong type becomes
    its type's zero value: what is left is well-typed, and `check` goes on
    to find the problems of the rest of the document.
    """
    if schema == "any":
        return True
    if isinstance(schema, (dict, tuple)):
        if not isinstance(value, dict):
            errors.append(Problem(path or "/", f"expected object, got {_describe(value)}"))
            return False
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        keys = list(value) if isinstance(schema, tuple) else [k for k in schema if k in value]
        for k in keys:
            if not check(value[k], schema[1] if isinstance(schema, tuple) else schema[k], pointer(path, k), errors):
                del value[k]
        return True
    if isinstance(schema, list):
        if not isinstance(value, list):
            errors.append(Problem(path, f"expected array, got {_describe(value)}"))
            return False
        for i, v in enumerate(value):
            if not check(v, schema[0], pointer(path, i), errors):
                value[i] = _zero(schema[0])
        return True
    wanted = {"str": str, "bool": bool}.get(schema, int)
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        errors.append(Problem(path, f"expected {_TYPE_WORD[wanted]}, got {_describe(value)}"))
        return False
    if wanted is int and not _INT_RANGES[schema][0] <= value <= _INT_RANGES[schema][1]:
        errors.append(Problem(path, f"{value} is out of range for {schema}"))
        return False
    return True


_TYPE_WORD = {str: "string", bool: "boolean", int: "integer"}


def _zero(schema):
    """The value of a schema type that says nothing: {}, [], "", False or 0."""
    if isinstance(schema, (dict, tuple)):
        return {}
    if isinstance(schema, list):
        return []
    return {"str": "", "bool": False}.get(schema, 0)


def scan(doc):
    """Problems of every key and value, known to the schema or not.

    A string must hold no NUL (the kernel would cut it there: a mount on
    "/tmp\\0/x" lands on /tmp) and no lone surrogate (JSON can escape one, but
    it is no text and cannot be encoded); nothing may nest deeper than
    MAX_DEPTH.  Iterative, so that no document can make the check itself
    recurse.  What it reports is dropped (a key) or emptied (an array item),
    as check() does with a value of the wrong type.
    """
    problems = []
    stack = [("", doc, 1)] if isinstance(doc, (dict, list)) else []
    while stack:
        at, value, level = stack.pop()
        inner, bad_keys = [], []
        for k, v in list(value.items()) if isinstance(value, dict) else enumerate(value):
            bad = isinstance(k, str) and _bad_text(k)
            if bad:
                problems.append(Problem(at or "/", f"key {k!r} {bad}"))
            elif isinstance(v, str):
                bad = _bad_text(v)
                if bad:
                    problems.append(Problem(pointer(at, k), bad))
            elif isinstance(v, (dict, list)):
                if level >= MAX_DEPTH:
                    bad = f"nested more than {MAX_DEPTH} levels deep"
                    problems.append(Problem(pointer(at, k), bad))
                else:
                    inner.append((pointer(at, k), v, level + 1))
            if bad:
                bad_keys.append(k)
        for k in bad_keys:
            if isinstance(value, dict):
                del value[k]
            else:
                value[k] = type(value[k])()
        stack.extend(reversed(inner))   # siblings in document order
    return problems


def _bad_text(s):
    if "\0" in s:
        return "contains a NUL byte"
    if not s.isascii():
        try:
            s.encode()
        except UnicodeEncodeError as e:
            return f"contains a lone surrogate (\\u{ord(s[e.start]):04x}), which is not text"
    return ""


def _describe(value):
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"number {value!r}"
    return _JSON_TYPE.get(type(value), type(value).__name__)


def typed(text, problems, schema=CONFIG):
    """The document in `text`, well-typed (see scan and check), with every problem found appended.

    None when `text` is no JSON at all.
    """
    try:
        doc = jsonlite.loads(text)
    except Error as e:
        problems.append(Problem("", str(e)))
        return None
    problems += scan(doc)
    if not check(doc, schema, "", problems):
        return None
    return doc


def parse(text, what="config.json", schema=CONFIG):
    """Parse and type-check one document; raise BadConfig naming every bad field."""
    problems = []
    doc = typed(text, problems, schema)
    refuse(problems, f"{what}: ")
    return doc


def load(bundle):
    """Read <bundle>/config.json."""
    path = oslite.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise BadConfig(f"cannot read {path}: {e.strerror}") from None
    return parse(text)


def example(rootless=False, cgroupns=None):
    """The config `pyrunc spec` writes: runc's defaults, running `sh` on a terminal.

    A cgroup namespace is proposed when `cgroupns` says so; by default only
    on a pure cgroup v2 host, as runc's `spec` does.
    """
    if cgroupns is None:
        from pyrunc.cgroups import detect
        cgroupns = detect.host_layout()[0] == detect.UNIFIED
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    config = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "pyrunc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")
                           if t != "cgroup" or cgroupns],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if rootless:
        _make_rootless(config)
    return config


def _make_rootless(config):
    """runc's `spec --rootless` edits: a user namespace mapping the caller, no cgroup limits."""
    linux = config["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"] + [{"type": "user"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": oslite.getuid(), "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": oslite.getgid(), "size": 1}]
    del linux["resources"]
    mounts = []
    for m in config["mounts"]:
        if m["destination"] == "/sys":
            m = {"destination": "/sys", "type": "none", "source": "/sys",
                 "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
        elif m["destination"] == "/dev/pts":
            m = dict(m, options=[o for o in m["options"] if o != "gid=5"])
        mounts.append(m)
    config["mounts"] = mounts


def write_example(bundle, rootless=False):
    """`spec`: write the example config.json into the bundle, never over an existing one."""
    import json
    path = oslite.path.join(bundle, "config.json")
    try:
        with open(path, "x") as f:
            json.dump(example(rootless), f, indent="\t")
    except FileExistsError:
        raise Error(f"{path} exists: remove it first") from None
    except OSError as e:
        raise Error(f"cannot write {path}: {e.strerror}") from None
