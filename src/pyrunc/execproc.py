"""`exec` (CLI process): a new process in a container's namespaces and cgroups, as runc builds it."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import plan as plans
from pyrunc import OCI_VERSION, cgroups, config, console, exeseal, jsonlite, log, spec, trace, transitions
from pyrunc import unixsock, validate
from pyrunc.create import write_pid_file
from pyrunc.errors import BadConfig, Error
from pyrunc.linux.namespaces import TYPES
from pyrunc.process.parent import Stages


# the process's LSM labels and the exec flags that set them (runc ignores the flags with --process)
LABEL_FLAGS = {"apparmorProfile": "apparmor", "selinuxLabel": "process-label"}


def process_spec(saved, o, args):
    """The runtime-spec process: --process, or the container's own with runc's overrides."""
    if o.get("process"):
        p = _process_json(o)
        # runc's finalizeNamespace: a process without capabilities of its own gets the container's
        if "capabilities" not in p and (saved or {}).get("capabilities") is not None:
            p["capabilities"] = saved["capabilities"]
    else:
        p = jsonlite.loads(jsonlite.dumps(saved or {}))     # a deep copy of JSON data, without copy.py (1.8 ms)
        p["args"] = list(args)
        if o.get("cwd"):
            p["cwd"] = o["cwd"]
        p["env"] = p.get("env", []) + o.get("env", [])
        p["terminal"] = bool(o.get("tty"))
        if "no-new-privs" in o:
            p["noNewPrivileges"] = o["no-new-privs"]
        if o.get("user"):
            p["user"] = dict(p.get("user", {}), **_parse_user(o["user"]))
        if o.get("additional-gids"):
            user = p.setdefault("user", {})
            user["additionalGids"] = user.get("additionalGids", []) + [_int(g, "gid") for g in o["additional-gids"]]
        for cap in o.get("cap", []):
            # never into the inheritable set: CVE-2022-29162
            pc = p.setdefault("capabilities", {})
            for s in ("bounding", "effective", "permitted", "ambient"):
                pc[s] = pc.get(s, []) + [cap]
        for key, flag in LABEL_FLAGS.items():
            if o.get(flag):
                p[key] = o[flag]
        p.setdefault("cwd", "/")    # a process.json must name its own, as runc's
    problems = []
    validate.check_process(p, problems, where="/process")
    if problems:
        raise BadConfig("process: " + "; ".join(problems))
    # runc's newInitConfig: a process without a SELinux label of its own gets the container's (its
    # specconv keeps no AppArmor profile for the container: a process.json without one runs unconfined)
    if not p.get("selinuxLabel") and (saved or {}).get("selinuxLabel"):
        p["selinuxLabel"] = saved["selinuxLabel"]
    return p


def _process_json(o):
    """--process FILE (a dict through the Python API), typed; --tty makes it a terminal's."""
    if isinstance(o["process"], dict):
        p = spec.parse(jsonlite.dumps(o["process"]), what="process", schema=spec.PROCESS)
    else:
        path = o["process"]
        try:
            with open(path, "rb") as f:
                p = spec.parse(f.read(), what=path, schema=spec.PROCESS)
        except OSError as e:
            raise BadConfig(f"cannot read {path}: {e.strerror}") from None
        if o.get("tty"):
            p["terminal"] = True
    return p


