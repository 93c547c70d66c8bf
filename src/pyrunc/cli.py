"""runc-compatible command line (CLI process): flags, verbs, output and exit codes; the work is elsewhere.

The parser is written by hand: argparse alone costs more start-up time than
a whole `pyrunc start`.  It follows runc's (urfave/cli on Go's flag package)
rules: `-flag` and `--flag`, `--flag=value` or `--flag value`, booleans take
only `=true|false`, and flags may follow the container id except for
`exec`, whose arguments after the id belong to the process.
"""
from pyrunc import oslite  # posix without os.py: see oslite
import gc
import sys

from pyrunc import __version__, GC_THRESHOLD, OCI_VERSION, frontabi, log, trace
from pyrunc.api import DEFAULT_ROOT
from pyrunc.errors import Error, oserror_reason

# flag name -> kind ("bool", "str", "int", "list"); aliases map to a name
GLOBAL_FLAGS = {"root": "str", "log": "str", "log-format": "str", "debug": "bool",
                "systemd-cgroup": "bool", "rootless": "str", "criu": "str", "help": "bool",
                "version": "bool"}
GLOBAL_ALIASES = {"h": "help", "v": "version"}

CREATE_FLAGS = {"bundle": "str", "pid-file": "str", "console-socket": "str", "no-pivot": "bool",
                "no-new-keyring": "bool", "preserve-fds": "int"}

# runc update's flags (all values as text: sizes, "-1" and empty strings are parsed by cgroups.resources)
UPDATE_FLAGS = {k: "str" for k in (
    "resources", "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-burst", "cpu-idle",
    "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "kernel-memory", "kernel-memory-tcp",
    "memory", "memory-reservation", "memory-swap", "pids-limit", "l3-cache-schema", "mem-bw-schema")}


class Command:
    def __init__(self, name, usage, flags=None, aliases=None, args=(), reorder=True, summary=""):
        self.name = name
        self.usage = usage
        self.flags = dict(flags or {}, help="bool")
        self.aliases = dict(aliases or {}, h="help")
        self.args = args
        self.reorder = reorder
        self.summary = summary


COMMANDS = {c.name: c for c in (
    Command("create", "<container-id>", CREATE_FLAGS, {"b": "bundle"}, ("id",),
            summary="create a container"),
    Command("start", "<container-id>", args=("id",), summary="start the process of a created container"),
    Command("state", "<container-id>", args=("id",), summary="print the state of a container"),
    Command("kill", "<container-id> [signal]", {"all": "bool"}, {"a": "all"}, ("id", "signal?"),
            summary="send a signal to the container's init (or all its processes)"),
    Command("delete", "<container-id>", {"force": "bool"}, {"f": "force"}, ("id",),
            summary="delete a container and its resources"),
    Command("run", "<container-id>",
            dict(CREATE_FLAGS, detach="bool", keep="bool", **{"no-subreaper": "bool"}),
            {"b": "bundle", "d": "detach"}, ("id",), summary="create and start a container"),
    Command("exec", "<container-id> <command> [args...] | -p process.json <container-id>",
            {"process": "str", "detach": "bool", "pid-file": "str", "tty": "bool", "console-socket": "str",
             "cwd": "str", "env": "list", "user": "str", "additional-gids": "list", "cap": "list",
             "no-new-privs": "bool", "preserve-fds": "int", "ignore-paused": "bool", "apparmor": "str",
             "process-label": "str", "cgroup": "list"},
            {"p": "process", "d": "detach", "t": "tty", "e": "env", "u": "user", "g": "additional-gids",
             "c": "cap"}, ("id", "command?"), reorder=False,
            summary="run a new process inside a container"),
    Command("list", "", {"format": "str", "quiet": "bool"}, {"f": "format", "q": "quiet"},
            summary="list the containers under --root"),
    Command("features", "", summary="print what this runtime supports (runtime-spec features.md)"),
    Command("trace", "<container-id>", args=("id",),
            summary="print the timeline of a container's create and start"),
    Command("check", "", {"bundle": "str", "format": "str"}, {"b": "bundle", "f": "format"},
            summary="preflight a bundle on this host, creating nothing (exit 1 if it will not run)"),
    Command("spec", "", {"bundle": "str", "rootless": "bool"}, {"b": "bundle"},
            summary="write an example config.json"),
    Command("pause", "<container-id>", args=("id",), summary="suspend all processes of a container"),
    Command("resume", "<container-id>", args=("id",), summary="resume all processes of a paused container"),
    Command("update", "<container-id>", UPDATE_FLAGS, {"r": "resources", "cpu-shares": "cpu-share"}, ("id",),
            summary="update a container's resource limits"),
    Command("ps", "<container-id> [ps options]", {"format": "str"}, {"f": "format"}, ("id",), reorder=False,
            summary="list the processes of a container"),
    Command("events", "<container-id>", {"interval": "str", "stats": "bool"}, args=("id",),
            summary="print a container's resource usage and OOM events"),
)}


