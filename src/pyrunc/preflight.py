"""`check` (CLI process): a preflight of a bundle on this host that creates nothing.

Every finding names its field by JSON pointer.  Sources, in order: the
official runtime-spec JSON schema (installed next to the package from the
runtime-spec Go module, never copied into the repository), pyrunc's own
typed and semantic checks, then what this host can really do: namespaces,
user namespaces and idmapped mounts, cgroup controllers, capabilities,
seccomp, rlimits, hooks, the program and the user inside the rootfs.
"""
import os
import stat

from pyrunc import jsonlite, spec, validate
from pyrunc.linux import caps
from pyrunc.errors import Error

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")
ERROR, WARNING, INFO = "error", "warning", "info"

# resource group -> (v1 hierarchy controllers, v2 controller) it needs
CONTROLLERS = {
    "memory": (("memory",), "memory"),
    "cpu": (("cpu", "cpuset"), "cpu"),
    "pids": (("pids",), "pids"),
    "blockIO": (("blkio",), "io"),
    "hugepageLimits": (("hugetlb",), "hugetlb"),
    "network": (("net_cls", "net_prio"), None),
    "rdma": (("rdma",), "rdma"),
}


class Report:
    def __init__(self, bundle):
        self.bundle = bundle
        self.findings = []

    def add(self, severity, pointer, message):
        self.findings.append({"severity": severity, "pointer": pointer or "/", "message": message})

    @property
    def ok(self):
        return not any(f["severity"] == ERROR for f in self.findings)

    def to_dict(self):
        return {"bundle": self.bundle, "ok": self.ok, "findings": self.findings}

    def text(self):
        lines = [f"{f['severity']:7} {f['pointer']}: {f['message']}" for f in self.findings]
        errors = sum(f["severity"] == ERROR for f in self.findings)
        lines.append(f"{self.bundle}: will run here" if self.ok
                     else f"{self.bundle}: will not run here ({errors} error{'s' * (errors != 1)})")
        return "\n".join(lines) + "\n"


def _split(problem):
    """'pointer: message' as pyrunc's checks word their problems."""
    if problem.startswith("/") and ": " in problem:
        pointer, _, message = problem.partition(": ")
        return pointer, message
    return "/", problem


def check(bundle):
    """The preflight report of a bundle (a directory holding config.json)."""
    bundle = os.path.abspath(bundle)
    report = Report(bundle)
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        report.add(ERROR, "/", f"cannot read {path}: {e.strerror}")
        return report
    try:
        doc = jsonlite.loads(raw)
    except Error as e:
        report.add(ERROR, "/", str(e))
        return report
    _schema(doc, report)
    problems = []
    spec.check(doc, spec.CONFIG, "", problems)
    for p in problems:
        report.add(ERROR, *_split(p))
    if problems:
        return report          # the host checks below assume the types are right
    for p in validate.check(doc, bundle):
        report.add(ERROR, *_split(p))
    _host(doc, bundle, report)
    return report


def _schema(doc, report):
    schema_file = os.path.join(SCHEMA_DIR, "config-schema.json")
    if not os.path.exists(schema_file):
        report.add(WARNING, "/", "the runtime-spec JSON schema is not installed: schema validation skipped")
        return
    import json
    import jsonschema
    with open(schema_file) as f:
        schema = json.load(f)
    resolver = jsonschema.RefResolver(base_uri=f"file://{SCHEMA_DIR}/", referrer=schema)
    validator = jsonschema.Draft4Validator(schema, resolver=resolver)
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in e.absolute_path)
        # a warning: what pyrunc (and runc) cannot run is reported as an error by its own checks
        # below; e.g. podman's fileMode with the type bits breaks the schema yet runs everywhere
        report.add(WARNING, pointer, f"runtime-spec schema: {e.message}")


