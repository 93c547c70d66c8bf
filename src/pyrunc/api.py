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
The one layer below is lifecycle.py (start, state, kill, delete, list),
create.py, execproc.py and cgroups/control.py: each verb is one call.
"""
from pyrunc import frontabi
from pyrunc.errors import Error

DEFAULT_ROOT = frontabi.DEFAULT_ROOT


def state_root(root=None, rootless=None):
    """root, else /run/pyrunc, or $XDG_RUNTIME_DIR/pyrunc for a rootless caller (as runc)."""
    if root:
        return root
    if not _rootless(rootless):
        return DEFAULT_ROOT
    from pyrunc import oslite
    xdg = oslite.startup_environ.get("XDG_RUNTIME_DIR")
    if not xdg:
        raise Error("rootless: set XDG_RUNTIME_DIR (or pass --root) for the state directory")
    return oslite.path.join(xdg, "pyrunc")


def _rootless(rootless):
    if rootless is None:
        import posix
        return posix.geteuid() != 0
    return rootless


def _host(root, rootless, systemd_cgroup=False):
    from pyrunc.state import Host
    _no_nul(root=root)
    return Host(state_root(root, rootless), systemd_cgroup=systemd_cgroup, rootless=_rootless(rootless))


class Container:
    """One container, by id, under a state root (runc's --root)."""

    def __init__(self, id, root=None, rootless=None, systemd_cgroup=False):
        self.id = id
        self._host = _host(root, rootless, systemd_cgroup)

    @property
    def root(self):
        return self._host.root

    def __repr__(self):
        return f"pyrunc.Container({self.id!r}, root={self.root!r})"

    # -- lifecycle -------------------------------------------------------
    def create(self, bundle, *, pid_file=None, console_socket=None, no_pivot=False, no_new_keyring=False,
               preserve_fds=0, listen_fds=0):
        """Set the container up (its stdio is the caller's); returns the init's host pid.
        listen_fds: socket activation's fds (3 on, before the preserved ones; the process gets
        LISTEN_FDS and LISTEN_PID=1, as with runc)."""
        from pyrunc import create
        _no_nul(bundle=bundle, pid_file=pid_file, console_socket=console_socket)
        return create.create(self._host, self.id, bundle, pid_file=pid_file, console_socket=console_socket,
                             no_pivot=no_pivot, no_new_keyring=no_new_keyring, preserve_fds=preserve_fds,
                             listen_fds=listen_fds)

    def run(self, bundle, *, detach=False, keep=False, subreaper=True, pid_file=None, console_socket=None,
            no_pivot=False, no_new_keyring=False, preserve_fds=0, listen_fds=0):
        """create and start; in the foreground relay signals and the tty, wait, delete (unless keep):
        the process's exit code (0 once it runs when detached)."""
        from pyrunc import runfg
        _no_nul(bundle=bundle, pid_file=pid_file, console_socket=console_socket)
        return runfg.run(self._host, self.id, bundle, detach=detach, keep=keep, subreaper=subreaper,
                         pid_file=pid_file, console_socket=console_socket, no_pivot=no_pivot,
                         no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, listen_fds=listen_fds)

    def start(self):
        from pyrunc import lifecycle
        lifecycle.start(self._host, self.id)

    def state(self):
        """The runtime-spec state: ociVersion, id, status, pid, bundle, rootfs, created, owner, annotations."""
        from pyrunc import lifecycle
        return lifecycle.container_state(self._host, self.id)

    def saved_trace(self):
        """{"create": [(stage, monotonic ns)...], "start": [...]}: what `pyrunc trace` prints."""
        c = self._host.container(self.id)
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
        from pyrunc import lifecycle
        from pyrunc.signals import parse_signal
        lifecycle.kill(self._host, self.id, parse_signal(str(signal)), all)

    def delete(self, force=False):
        from pyrunc import lifecycle
        lifecycle.delete(self._host, self.id, force)

    def exec(self, args=None, *, process=None, detach=False, tty=False, console_socket=None, cwd=None,
             env=(), user=None, additional_gids=(), caps=(), no_new_privs=None, pid_file=None,
             preserve_fds=0, ignore_paused=False, cgroup=(), apparmor=None, process_label=None):
        """Run a process in the container: its exit code, or 0 once it runs when detached.

        process: a runtime-spec process (dict) or the path of a process.json,
        instead of args and the other process settings; cgroup: runc's --cgroup values
        ("sub", or "cpu,cpuacct:sub" per v1 controller), existing sub-cgroups to run in;
        apparmor, process_label: runc's --apparmor and --process-label (ignored with process)."""
        from pyrunc import execproc
        _no_nul(args=args, process=process if isinstance(process, str) else None, console_socket=console_socket,
                cwd=cwd, env=env, user=user, additional_gids=additional_gids, caps=caps, pid_file=pid_file,
                cgroup=cgroup, apparmor=apparmor, process_label=process_label)
        o = {"process": process, "detach": detach, "tty": tty, "console-socket": console_socket, "cwd": cwd,
             "env": list(env), "user": user, "additional-gids": [str(g) for g in additional_gids],
             "cap": list(caps), "pid-file": pid_file, "preserve-fds": preserve_fds,
             "ignore-paused": ignore_paused, "cgroup": list(cgroup), "apparmor": apparmor,
             "process-label": process_label}
        if no_new_privs is not None:
            o["no-new-privs"] = no_new_privs
        return execproc.run(self._host, self.id, {k: v for k, v in o.items() if v is not None},
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
    host = _host(root, rootless)
    return [Container(cid, host.root, rootless) for cid in state.list_ids(host.root)]


def states(root=None, rootless=None):
    """The runtime-spec state of every container under a state root, with its owner (`list`)."""
    from pyrunc import lifecycle
    return lifecycle.containers(_host(root, rootless))


def features():
    """What this runtime supports (runtime-spec features.md)."""
    from pyrunc.features import features as probe
    return probe()


def write_spec(bundle=".", rootless=False):
    """`spec`: an example config.json in bundle, never over an existing one."""
    from pyrunc.spec import write_example
    write_example(bundle, rootless)


def check(bundle, rootless=False, systemd=False):
    """The preflight report of a bundle on this host (pyrunc check): .ok, .findings, .text(), .to_dict();
    rootless and systemd as create's --rootless and --systemd-cgroup."""
    from pyrunc.preflight import check as preflight
    return preflight(bundle, rootless=rootless, systemd=systemd)


__all__ = ["Container", "containers", "states", "check", "features", "write_spec", "state_root", "DEFAULT_ROOT"]