class Usage(Error):
    """A command-line mistake."""


def parse_flags(argv, flags, aliases, reorder):
    """(options dict, positional list) following Go flag/urfave rules."""
    opts, pos = {}, []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            pos.extend(argv[i:])
            break
        if len(a) < 2 or a[0] != "-" or (pos and not reorder):
            pos.append(a)
            if not reorder:
                pos.extend(argv[i:])
                break
            continue
        name, eq, value = a.lstrip("-").partition("=")
        name = aliases.get(name, name)
        kind = flags.get(name)
        if kind is None:
            raise Usage(f"flag provided but not defined: {a.partition('=')[0]}")
        if kind == "bool":
            if eq and value not in ("true", "false", "1", "0"):
                raise Usage(f"invalid boolean value {value!r} for {a}")
            opts[name] = value in ("true", "1") if eq else True
            continue
        if not eq:
            if i >= len(argv):
                raise Usage(f"flag needs an argument: {a}")
            value = argv[i]
            i += 1
        if kind == "int":
            if not value.isdigit():
                raise Usage(f"invalid value {value!r} for {a}: not a non-negative integer")
            value = int(value)
        if kind == "list":
            opts.setdefault(name, []).append(value)
        else:
            opts[name] = value
    return opts, pos


def _ensure_stdio():
    # A closed 0-2 would let our own fds land there and reach the container.
    for fd in (0, 1, 2):
        try:
            oslite.fstat(fd)
        except OSError:
            oslite.open("/dev/null", oslite.O_RDWR)


def _usage_text(cmd=None):
    if cmd:
        flags = "".join(f"   --{n}{' value' if k != 'bool' else ''}\n" for n, k in sorted(cmd.flags.items()))
        return f"usage: pyrunc {cmd.name} [command options] {cmd.usage}\n\n{cmd.summary}\n\noptions:\n{flags}"
    cmds = "".join(f"   {c.name:<10} {c.summary}\n" for c in COMMANDS.values())
    return ("usage: pyrunc [global options] command [command options] [arguments...]\n\n"
            "pyrunc is a low-level OCI container runtime, a drop-in replacement for runc.\n\n"
            f"commands:\n{cmds}\nglobal options:\n   --root value, --log value, --log-format text|json, "
            "--debug, --systemd-cgroup, --rootless value, --help, --version\n")


def version_text():
    return f"pyrunc version {__version__}\nspec: {OCI_VERSION}\npython: {sys.version.split()[0]}\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    trace.mark("cli start")
    _ensure_stdio()
    verb, obj = "pyrunc", ""
    try:
        gopts, rest = parse_flags(argv, GLOBAL_FLAGS, GLOBAL_ALIASES, reorder=False)
        fmt = gopts.get("log-format", "text")
        if fmt not in ("text", "json"):
            raise Usage(f"invalid log format {fmt!r}: use text or json")
        if gopts.get("version"):
            sys.stdout.write(version_text())
            return 0
        if not rest or gopts.get("help"):
            sys.stdout.write(_usage_text())
            return 0 if gopts.get("help") else 1
        verb = rest[0]
        cmd = COMMANDS.get(verb)
        container_stdio = verb in ("create", "run", "exec")
        log.setup(gopts.get("log"), fmt, gopts.get("debug", False), stderr_ok=not container_stdio)
        if cmd is None:
            raise Usage(f"unknown command {verb!r}")
        opts, pos = parse_flags(rest[1:], cmd.flags, cmd.aliases, cmd.reorder)
        if opts.get("help"):
            sys.stdout.write(_usage_text(cmd))
            return 0
        need = [a for a in cmd.args if not a.endswith("?")]
        if len(pos) < len(need) or (cmd.reorder and len(pos) > len(cmd.args)):
            raise Usage(f"expects {cmd.usage or 'no arguments'}, got {' '.join(pos) or 'nothing'}")
        obj = pos[0] if cmd.args else gopts.get("root", DEFAULT_ROOT)
        rc = HANDLERS[verb](gopts, opts, pos) or 0
        if gopts.get("debug"):
            _log_trace(verb)
        return rc
    except Error as e:
        log.error(f"{verb} {obj}: {e}" if obj else f"{verb}: {e}")
        return _failure_status(verb, e)
    except KeyboardInterrupt:
        return 130
    except OSError as e:   # the system refused what no check could foresee (a fork under a pids limit)
        import traceback
        log.debug(traceback.format_exc())
        log.error(f"{verb} {obj}: {oserror_reason(e)}")
        return _failure_status(verb, e)
    except Exception as e:   # a bug: one line for the caller, the traceback in the log
        import traceback
        log.debug(traceback.format_exc())
        log.error(f"{verb} {obj}: internal error: {type(e).__name__}: {e}")
        return _failure_status(verb, e)


