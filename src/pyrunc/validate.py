"""Semantic checks of a typed config (CLI process): every violation at once, each naming its field."""
from pyrunc import oslite  # posix without os.py: see oslite
from pyrunc.errors import Problem
from _json import encode_basestring

from pyrunc.linux import lsm, procattrs, seccomp
from pyrunc.linux import namespaces, userns

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
# sysctls that belong to a namespace (runc's validator), prefix -> namespace type
_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
_UTS_SYSCTLS = {"kernel.hostname", "kernel.domainname"}


def quoted(text):
    """A string as Go's %q shows it in runc's errors."""
    return encode_basestring(text)


def sysctl_dotted(key):
    """A sysctl key in its dotted form: "kernel/domainname" -> "kernel.domainname" (runc swaps
    '.' and '/' when the first separator is a '/')."""
    first = next((c for c in key if c in "./"), ".")
    return key if first == "." else key.translate(str.maketrans("./", "/."))


def sysctl_namespace(key):
    """The namespace a sysctl key (dotted) lives in, or None when it is host-wide."""
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        return "ipc"
    if key.startswith("net."):
        return "network"
    if key in _UTS_SYSCTLS:
        return "uts"
    return None


def check_process(p, problems, where="/process"):
    """Checks shared by config.json's process and exec's process.json."""
    if not p.get("args"):
        problems.append(Problem(f"{where}/args", "must not be empty"))
    # the reasons are runc's words, which podman and containerd match on
    cwd = p.get("cwd", "")
    if not cwd:
        problems.append(Problem(f"{where}/cwd", "Cwd property must not be empty"))
    elif not cwd.startswith("/"):
        problems.append(Problem(f"{where}/cwd", "Cwd must be an absolute path"))
    for i, e in enumerate(p.get("env", ())):
        name = e.partition("=")[0]
        if "=" not in e or not name or "\0" in e:
            problems.append(Problem(f"{where}/env/{i}", f"invalid environment variable: {quoted(e)}"))
    seen = set()
    for i, r in enumerate(p.get("rlimits", ())):
        t = r.get("type")
        if t not in RLIMITS:
            problems.append(Problem(f"{where}/rlimits/{i}/type", f"wrong rlimit value: {t}"))
        elif t in seen:
            problems.append(Problem(f"{where}/rlimits/{i}/type", f"{t} given twice"))
        seen.add(t)
        if r.get("soft", 0) > r.get("hard", 0):
            problems.append(Problem(f"{where}/rlimits/{i}",
                                    f"soft limit {r.get('soft', 0)} above hard limit {r.get('hard', 0)}"))
    procattrs.check(p, where, problems)
    lsm.check_process(p, where, problems)
    adj = p.get("oomScoreAdj")
    if adj is not None and not -1000 <= adj <= 1000:
        problems.append(Problem(f"{where}/oomScoreAdj", f"{adj} is outside -1000..1000"))


def check_rootless(doc, systemd=False):
    """Without privileges the container needs a user namespace of its own (runc's rule).

    Its resources are ignored, but with --systemd-cgroup: the user's systemd applies them."""
    linux = doc.get("linux", {})
    if not any(ns.get("type") == "user" and not ns.get("path") for ns in linux.get("namespaces", ())):
        return [Problem("/linux/namespaces", "rootless containers need a new user namespace (see `spec --rootless`)")]
    problems = []
    if not systemd and any(v for k, v in linux.get("resources", {}).items() if k != "devices"):
        from pyrunc import log
        log.warning("rootless: linux.resources are ignored (no cgroup of our own to manage)")
    return problems


