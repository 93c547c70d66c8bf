"""`create` (CLI process): check the config, claim the id, make the cgroups, drive the stages until READY."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import jsonlite, log, state, trace
from pyrunc.errors import BadConfig, Error


def create(host, cid, bundle, pid_file=None, console_socket=None, no_pivot=False,
           no_new_keyring=False, preserve_fds=0, listen_fds=0, detach=True, subreaper=True, console_fd=None,
           stdio=()):
    """Set the container up until its init waits for `start`; returns the init's pid.

    Not detached (a foreground `run`), the init becomes our child: runc's
    init is its child (nsexec clones it with CLONE_PARENT), ours is stage
    1's, which exits once it has forked it, so we are the subreaper while
    it does; we stay one (reaping the container's orphans, as runc's `run`)
    unless `subreaper` is False (`--no-subreaper`).  `listen_fds`: systemd
    socket activation's fds, passed before the preserved ones (runc's
    LISTEN_FDS, see cli).  `stdio`: the process's fds 0-2 in place of ours
    (a foreground `run`'s pipes, console.stdio_pipes).

    Crash consistency: state.json (marked "creating", with the cgroup
    paths) exists before anything else does, so a `delete --force` or a
    new `create` of the id cleans up after a create that was killed.
    """
    from pyrunc.process.parent import Stages, run_runtime_hooks
    # first of all: stage 1 imports what it needs while we do the rest
    passed = listen_fds + preserve_fds     # fds 3.. the process gets, the listening ones first
    stages = Stages().spawn(passed)
    from pyrunc import config, exeseal
    from pyrunc import cgroups
    from pyrunc.cgroups import detect
    from pyrunc.linux.userns import write_maps

    bundle = oslite.path.abspath(bundle or ".")
    if console_fd is not None:
        console_socket = f"fd {console_fd}"
    c = manager = None
    fds = []
    try:
        doc = _checked_config(bundle, console_socket, detach, listen_fds, preserve_fds, host.rootless,
                             host.systemd_cgroup)
        from pyrunc.linux import seccomp
        filter_entry, bpf = seccomp.prepare(doc.get("linux", {}).get("seccomp"), host.root)
        if filter_entry:
            log.debug(f"seccomp filter flags: {filter_entry['flags']}")   # runc's words
        trace.mark("seccomp")
        c = _claim(host, cid)
        trace.mark("reserve id")
        # rootless: no cgroup of our own to manage (runc ignores them on v1 too), but the
        # user's systemd makes some with --systemd-cgroup
        layout = detect.host_layout() if host.systemd_cgroup or not host.rootless else (detect.NONE, [])
        linux = doc.get("linux", {})
        manager = cgroups.new(linux.get("cgroupsPath", ""), cid, layout, systemd=host.systemd_cgroup,
                              resources=linux.get("resources", {}),
                              cgroupns=any(n.get("type") == "cgroup" for n in linux.get("namespaces", ())),
                              rootless=host.rootless, annotations=doc.get("annotations"))
        plan = config.build(doc, bundle, cid, manager, layout, no_pivot, no_new_keyring)
        if listen_fds and plan["process"]:
            # runc's words for them: LISTEN_PID is the process's pid as it sees it (1), and these
            # override the config's (set after it, one at a time)
            plan["process"]["env"] = config.dedup_env(plan["process"]["env"] + [f"LISTEN_FDS={listen_fds}",
                                                                                "LISTEN_PID=1"])
        base = {"id": cid, "bundle": bundle, "rootfs": plan["rootfs"],
                "created": state.now_rfc3339nano(), "annotations": doc.get("annotations", {}),
                "cgroup": manager.to_state(), "config": _saved_config(doc, no_new_keyring)}
        c.save(dict(base, creating=True))
        manager.create(linux.get("devices", ()), pid=stages.stage1)
        trace.mark("cgroup")
        fds.append(oslite.open(c.fifo, oslite.O_RDWR | oslite.O_CLOEXEC))
        plan["fds"].update(fifo=fds[0], preserve=passed)
        fds.extend(_prepare_idmaps(plan["mounts"]))
        fds.append(exeseal.sealed_init(userns=any(n.get("type") == "user" for n in linux.get("namespaces", ()))))
        plan["fds"]["init"] = fds[-1]
        if stdio:
            plan["fds"]["stdio"] = list(stdio)
        if console_socket:
            from pyrunc import unixsock
            fds.append(oslite.dup(console_fd) if console_fd is not None else unixsock.connect(console_socket, "console socket"))
            plan["fds"]["console"] = fds[-1]
        seccomp.attach(plan, filter_entry, bpf, fds)
        if not detach:
            from pyrunc.linux import syscalls as S
            S.prctl(S.PR_SET_CHILD_SUBREAPER, 1)
        stages.bootstrap(plan)

        def on_setup(kinds, pid):
            from pyrunc import hooks
            if doc.get("linux", {}).get("netDevices"):
                from pyrunc.linux import netdev
                netdev.move(doc["linux"]["netDevices"], pid)
            # in the bundle, where runc runs them (it works from there during create)
            run_runtime_hooks(kinds, doc.get("hooks", {}), hooks.state_json(base, "creating", pid), cwd=bundle)

        def on_pid(pid):
            start = state.proc_start_time(pid)
            c.save(dict(base, pid=pid, pid_start=start[0] if start else 0, creating=True))

        pid = stages.wait_ready(on_userns=lambda p: write_maps(p, plan["uid_map"], plan["gid_map"],
                                                               deny_setgroups=host.rootless),
                                on_setup=on_setup, on_pid=on_pid)
        if not detach and not subreaper:
            S.prctl(S.PR_SET_CHILD_SUBREAPER, 0)   # stage 1 is reaped: the init is ours now
        start = state.proc_start_time(pid)
        if start is None:
            raise Error("container init exited before it was ready")
        trace.mark("init ready")
        c.save(dict(base, pid=pid, pid_start=start[0], trace={"create": trace.marks()}))
        if pid_file:
            write_pid_file(pid_file, pid)
        stages.commit()
        trace.mark("state saved")
    except BaseException:
        stages.kill()
        if manager is not None:
            log.quietly(manager.destroy)
        if c is not None:
            log.quietly(c.remove)
        raise
    finally:
        for fd in fds:
            oslite.close(fd)
        if c is not None:
            c.unlock()
    log.debug(f"created container {cid}", pid=pid)
    return pid


def _claim(host, cid):
    """Reserve the id; an earlier create of it that was killed half-way is cleaned up first."""
    c = host.container(cid)
    try:
        return c.reserve()
    except Error:
        if not c.exists():
            raise
    old = host.container(cid)
    try:
        old.lock(blocking=False)
    except Error:
        raise Error(f"container with id {cid} already exists") from None
    with old:
        old.load()
        if old.data and not old.data.get("creating"):
            raise Error(f"container with id {cid} already exists")
        # unlocked and never finished: its creator is gone
        log.warning(f"cleaning up an interrupted create of {cid}")
        from pyrunc import lifecycle
        lifecycle.kill_init(old, 9)
        lifecycle.destroy(old)
    return host.container(cid).reserve()


def _prepare_idmaps(mounts):
    """One user namespace fd per distinct mapping (or joined namespace) of the idmapped mounts."""
    from pyrunc.linux.idmap import userns_fd
    made = {}
    for m in mounts:
        if m["userns_path"] or m["uid_mappings"]:
            key = m["userns_path"] or jsonlite.dumps([m["uid_mappings"], m["gid_mappings"]])
            if key not in made:
                made[key] = (_open_userns(key) if m["userns_path"]
                             else userns_fd(m["uid_mappings"], m["gid_mappings"]))
            m["userns_fd"] = made[key]
    return list(made.values())


def _open_userns(path):
    try:
        return oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)
    except OSError as e:
        raise Error(f"open user namespace {path} for an idmapped mount: {e.strerror}") from None


def _checked_config(bundle, console_socket, detach, listen_fds, preserve_fds, rootless=False, systemd=False):
    """config.json, typed and checked; every problem at once."""
    from pyrunc import spec, validate
    doc = spec.load(bundle)
    trace.mark("parse")
    problems = validate.check(doc, bundle)
    if rootless:
        problems += validate.check_rootless(doc, systemd)
    p = doc.get("process", {})
    if p.get("terminal") and detach and not console_socket:
        problems.append("/process/terminal: cannot allocate a tty for a detached container without --console-socket")
    if console_socket and not p.get("terminal"):
        problems.append("--console-socket: the process has no terminal (process.terminal is false)")
    problems += _check_passed(listen_fds, preserve_fds)
    if problems:
        raise BadConfig("config.json: " + "; ".join(problems))
    trace.mark("validate")
    return doc


def _check_passed(listen, preserve):
    """LISTEN_FDS=L and --preserve-fds N pass fds 3..L+N+2: each must be open, or one of ours could
    take its number."""
    missing = []
    for fd in range(3, 3 + listen + preserve):
        try:
            oslite.fstat(fd)
        except OSError:
            what = f"LISTEN_FDS={listen}" if fd < 3 + listen else f"--preserve-fds {preserve}"
            missing.append(f"{what}: fd {fd} is not open")
    return missing


def _saved_config(doc, no_new_keyring=False):
    """What later commands need from config.json (and create's --no-new-keyring), kept in state.json
    (the bundle may change)."""
    keep = {"process": doc.get("process"), "hooks": doc.get("hooks", {}),
            "namespaces": [ns["type"] for ns in doc.get("linux", {}).get("namespaces", ())],
            "seccomp": doc.get("linux", {}).get("seccomp"),   # exec'd processes get the same filter
            "memoryPolicy": doc.get("linux", {}).get("memoryPolicy"),   # and the same memory policy
            "no_new_keyring": no_new_keyring}
    return {k: v for k, v in keep.items() if v}


def write_pid_file(path, pid):
    """Decimal, no newline, atomically (the shim reads it with strconv.Atoi right after create)."""
    try:
        oslite.replace_file(oslite.path.abspath(path), str(pid).encode(), 0o644)
    except OSError as e:
        raise Error(f"cannot write the pid file {path}: {e.strerror}") from None
