"""`check` (CLI process): create's own checks and planners on a bundle, creating nothing; what its stages would meet.

Every finding names its field by JSON pointer.  Sources, in order: the
official runtime-spec JSON schema (installed next to the package from the
runtime-spec Go module, never copied into the repository; its findings are
warnings), then what `create` refuses, by create's own code: the typed
loader, the validator, the seccomp compiler, the mount and device planner,
the cgroup driver's dry run; last, what the container's stages would meet on
this host: namespaces, bind sources, idmapped mounts, capabilities, rlimits,
the OOM score, hooks, the program and the user inside the rootfs.  A field
of the wrong type is reported and left out: the rest is still checked.
"""
import errno
import os
import stat

from pyrunc import config, jsonlite, spec, validate
from pyrunc.errors import Error, Problem
from pyrunc.linux import caps

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")
ERROR, WARNING, INFO = "error", "warning", "info"
# the id of the container `check` models: '@' is outside the id alphabet, so it names no container's cgroup
CHECK_ID = "@check"
# hooks that run before create returns: a missing one fails create (the others fail start or delete)
CREATE_HOOKS = ("prestart", "createRuntime", "createContainer")


class Report:
    def __init__(self, bundle):
        self.bundle = bundle
        self.findings = []
        self.left_out = []     # pointers of fields of the wrong type: what is found below them repeats that

    def add(self, severity, pointer, message):
        self.findings.append({"severity": severity, "pointer": pointer or "/", "message": message})

    def errors(self, problems, pointer="/"):
        """Add Problems as errors; `pointer` stands for the pointer of those without one."""
        for p in problems:
            at = p.pointer or pointer
            if not any(at == bad or at.startswith(bad + "/") for bad in self.left_out):
                self.add(ERROR, at, p.message)

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


def check(bundle, rootless=False, systemd=False):
    """The preflight report of a bundle (a directory holding config.json), for `create` with these flags."""
    bundle = os.path.abspath(bundle)
    report = Report(bundle)
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        report.add(ERROR, "/", f"cannot read {path}: {e.strerror}")
        return report
    typing = []
    doc = spec.typed(raw, typing)
    if doc is not None:
        _schema(jsonlite.loads(raw), report)
    report.errors(typing)
    if doc is None:
        return report
    report.left_out = [p.pointer for p in typing if p.pointer]
    fs = _as_create(doc, bundle, rootless, systemd, report)
    _host(doc, bundle, fs, report)
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
        # a warning: what pyrunc (and runc) cannot run is reported as an error by create's own checks
        # below; e.g. podman's fileMode with the type bits breaks the schema yet runs everywhere
        report.add(WARNING, pointer, f"runtime-spec schema: {e.message}")


def _as_create(doc, bundle, rootless, systemd, report):
    """What create refuses before the container's first process runs, found by create's own code.

    Returns the filesystem part of create's plan (config.filesystem)."""
    from pyrunc.linux import seccomp
    linux = doc.get("linux", {})
    problems = validate.check(doc, bundle)
    if rootless:
        problems += validate.check_rootless(doc, systemd)
    if not any(p.pointer.startswith("/linux/seccomp") for p in problems):
        problems += seccomp.compile_problems(linux.get("seccomp"))
    from pyrunc.linux import lsm
    fs = config.filesystem(doc, bundle, problems, lsm.mount_label(linux))
    report.errors(problems)
    report.errors(_cgroups(linux, rootless, systemd, report, doc.get("annotations")), "/linux/resources")
    return fs


def _cgroups(linux, rootless, systemd, report, annotations):
    """The cgroup driver create would use, in a dry run: what its create() would refuse."""
    from pyrunc import cgroups
    from pyrunc.cgroups import detect
    layout = detect.host_layout() if systemd or not rootless else (detect.NONE, [])
    report.add(INFO, "/linux/cgroupsPath", f"cgroup mode here: {layout[0]}")
    try:
        mgr = cgroups.new(linux.get("cgroupsPath", ""), CHECK_ID, layout, systemd=systemd,
                          resources=linux.get("resources", {}),
                          cgroupns=any(n.get("type") == "cgroup" for n in linux.get("namespaces", ())),
                          rootless=rootless, annotations=annotations)
    except Error as e:
        return [Problem("/linux/cgroupsPath", str(e))]
    return mgr.problems(linux.get("devices", ()))


def _host(doc, bundle, fs, report):
    linux = doc.get("linux", {})
    _namespaces(linux, report)
    _mount_sources(fs["mounts"], report)
    _mount_parameters(fs["mounts"], report)
    _idmapped_mounts(fs["mounts"], report)
    root = doc.get("root", {}).get("path")
    rootfs = os.path.join(bundle, root) if root else None
    if rootfs and os.path.isdir(rootfs):
        _mount_points(fs["mounts"], rootfs, linux, report)
        _reach_in_userns(rootfs, fs["mounts"], linux, report)
    p = doc.get("process")
    if p:
        who = config.identity(p)
        _identity(who, p.get("capabilities", {}), linux, report)
        _rlimits(p, report)
        _oom(p, report)
    _hooks(doc, bundle, report)
    if p and p.get("args") and rootfs and os.path.isdir(rootfs):
        _program_and_user(p, who, rootfs, report)


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


