"""The Python API (the caller's process): pyrunc.Container and pyrunc.check; the CLI is a layer over it.

    import pyrunc
    c = pyrunc.Container("web", root="/run/pyrunc")
    c.create("/path/to/bundle")          # the init waits for start
    c.start()
    print(c.state()["status"])           # "running"
    code = c.exec(["cat", "/etc/hostname"])   # its output goes to our stdout; its exit code back
    c.kill("TERM")
    c.delete(force=True)

Errors are pyrunc.Error (one line: the reason); nothing is printed.
"""
from pyrunc.cli import DEFAULT_ROOT
from pyrunc.errors import Error


class Container:
    """One container, by id, under a state root (runc's --root)."""

    def __init__(self, id, root=None, rootless=None, systemd_cgroup=False):
        from pyrunc.cli import state_root
        from pyrunc.container import Runtime
        _no_nul(root=root)
        if rootless is None:
            import posix
            rootless = posix.geteuid() != 0
        self.id = id
        self._rt = Runtime(state_root({"root": root} if root else {}, rootless),
                           systemd_cgroup=systemd_cgroup, rootless=rootless)

    @property
    def root(self):
        return self._rt.root

    def __repr__(self):
        return f"pyrunc.Container({self.id!r}, root={self.root!r})"

    # -- lifecycle -------------------------------------------------------
    def create(self, bundle, *, pid_file=None, console_socket=None, no_pivot=False, no_new_keyring=False,
               preserve_fds=0):
        """Set the container up (its stdio is the caller's); returns the init's host pid."""
        _no_nul(bundle=bundle, pid_file=pid_file, console_socket=console_socket)
        return self._rt.create(self.id, bundle, pid_file=pid_file, console_socket=console_socket,
                               no_pivot=no_pivot, no_new_keyring=no_new_keyring, preserve_fds=preserve_fds)

    def start(self):
        self._rt.start(self.id)

    def state(self):
        """The runtime-spec state: ociVersion, id, status, pid, bundle, rootfs, created, owner, annotations."""
        return self._rt.state(self.id)

    def saved_trace(self):
        """{"create": [(stage, monotonic ns)...], "start": [...]}: what `pyrunc trace` prints."""
        c = self._rt.container(self.id)
        if not c.exists():
            from pyrunc.errors import NotExist
            raise NotExist(self.id)
        c.load()
        return c.saved_trace()

    @property
    def status(self):
        return self.state()["status"]

    @property
    def pid(self):
        return self.state()["pid"]

    def kill(self, signal="TERM", all=False):
        """Signal the init (a name such as "TERM" or a number), or with all=True every process."""
        from pyrunc.container import parse_signal
        self._rt.kill(self.id, parse_signal(str(signal)), all)

    def delete(self, force=False):
        self._rt.delete(self.id, force)

    def exec(self, args=None, *, process=None, detach=False, tty=False, console_socket=None, cwd=None,
             env=(), user=None, additional_gids=(), caps=(), no_new_privs=None, pid_file=None,
             preserve_fds=0, ignore_paused=False):
        """Run a process in the container: its exit code, or 0 once it runs when detached.

        process: a runtime-spec process (dict) or the path of a process.json,
        instead of args and the other process settings."""
        from pyrunc import execproc
        _no_nul(args=args, process=process if isinstance(process, str) else None, console_socket=console_socket,
                cwd=cwd, env=env, user=user, additional_gids=additional_gids, caps=caps, pid_file=pid_file)
        o = {"process": process, "detach": detach, "tty": tty, "console-socket": console_socket, "cwd": cwd,
             "env": list(env), "user": user, "additional-gids": [str(g) for g in additional_gids],
             "cap": list(caps), "pid-file": pid_file, "preserve-fds": preserve_fds,
             "ignore-paused": ignore_paused}
        if no_new_privs is not None:
            o["no-new-privs"] = no_new_privs
        return execproc.run(self._rt, self.id, {k: v for k, v in o.items() if v is not None},
                            list(args or ()))

    # -- cgroups ---------------------------------------------------------
    def pause(self):
        from pyrunc.cgroups import control
        control.pause(self.root, self.id)

    def resume(self):
        from pyrunc.cgroups import control
        control.resume(self.root, self.id)

    def update(self, resources):
        """Merge a runtime-spec LinuxResources dict into the container's limits (runc update)."""
        from pyrunc import jsonlite, spec
        from pyrunc.cgroups import control
        control.update(self.root, self.id, spec.parse(jsonlite.dumps(resources), "resources", spec.RESOURCES))

    def ps(self):
        """Host pids of the container's processes."""
        from pyrunc.cgroups import control
        return control.pids(self.root, self.id)

    def stats(self):
        """runc's stats: cpu, memory, pids, blkio, hugetlb."""
        from pyrunc.cgroups import control
        return control.stats(self.root, self.id)


def _no_nul(**named):
    """The caller's strings (or lists of them) cut at the C boundary if they hold a NUL: refused.

    The command line cannot carry one (argv), nor can config.json or a
    process.json (spec.scan); only a Python caller can."""
    for name, value in named.items():
        for s in [value] if isinstance(value, str) else value or ():
            if isinstance(s, str) and "\0" in s:
                raise Error(f"{name}: {s!r} contains a NUL byte")


def containers(root=None, rootless=None):
    """Every container under a state root."""
    from pyrunc import state
    probe = Container("probe", root, rootless)
    return [Container(cid, probe.root, rootless) for cid in state.list_ids(probe.root)]


def check(bundle):
    """The preflight report of a bundle on this host (pyrunc check): .ok, .findings, .text(), .to_dict()."""
    from pyrunc.preflight import check as preflight
    return preflight(bundle)


__all__ = ["Container", "containers", "check", "DEFAULT_ROOT"]