def _host(doc, bundle, report):
    linux = doc.get("linux", {})
    _namespaces(linux, report)
    _mount_sources(doc, bundle, report)
    _idmapped_mounts(doc, report)
    _cgroups(linux, report)
    p = doc.get("process")
    if p:
        _capabilities(p, report)
        _rlimits(p, report)
        _oom(p, report)
    if "seccomp" in linux:
        from pyrunc.linux import seccomp
        for problem in seccomp.check(linux["seccomp"]):
            report.add(ERROR, *_split(problem))
    _hooks(doc, bundle, report)
    if p and doc.get("root", {}).get("path"):
        rootfs = os.path.join(bundle, doc["root"]["path"])
        if os.path.isdir(rootfs):
            _program_and_user(p, rootfs, report)


def _namespaces(linux, report):
    from pyrunc.linux.namespaces import PROC_NAME
    for i, ns in enumerate(linux.get("namespaces", ())):
        t = ns.get("type")
        if t not in PROC_NAME:
            continue
        if not os.path.exists(f"/proc/self/ns/{PROC_NAME[t]}"):
            report.add(ERROR, f"/linux/namespaces/{i}", f"this kernel has no {t} namespaces")
        elif ns.get("path") and not os.path.exists(ns["path"]):
            report.add(ERROR, f"/linux/namespaces/{i}/path", f"{ns['path']} does not exist")
        elif t == "user" and _read_int("/proc/sys/user/max_user_namespaces") == 0:
            report.add(ERROR, f"/linux/namespaces/{i}", "user namespaces are disabled (user.max_user_namespaces=0)")


def _mount_sources(doc, bundle, report):
    for i, m in enumerate(doc.get("mounts", ())):
        opts = m.get("options", ())
        if m.get("type") == "bind" or "bind" in opts or "rbind" in opts:
            source = os.path.join(bundle, m.get("source", ""))
            if not os.path.exists(source):
                report.add(ERROR, f"/mounts/{i}/source", f"bind source {m.get('source', '')} does not exist")


def _idmapped_mounts(doc, report):
    for i, m in enumerate(doc.get("mounts", ())):
        if {"idmap", "ridmap"} & set(m.get("options", ())):
            if not _kernel_has_mount_setattr():
                report.add(ERROR, f"/mounts/{i}/options", "idmapped mounts need mount_setattr (Linux 5.12)")


def _kernel_has_mount_setattr():
    from pyrunc.linux import syscalls as S
    try:
        S.mount_setattr(-1, "", 0)
    except OSError as e:
        return e.errno != 38    # ENOSYS
    return True


def _cgroups(linux, report):
    from pyrunc.cgroups import detect
    mode, hierarchies = detect.host_layout()
    report.add(INFO, "/linux/cgroupsPath", f"cgroup mode here: {mode}")
    v1 = {c for key, *_ in hierarchies if key for c in key.split(",")}
    v2 = set()
    for key, mp, _root, _own in hierarchies:
        if key == "":
            try:
                with open(os.path.join(mp, "cgroup.controllers")) as f:
                    v2 = set(f.read().split())
            except OSError:
                pass
    for name, value in linux.get("resources", {}).items():
        if name not in CONTROLLERS or not value:
            continue
        v1_need, v2_need = CONTROLLERS[name]
        if mode == detect.NONE:
            report.add(ERROR, f"/linux/resources/{name}", "no cgroup filesystem is mounted on this host")
        elif not (any(c in v1 for c in v1_need) or (v2_need and v2_need in v2)):
            where = " or ".join([f"v1 {c}" for c in v1_need] + ([f"v2 {v2_need}"] if v2_need else []))
            report.add(ERROR, f"/linux/resources/{name}", f"no {where} controller on this host")
    if linux.get("resources", {}).get("memory", {}).get("kernel") is not None:
        report.add(WARNING, "/linux/resources/memory/kernel", "kernel memory limits are deprecated and ignored")