def sub_cgroups(args):
    """`--cgroup` values as runc parses them: one PATH (every controller, or cgroup v2), or any
    number of CONTROLLER[,CONTROLLER...]:PATH (cgroup v1); {controller or "": path}."""
    out = {}
    for arg in args:
        ctrls, sep, path = arg.partition(":")
        if not sep:
            if len(args) != 1:
                raise BadConfig(f"invalid --cgroup argument: {arg} (missing <controller>: prefix)")
            out[""] = arg
            continue
        for ctrl in ctrls.split(","):
            if not ctrl:
                raise BadConfig(f"invalid --cgroup argument: {arg} (empty <controller> prefix)")
            if ctrl in out:
                raise BadConfig(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times")
            out[ctrl] = path
    return out


def _int(text, what):
    # ids are 32 bits, (uid_t)-1 is no id (runc would wrap a larger number around instead)
    if not (text.isascii() and text.isdigit()) or int(text) >= 0xFFFFFFFF:
        raise Error(f"parsing {text!r} as int for {what} failed")
    return int(text)


def _parse_user(text):
    uid, colon, gid = text.partition(":")
    out = {"uid": _int(uid, "uid")}
    if colon:       # "1000:" names an empty gid: runc refuses it too
        out["gid"] = _int(gid, "gid")
    return out


def run(host, cid, o, args):
    """Start the process; detached, return 0 once it runs; else wait and return its exit code."""
    # forked first: stage 1 imports while we read the state and build the plan
    stages = Stages().spawn(o.get("preserve-fds", 0))
    fds = []
    ours = master = pipes = None
    try:
        plan, fds, ours, pipes = _plan(host, cid, o, args)
        detach = o.get("detach", False)
        stages.bootstrap(plan)
        stages.wait_ready()
        # the terminal's settings before the program can write to it
        master = console.recv_master(ours) if ours is not None else None
        stages.commit()
        xpid = stages.wait_exec(plan["fds"]["report"])
        if o.get("pid-file"):
            write_pid_file(o["pid-file"], xpid)
    except BaseException:
        stages.kill()
        if ours is not None:
            ours.close()
        if master is not None:
            oslite.close(master)
        for fd in pipes or ():
            oslite.close(fd)
        raise
    finally:
        for fd in fds:
            oslite.close(fd)
    trace.mark("exec started")
    log.debug(f"exec in {cid}", pid=xpid)
    if detach:
        return 0
    try:
        return console.wait_foreground(xpid, master, pipes)
    finally:
        if ours is not None:
            ours.close()


def _plan(host, cid, o, args):
    """(the plan of stage 1, the fds it holds, our end of a local console or None, our ends of the
    stdio pipes or None)."""
    from pyrunc import state
    fds = []
    ours = pipes = None
    try:
        with host.container(cid).lock() as c:
            c.load()
            transitions.require("exec --ignore-paused" if o.get("ignore-paused") else "exec", c.status(), cid)
            data = c.data
            # the namespaces to join, pinned under the lock: a pidfd of the init, checked to be
            # the init (pid and start time) once it is open, so a reused pid cannot be joined
            try:
                fds.append(oslite.pidfd_open(data["pid"]))
            except ProcessLookupError:
                fds.append(-1)
            if fds[0] < 0 or not state.alive(data["pid"], data.get("pid_start")):
                transitions.require("exec", "stopped", cid)     # the init exited since the check
        saved = data.get("config", {})
        p = process_spec(saved.get("process"), o, args)
        detach = o.get("detach", False)
        if p.get("terminal") and detach and not o.get("console-socket"):
            raise BadConfig("cannot allocate a tty for a detached process without --console-socket")
        if o.get("console-socket") and not p.get("terminal"):
            raise BadConfig("--console-socket: the process has no terminal (use --tty)")
        from pyrunc.linux import seccomp
        blockers = seccomp.exec_problems(saved.get("seccomp"))
        if blockers:
            raise BadConfig("; ".join(blockers))
        entry, bpf = seccomp.prepare(saved.get("seccomp"), host.root)
        manager = cgroups.from_state(data["cgroup"])
        namespaces = saved.get("namespaces", ())
        flags = 0
        for t in namespaces:
            flags |= TYPES[t][0]
        plan = plans.new(
            "exec",
            id=cid,
            ns={"flags": flags, "user": "user" in namespaces},
            # joined first of all, by stage 1 (a paused container: see bootstrap.join_cgroups)
            cgroup_join=manager.join_files(sub_cgroups(o.get("cgroup", ()))),
            oom_score_adj=p.get("oomScoreAdj"),
            process=config.process_plan(p, saved.get("memoryPolicy")),
            keyring=config.session_keyring(cid, saved.get("no_new_keyring", False)),
            # the container's state, as a seccomp listener receives it with an exec'd process's fd
            hook_state={"ociVersion": OCI_VERSION, "id": cid, "pid": data["pid"],
                        "bundle": data.get("bundle", ""), "annotations": data.get("annotations", {})},
            fds=dict(plans.fds("exec"), pidfd=fds[0], preserve=o.get("preserve-fds", 0)))
        fds.append(exeseal.sealed_init(userns="user" in namespaces))
        plan["fds"]["init"] = fds[-1]
        fds.append(_report_page())
        plan["fds"]["report"] = fds[-1]
        if p.get("terminal") and not detach and not o.get("console-socket"):
            ours, theirs = console.local_pair()
            fds.append(theirs)
            plan["fds"]["console"] = theirs
        elif o.get("console-socket"):
            fds.append(unixsock.connect(o["console-socket"], "console socket"))
            plan["fds"]["console"] = fds[-1]
        elif not detach:
            # runc's pipes, never the caller's own files or terminal: see console.stdio_pipes
            pipes, theirs = console.stdio_pipes()
            fds.extend(theirs)
            plan["fds"]["stdio"] = theirs
        seccomp.attach(plan, entry, bpf, fds)
    except BaseException:
        for fd in fds:
            if fd >= 0:
                oslite.close(fd)
        if ours is not None:
            ours.close()
        for fd in pipes or ():
            oslite.close(fd)
        raise
    return plan, fds, ours, pipes


def _report_page():
    """A memfd page pyrunc-init writes the exec'd process's pid (or its error) into."""
    from pyrunc.linux import initabi
    fd = oslite.memfd_create("pyrunc-exec-report", oslite.MFD_CLOEXEC)
    oslite.ftruncate(fd, initabi.REPORT_SIZE)
    return fd