def _mount_sources(mounts, report):
    """Bind sources, as create's mount plan resolved them."""
    for m in mounts:
        if m["kind"] == "bind" and not os.path.exists(m["source"]):
            report.add(ERROR, f"/mounts/{m['index']}/source", f"bind source {m['source']} does not exist")


def _mount_parameters(mounts, report):
    """Each new filesystem's type and parameters, set as the init sets them (rootfs.fs_context); none is created."""
    from pyrunc.linux import rootfs
    for m in mounts:
        if m["kind"] != "fs":
            continue
        try:
            os.close(rootfs.fs_context(m["type"], m["source"] or m["type"], m["flags"], m["data"]))
        except OSError as e:
            if e.errno == errno.ENODEV:
                report.add(ERROR, f"/mounts/{m['index']}/type", f"this kernel has no {m['type']} filesystem")
            else:
                report.add(ERROR, f"/mounts/{m['index']}/options", f"mount {m['source'] or m['type']} on {m['dest']}: "
                                                                   f"{e.strerror} (at {e.filename!r})")


def _mount_points(mounts, rootfs, linux, report):
    """Where each mount lands, once the mounts before it are made.

    A bind mount of a file on a directory, or of a directory on a file,
    fails (ENOTDIR; runc: "not a directory").  A mount point missing from the
    rootfs is made by the container's root, which in a new user namespace
    needs the permission to write where it goes.
    """
    stat_fn = _stat_in_root(rootfs, "/")
    ids = _userns_root(linux)
    for i, m in enumerate(mounts):
        there, parent = _at(m["dest"], mounts[:i], stat_fn)
        at = f"/mounts/{m['index']}/destination"
        if there in ("dir", "file") and m["kind"] == "bind" and os.path.exists(m["source"]):
            src = "dir" if os.path.isdir(m["source"]) else "file"
            if src != there:
                report.add(ERROR, at, f"{'a directory' if src == 'dir' else 'a file'} cannot be mounted on the "
                                      f"{'directory' if there == 'dir' else 'file'} {m['dest']}")
        elif there == "absent" and ids and not _may(parent[1], ids, 0o3, linux):
            report.add(ERROR, at, f"making {m['dest']} needs writing to {parent[0]} of the rootfs, which the "
                                  f"container's root (host uid {ids[0]}) cannot do in its user namespace")


def _at(dest, earlier, stat_fn):
    """("dir" | "file" | "fresh": below a mount made before | "absent", (nearest existing directory, its stat))."""
    for e in reversed(earlier):
        if e["dest"] == dest:
            return ("dir" if e["kind"] != "bind" or os.path.isdir(e["source"]) else "file"), None
        if dest.startswith(e["dest"].rstrip("/") + "/"):
            return "fresh", None    # the runtime makes the mount point in what it just mounted
    d = dest
    while True:
        try:
            st = stat_fn(d)
        except OSError:
            d = os.path.dirname(d)
            continue
        if d == dest:
            return ("dir" if stat.S_ISDIR(st.st_mode) else "file"), None
        return "absent", (d, st)


def _userns_root(linux):
    """(host uid, host gid) of the container's root in a new user namespace, or None."""
    if not any(ns.get("type") == "user" and not ns.get("path") for ns in linux.get("namespaces", ())):
        return None
    uids = [m["hostID"] for m in linux.get("uidMappings", ()) if m.get("containerID") == 0 and "hostID" in m]
    gids = [m["hostID"] for m in linux.get("gidMappings", ()) if m.get("containerID") == 0 and "hostID" in m]
    return (uids[0], gids[0]) if uids and gids else None


def _may(st, ids, bits, linux):
    """May the container's root (host ids) access a file with this stat for `bits` (0o1 search, 0o2 write)?

    Only the permission bits count, unless the file's owner and group are both
    mapped into the namespace, where the root's capabilities apply.
    """
    def mapped(i, key):
        return any(m.get("hostID", 0) <= i < m.get("hostID", 0) + m.get("size", 0) for m in linux.get(key, ()))
    if mapped(st.st_uid, "uidMappings") and mapped(st.st_gid, "gidMappings"):
        return True
    shift = 6 if st.st_uid == ids[0] else 3 if st.st_gid == ids[1] else 0
    return st.st_mode >> shift & bits == bits


