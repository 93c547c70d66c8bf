"""Stage 1's first code (bootstrap process, the front end's or a fork of the CLI): shed what it must not hold, import, run.

Stage 1 is started by the front end beside the CLI (spawned, see
process/early.py) or is a fork of the CLI (child_main); either way its
executable is the host's Python.  It
never enters the container's pid namespace itself, but its fork, stage 2,
does, as the container's init, and runs Python there while it sets the
container up.  A new pid namespace holds nobody else then; a joined one
(a pod whose containers share their pid namespace) holds the other
containers' processes, and one of them with CAP_SYS_PTRACE could open
/proc/<stage 2>/exe and so the host's Python for writing (CVE-2019-5736).
So in that case stage 1 first re-execs itself from a sealed copy of the
interpreter (exeseal), and stage 2 inherits that.
"""
from pyrunc import oslite  # posix without os.py: see oslite
import sys

RESUME = "import sys; sys.path[:0] = {path!r}; from pyrunc.process.entry import resumed; resumed({chan}, {plan})"


def child_main(chan, preserve_fds):
    """Runs in the forked child; never returns.  The plan arrives later, in BOOTSTRAP."""
    def body():
        from pyrunc import trace
        from pyrunc.linux import syscalls as S
        _protect(S)
        _shed(S, cloexec_ranges(3 + preserve_fds, [chan.fileno()]))
        trace.reset()
        _stage1(chan)
    _run_stage(chan, body)


def spawned(parent, chan_fd):
    """Runs in the interpreter the front end started (lib/pyrunc/pyrunc-bootstrap PARENT FD); never returns.

    It holds what the front end's caller passed, as a fork of the CLI would:
    --preserve-fds is only known from the plan, so it sheds those fds then
    (and only those: the ones it opened since are its own)."""
    inherited = _open_fds()
    from pyrunc.linux import syscalls as S
    _protect(S)
    if oslite.getppid() != parent:
        oslite._exit(1)     # the CLI is gone already: PDEATHSIG came too late to matter
    oslite.set_inheritable(chan_fd, False)
    from pyrunc.process.channel import Channel
    chan = Channel(chan_fd)

    def shed(plan):
        first = 3 + plan["fds"]["preserve"]
        _shed(S, [(fd, fd) for fd in inherited if fd >= first and fd != chan_fd])
    _run_stage(chan, lambda: _stage1(chan, shed))


def _stage1(chan, on_plan=None):
    from pyrunc import trace
    path = list(sys.path)
    bootstrap = _rails_up()
    trace.mark("init imports")
    plan = bootstrap.receive_plan(chan)
    bootstrap.take_stdio(plan)
    if on_plan:
        on_plan(plan)
    from pyrunc import exeseal
    if bootstrap.joins_shared_pid_namespace(plan) and not exeseal.running_sealed():
        _reexec_sealed(chan, plan, path)
    bootstrap.main(chan, plan)


def resumed(chan_fd, plan_fd):
    """The same stage 1 after _reexec_sealed, in the sealed interpreter; never returns."""
    from pyrunc.linux import syscalls as S
    S.prctl(S.PR_SET_DUMPABLE, 0)     # execve made us dumpable again
    from pyrunc import jsonlite
    from pyrunc.linux import memfd
    from pyrunc.process.channel import Channel
    chan = Channel(chan_fd)

    def body():
        from pyrunc import trace
        trace.mark("resealed")
        plan = jsonlite.loads(memfd.read_all(plan_fd))
        oslite.close(plan_fd)
        for fd in [chan_fd, *plan["fds"]["received"]]:
            oslite.set_inheritable(fd, False)
        _rails_up().main(chan, plan)
    _run_stage(chan, body)


def _run_stage(chan, body):
    """Run stage 1's body; any failure goes to the parent as one line; never returns."""
    try:
        body()
        oslite._exit(0)
    except BaseException as e:
        from pyrunc.process.init import report
        report(chan, e)
    finally:
        oslite._exit(1)


def _protect(S):
    # nothing may open /proc/<us>/exe or ptrace us; and we die with the CLI
    S.prctl(S.PR_SET_DUMPABLE, 0)
    S.prctl(S.PR_SET_PDEATHSIG, 9)


def _shed(S, ranges):
    # Only stdio, preserved fds and ours stay open: whatever the CLI's caller leaked goes.
    for lo, hi in ranges:
        S.close_range(lo, hi)


def _open_fds():
    """The fds open now, but for the listing's own (closed again by the time they are checked)."""
    fds = []
    for name in oslite.listdir("/proc/self/fd"):
        try:
            oslite.fstat(int(name))
            fds.append(int(name))
        except OSError:
            pass
    return fds


def cloexec_ranges(first, keep):
    """[(lo, hi)] covering every fd >= first except those in keep."""
    out, lo = [], first
    for fd in sorted(set(k for k in keep if k >= first)):
        if fd > lo:
            out.append((lo, fd - 1))
        lo = fd + 1
    out.append((lo, 0xFFFFFFFF))
    return out


def _rails_up():
    """Import everything the stages need, then refuse any further import; the bootstrap module."""
    from pyrunc.linux import procself, proctitle
    procself.pin()
    proctitle.set_title("pyrunc:[1:BOOTSTRAP]")
    if len(oslite.listdir("/proc/self/task")) != 1:
        raise RuntimeError("stage 1 is not single-threaded")
    from pyrunc import exeseal  # noqa: F401  (_reexec_sealed)
    from pyrunc.process import bootstrap, guard, init  # noqa: F401  (everything, before the rails go up)
    guard.block_imports()
    return bootstrap


def _reexec_sealed(chan, plan, path):
    """Become this stage again, from a sealed copy of the interpreter: the plan in a memfd, our fds kept."""
    from pyrunc import exeseal, jsonlite
    from pyrunc.linux import memfd
    from pyrunc.linux.final import exec_init
    python = exeseal.sealed(sys.executable, "pyrunc-python")
    plan_fd = memfd.sealed(jsonlite.dumps(plan).encode(), "pyrunc-plan")
    code = RESUME.format(path=path, chan=chan.fileno(), plan=plan_fd)
    exec_init(python, [sys.executable, "-I", "-S", "-c", code], [],
              pass_fds=[chan.fileno(), plan_fd, *plan["fds"]["received"]])