def check(doc, bundle):
    """A list of 'pointer: problem' strings; empty when the config can run."""
    problems = []
    root = doc.get("root")
    if not root or not root.get("path"):
        problems.append(Problem("/root/path", "required"))
    else:
        rootfs = oslite.path.join(bundle, root["path"])
        if not oslite.path.isdir(rootfs):
            problems.append(Problem("/root/path", f"rootfs {rootfs} does not exist or is not a directory"))
    if "process" in doc:
        check_process(doc["process"], problems)
    linux = doc.get("linux", {})
    problems += namespaces.problems(linux.get("namespaces", ()))
    types = {}
    for ns in linux.get("namespaces", ()):
        types.setdefault(ns.get("type"), ns.get("path", ""))
    has_maps = bool(linux.get("uidMappings") or linux.get("gidMappings"))
    if types.get("user", None) == "" and not (linux.get("uidMappings") and linux.get("gidMappings")):
        problems.append(Problem("/linux/uidMappings", "a new user namespace needs uidMappings and gidMappings"))
    if has_maps and "user" not in types:
        problems.append(Problem("/linux/uidMappings", "id mappings given without a user namespace"))
    if types.get("user"):
        problems += userns.joined_problems(types["user"], linux)
    for name in ("hostname", "domainname"):
        if doc.get(name) and "uts" not in types:
            problems.append(Problem(f"/{name}", f"unable to set {name} without a private UTS namespace"))
    if linux.get("netDevices") and "network" not in types:
        problems.append(Problem("/linux/netDevices",
                                "network devices need a network namespace of the container's own"))
    if linux.get("timeOffsets") and "time" not in types:
        problems.append(Problem("/linux/timeOffsets", "time offsets given without a time namespace"))
    for key in linux.get("sysctl", {}):
        name = sysctl_dotted(key)
        ns = sysctl_namespace(name)
        if name == "kernel.hostname" and "uts" in types:
            # runc's reason: the container's hostname is the hostname field's business
            problems.append(Problem(f"/linux/sysctl/{key}", 'sysctl "kernel.hostname" is not allowed as it '
                                    'conflicts with the OCI "hostname" field'))
        elif ns is None:
            problems.append(Problem(f"/linux/sysctl/{key}", f"sysctl {quoted(name)} is not in a separate kernel namespace"))
        elif ns == "network" and ns not in types:
            problems.append(Problem(f"/linux/sysctl/{key}", f"sysctl {quoted(name)} not allowed in host network namespace"))
        elif ns not in types:
            problems.append(Problem(f"/linux/sysctl/{key}", f"sysctl {quoted(name)} is not allowed in the hosts {ns} namespace"))
    for i, m in enumerate(doc.get("mounts", ())):
        if not m.get("destination", "").startswith("/"):
            problems.append(Problem(f"/mounts/{i}/destination", f"{m.get('destination', '')!r} is not an absolute path"))
    for kind, hooks in doc.get("hooks", {}).items():
        for i, h in enumerate(hooks):
            if not h.get("path", "").startswith("/"):
                problems.append(Problem(f"/hooks/{kind}/{i}/path", f"{h.get('path', '')!r} is not an absolute path"))
            if "timeout" in h and h["timeout"] <= 0:
                problems.append(Problem(f"/hooks/{kind}/{i}/timeout", "must be greater than zero"))
    pers = linux.get("personality")
    if pers is not None:
        try:
            procattrs.personality_value(pers)
        except Exception as e:
            problems.append(Problem("/linux/personality", str(e)))
    if "seccomp" in linux:
        problems += seccomp.check(linux["seccomp"])
    if "intelRdt" in linux:
        _intel_rdt(linux["intelRdt"], problems)
    if "memoryPolicy" in linux:
        procattrs.check_memory_policy(linux["memoryPolicy"], problems)
    for name in ("maskedPaths", "readonlyPaths"):
        for i, p in enumerate(linux.get(name, ())):
            if not p.startswith("/"):
                problems.append(Problem(f"/linux/{name}/{i}", f"{p!r} is not an absolute path"))
        if linux.get(name) and "mount" not in types:
            # their mounts would land in the caller's mount namespace (runc refuses them too)
            problems.append(Problem(f"/linux/{name}", "unable to restrict paths without a private mount namespace"))
    return problems


def _intel_rdt(rdt, problems):
    """runc's checks of linux.intelRdt.  pyrunc applies none of it: where resctrl is mounted,
    whatever is asked is refused rather than silently dropped; elsewhere a schema is refused as
    runc refuses it, and a bare closID is let through as runc does (there is no class to join)."""
    clos = rdt.get("closID", "")
    if clos in (".", "..") or "/" in clos:
        problems.append(Problem("/linux/intelRdt/closID", f'invalid intelRdt.ClosID "{clos}"'))
    asked = [k for k in ("closID", "l3CacheSchema", "memBwSchema", "schemata", "enableMonitoring") if rdt.get(k)]
    if asked and resctrl_mounted():
        problems.append(Problem("/linux/intelRdt", f"pyrunc does not apply Intel RDT settings ({', '.join(asked)})"))
        return
    for key, feature in (("l3CacheSchema", "RDT/CAT"), ("memBwSchema", "RDT/MBA"), ("schemata", "RDT"),
                         ("enableMonitoring", "RDT")):
        if rdt.get(key):
            problems.append(Problem(f"/linux/intelRdt/{key}",
                                    f"intelRdt.{key} is specified in config, but Intel {feature} is not enabled"))


def resctrl_mounted():
    """Whether a resctrl filesystem (Intel RDT's interface) is mounted here."""
    with open("/proc/self/mountinfo", "rb") as f:
        return b" - resctrl " in f.read()