def _failure_status(verb, e):
    """runc's exit status: 255 for any failure of `exec` past its command line (its
    fatalWithCode(err, 255)), 1 otherwise."""
    return 255 if verb == "exec" and not isinstance(e, Usage) else 1


def run_and_exit(argv=None):
    """main(), then exit at once: the installed command's entry point.

    The interpreter's finalization (freeing every module and object) costs
    1.5-4 ms per call here and does nothing pyrunc needs: files are closed
    by their with-blocks or explicitly, and there are no atexit handlers or
    threads.  Only the standard streams' buffers must be flushed.

    The cyclic garbage collector waits until GC_THRESHOLD (50,000) objects
    are alive beyond the start-up set (Python's default is 700): a command
    allocates about 7,000 while it imports and works, and its collections
    cost `create` 2-3 ms (a collection writes to every young object's
    header, and after a fork each such page is copied on write).  Long
    waits (`events`, a foreground `run` or `exec`) still collect.  The
    installed scripts (pyrunc-cli, pyrunc-bootstrap) set it before their
    first import; `python -m pyrunc` from here.
    """
    gc.set_threshold(GC_THRESHOLD)
    oslite.open_stdio()     # the front end's first step, for a CLI called directly
    rc = main(argv)
    if frontabi.EARLY_BOOTSTRAP_ENV in oslite.startup_environ:
        from pyrunc.process import early
        early.discard()     # the call ended without adopting the bootstrap process the front end started
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue        # the fd was closed when the interpreter started
        try:
            stream.flush()
        except (OSError, ValueError):
            pass    # a closed or broken pipe: the interpreter would not have delivered it either
    oslite._exit(rc)


def _log_trace(verb):
    marks = trace.marks()
    for stage, ms, total in trace.timeline(marks[0][1]):
        log.debug(f"{verb}: {stage}", stage=stage, ms=round(ms, 3), total_ms=round(total, 3))


# ---------------------------------------------------------------- handlers
def _rootless(g):
    value = g.get("rootless", "auto")
    if value not in ("true", "false", "auto"):
        raise Usage(f"invalid --rootless value {value!r}: use true, false or auto")
    return value == "true" or (value == "auto" and oslite.geteuid() != 0)


def _container(g, cid):
    """The API's Container for the global flags: every command below is a call on it."""
    from pyrunc.api import Container
    return Container(cid, root=g.get("root"), rootless=_rootless(g), systemd_cgroup=g.get("systemd-cgroup", False))


def do_create(g, o, pos):
    _container(g, pos[0]).create(o.get("bundle", "."), pid_file=o.get("pid-file"),
                                 console_socket=o.get("console-socket"), no_pivot=o.get("no-pivot", False),
                                 no_new_keyring=o.get("no-new-keyring", False),
                                 preserve_fds=o.get("preserve-fds", 0), listen_fds=_listen_fds())


def _listen_fds():
    """systemd socket activation, as runc's create and run (go-systemd's activation.Files): LISTEN_FDS
    fds from 3 on are the process's too, when LISTEN_PID is this process (the front end execs us)."""
    env = oslite.startup_environ
    try:
        if int(env.get("LISTEN_PID", "")) != oslite.getpid():
            return 0
        return max(int(env.get("LISTEN_FDS", "")), 0)
    except ValueError:
        return 0


def do_start(g, o, pos):
    _container(g, pos[0]).start()


def do_state(g, o, pos):
    from pyrunc import jsonlite
    sys.stdout.write(jsonlite.pretty(_container(g, pos[0]).state()) + "\n")