def _reach_in_userns(rootfs, mounts, linux, report):
    """In a new user namespace, the stages open the rootfs and the bind sources as the container's root."""
    ids = _userns_root(linux)
    if not ids:
        return
    paths = [("/root/path", rootfs)] + [(f"/mounts/{m['index']}/source", m["source"])
                                        for m in mounts if m["kind"] == "bind" and os.path.exists(m["source"])]
    for pointer, path in paths:
        d = "/"
        for part in [""] + [x for x in os.path.realpath(path).split("/") if x]:
            d = os.path.join(d, part)
            st = os.stat(d)
            if stat.S_ISDIR(st.st_mode) and not _may(st, ids, 0o1, linux):
                report.add(ERROR, pointer, f"{d} cannot be searched by the container's root "
                                           f"(host uid {ids[0]}) in its user namespace")
                break


def _idmapped_mounts(mounts, report):
    if any({"idmap", "ridmap"} & set(m["extensions"]) for m in mounts) and not _kernel_has_mount_setattr():
        for m in mounts:
            if {"idmap", "ridmap"} & set(m["extensions"]):
                report.add(ERROR, f"/mounts/{m['index']}/options", "idmapped mounts need mount_setattr (Linux 5.12)")


def _kernel_has_mount_setattr():
    from pyrunc.linux import syscalls as S
    try:
        S.mount_setattr(-1, "", 0)
    except OSError as e:
        return e.errno != 38    # ENOSYS
    return True


def _cap_pointer(capabilities, mask):
    """The pointer of the first entry of process.capabilities naming a capability of `mask`."""
    for s in ("permitted", "effective", "inheritable", "ambient", "bounding"):
        for i, name in enumerate(capabilities.get(s, ())):
            if mask >> caps.NUMBER.get(name, 64) & 1:
                return f"/process/capabilities/{s}/{i}"
    return "/process/capabilities"


def _identity(who, capabilities, linux, report):
    """pyrunc-init's identity checks (linux.creds), with pyrunc's own capabilities and the config's id maps."""
    from pyrunc.linux import creds
    if any(ns.get("type") == "user" for ns in linux.get("namespaces", ())):
        maps = [[(m["containerID"], m["hostID"], m["size"]) for m in linux.get(k, ())
                 if {"containerID", "hostID", "size"} <= set(m)] for k in ("uidMappings", "gidMappings")]
        why = creds.unmapped(who, *maps) if all(maps) else ""
        if why:
            report.add(ERROR, "/process/user", why)
        return    # in its own user namespace, the init has every capability
    for mask, why in creds.capability_problems(who["caps"], caps.status_mask("CapPrm"), caps.status_mask("CapInh")):
        report.add(ERROR, _cap_pointer(capabilities, mask), why)


def _rlimits(p, report):
    import resource
    from pyrunc.validate import RLIMITS
    privileged = caps.status_mask("CapEff") >> 24 & 1     # CAP_SYS_RESOURCE
    for i, r in enumerate(p.get("rlimits", ())):
        num = RLIMITS.get(r.get("type"))
        if num is None:
            continue
        _soft, hard = resource.getrlimit(num)
        hard &= (1 << 64) - 1      # the kernel's unsigned value: resource gives a C long
        if not privileged and hard != (1 << 64) - 1 and r.get("hard", 0) > hard:
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
                # create runs only its own hooks: the others fail `start` or `delete`
                report.add(ERROR if kind in CREATE_HOOKS else WARNING, f"/hooks/{kind}/{i}/path",
                           f"{path} is not an executable file")


def _program_and_user(p, who, rootfs, report):
    """The init's program lookup and execute check (linux.lookpath, linux.creds), resolved in the rootfs."""
    from pyrunc.linux import creds, lookpath, users
    stat_fn = _stat_in_root(rootfs, p.get("cwd", "/"))
    env = config.dedup_env(p.get("env", []))
    try:
        where = lookpath.find(p["args"][0], env, stat_fn)
        creds.check_executable(where, who, stat_fn=stat_fn)
    except (Error, OSError) as e:
        path_var = lookpath.env_value(env, "PATH") or ""
        report.add(ERROR, "/process/args/0", f"{e} in the rootfs (PATH={path_var})")
    else:
        report.add(INFO, "/process/args/0", f"resolves to {where}")
    uid = who["uid"]
    text = _read_in_root(rootfs, "/etc/passwd")
    if uid != 0 and users.home_of(uid, text) == "/" and f":{uid}:" not in (text or ""):
        report.add(WARNING, "/process/user/uid", f"uid {uid} has no entry in the rootfs's /etc/passwd (HOME will be /)")


def _stat_in_root(rootfs, cwd):
    """os.stat for paths inside the rootfs (openat2 RESOLVE_IN_ROOT), relative ones from the process's cwd."""
    from pyrunc.linux import syscalls as S

    def stat_fn(path):
        root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = S.openat2(root, path if path.startswith("/") else os.path.join(cwd, path), os.O_PATH,
                           S.RESOLVE_IN_ROOT)
        finally:
            os.close(root)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)
    return stat_fn


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