def _capabilities(p, report):
    have = caps.status_mask("CapBnd")
    top = caps.last_cap()
    for s, names in p.get("capabilities", {}).items():
        for i, name in enumerate(names):
            n = caps.NUMBER.get(name)
            if n is None:
                continue    # validate already reported it
            if n > top:
                report.add(WARNING, f"/process/capabilities/{s}/{i}", f"{name} is unknown to this kernel: dropped")
            elif not have >> n & 1 and s in ("effective", "permitted", "ambient"):
                report.add(ERROR, f"/process/capabilities/{s}/{i}", f"{name} is not in pyrunc's own bounding set here")


def _rlimits(p, report):
    import resource
    from pyrunc.validate import RLIMITS
    privileged = caps.status_mask("CapEff") >> 24 & 1     # CAP_SYS_RESOURCE
    for i, r in enumerate(p.get("rlimits", ())):
        num = RLIMITS.get(r.get("type"))
        if num is None:
            continue
        _soft, hard = resource.getrlimit(num)
        if not privileged and hard != resource.RLIM_INFINITY and r.get("hard", 0) > hard:
            report.add(ERROR, f"/process/rlimits/{i}/hard",
                       f"{r['hard']} is above this host's hard limit {hard}, and raising it needs CAP_SYS_RESOURCE")


def _oom(p, report):
    adj = p.get("oomScoreAdj")
    if adj is None:
        return
    current = _read_int("/proc/self/oom_score_adj") or 0
    if adj < current and not caps.status_mask("CapEff") >> 24 & 1:
        report.add(ERROR, "/process/oomScoreAdj", f"{adj} is below {current}, which needs CAP_SYS_RESOURCE")


def _hooks(doc, bundle, report):
    rootfs = os.path.join(bundle, doc.get("root", {}).get("path", ""))
    for kind, hooks in doc.get("hooks", {}).items():
        for i, h in enumerate(hooks):
            path = h.get("path", "")
            # startContainer hooks run in the container: their path is the rootfs's
            host_path = os.path.join(rootfs, path.lstrip("/")) if kind == "startContainer" else path
            if not os.path.isfile(host_path) or not os.access(host_path, os.X_OK):
                report.add(ERROR, f"/hooks/{kind}/{i}/path", f"{path} is not an executable file")


def _program_and_user(p, rootfs, report):
    from pyrunc.linux import lookpath, users
    args = p.get("args") or []
    if args:
        where = _find_in_rootfs(rootfs, args[0], p.get("env", []))
        if where is None:
            report.add(ERROR, "/process/args/0", f"{args[0]!r} is not an executable file in the rootfs "
                       f"(PATH={lookpath.env_value(p.get('env', []), 'PATH') or ''})")
        else:
            report.add(INFO, "/process/args/0", f"resolves to {where}")
    uid = p.get("user", {}).get("uid", 0)
    text = _read_in_root(rootfs, "/etc/passwd")
    if uid != 0 and users.home_of(uid, text) == "/" and f":{uid}:" not in (text or ""):
        report.add(WARNING, "/process/user/uid", f"uid {uid} has no entry in the rootfs's /etc/passwd (HOME will be /)")


def _find_in_rootfs(rootfs, arg0, env):
    """Like the init's lookup, with every path resolved inside the rootfs (openat2 RESOLVE_IN_ROOT)."""
    from pyrunc.linux import lookpath
    from pyrunc.linux import syscalls as S
    candidates = [arg0] if "/" in arg0 else [
        os.path.join(d or ".", arg0) for d in (lookpath.env_value(env, "PATH") or "").split(":") if d]
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for c in candidates:
            try:
                fd = S.openat2(root, c if c.startswith("/") else "/" + c, os.O_PATH, S.RESOLVE_IN_ROOT)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
            finally:
                os.close(fd)
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
                return c
    finally:
        os.close(root)
    return None


def _read_in_root(rootfs, path):
    from pyrunc.linux import syscalls as S
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = S.openat2(root, path, os.O_RDONLY | os.O_NONBLOCK, S.RESOLVE_IN_ROOT)
    except OSError:
        return None
    finally:
        os.close(root)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, 4 << 20).decode("utf-8", "replace")
    finally:
        os.close(fd)


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