def do_kill(g, o, pos):
    # an empty signal is the default one, as runc's `kill ID ""`
    _container(g, pos[0]).kill(pos[1] if len(pos) > 1 and pos[1] else "TERM", o.get("all", False))


def do_delete(g, o, pos):
    _container(g, pos[0]).delete(o.get("force", False))


def do_run(g, o, pos):
    return _container(g, pos[0]).run(
        o.get("bundle", "."), detach=o.get("detach", False), keep=o.get("keep", False),
        subreaper=not o.get("no-subreaper", False), pid_file=o.get("pid-file"),
        console_socket=o.get("console-socket"), no_pivot=o.get("no-pivot", False),
        no_new_keyring=o.get("no-new-keyring", False), preserve_fds=o.get("preserve-fds", 0),
        listen_fds=_listen_fds())


def do_exec(g, o, pos):
    if not o.get("process") and len(pos) < 2:
        raise Error("process args cannot be empty")
    return _container(g, pos[0]).exec(
        pos[1:], process=o.get("process"), detach=o.get("detach", False), tty=o.get("tty", False),
        console_socket=o.get("console-socket"), cwd=o.get("cwd"), env=o.get("env", ()), user=o.get("user"),
        additional_gids=o.get("additional-gids", ()), caps=o.get("cap", ()), no_new_privs=o.get("no-new-privs"),
        pid_file=o.get("pid-file"), preserve_fds=o.get("preserve-fds", 0),
        ignore_paused=o.get("ignore-paused", False), cgroup=o.get("cgroup", ()), apparmor=o.get("apparmor"),
        process_label=o.get("process-label"))


def do_list(g, o, pos):
    from pyrunc import jsonlite
    fmt = o.get("format", "table")
    if fmt not in ("table", "json"):
        raise Usage(f"invalid format {fmt!r}: use table or json")
    from pyrunc.api import states
    items = states(g.get("root"), _rootless(g))
    if o.get("quiet"):
        sys.stdout.write("".join(s["id"] + "\n" for s in items))
    elif fmt == "json":
        sys.stdout.write(jsonlite.dumps(items) + "\n")
    else:
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]] for s in items]
        widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(6)]
        for r in rows:
            sys.stdout.write("".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + r[-1] + "\n")


def do_check(g, o, pos):
    from pyrunc.api import check
    fmt = o.get("format", "text")
    if fmt not in ("text", "json"):
        raise Usage(f"invalid format {fmt!r}: use text or json")
    report = check(o.get("bundle", "."), rootless=_rootless(g), systemd=bool(g.get("systemd-cgroup")))
    if fmt == "json":
        from pyrunc import jsonlite
        sys.stdout.write(jsonlite.pretty(report.to_dict()) + "\n")
    else:
        sys.stdout.write(report.text())
    return 0 if report.ok else 1


def do_trace(g, o, pos):
    c = _container(g, pos[0])
    sys.stdout.write(trace.report(c.saved_trace()))


def do_features(g, o, pos):
    import json
    from pyrunc.api import features
    sys.stdout.write(json.dumps(features(), indent=4) + "\n")


def do_spec(g, o, pos):
    from pyrunc.api import write_spec
    write_spec(o.get("bundle", "."), o.get("rootless", False))


def do_pause(g, o, pos):
    _container(g, pos[0]).pause()


def do_resume(g, o, pos):
    _container(g, pos[0]).resume()


def do_update(g, o, pos):
    from pyrunc import cgroupcli
    c = _container(g, pos[0])
    c.state()        # an unknown id is reported before stdin is read
    c.update(cgroupcli.request(o))


def do_ps(g, o, pos):
    from pyrunc import cgroupcli
    cgroupcli.ps(_container(g, pos[0]).root, pos[0], o.get("format", "table"), pos[1:])


def do_events(g, o, pos):
    from pyrunc import cgroupcli
    cgroupcli.events(_container(g, pos[0]).root, pos[0], o.get("interval", "5s"), o.get("stats", False))


HANDLERS = {"create": do_create, "start": do_start, "state": do_state, "kill": do_kill,
            "delete": do_delete, "run": do_run, "exec": do_exec, "list": do_list, "spec": do_spec,
            "features": do_features, "check": do_check, "trace": do_trace,
            "pause": do_pause, "resume": do_resume, "update": do_update, "ps": do_ps, "events": do_events}
