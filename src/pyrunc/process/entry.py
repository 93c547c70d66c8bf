"""Stage 1's first code (bootstrap process, a fork of the CLI): shed what it must not hold, import, run."""
import os


def child_main(chan, preserve_fds):
    """Runs in the forked child; never returns.  The plan arrives later, in BOOTSTRAP."""
    try:
        from pyrunc import trace
        from pyrunc.linux import syscalls as S
        # nothing may open /proc/<us>/exe or ptrace us; and we die with the CLI
        S.prctl(S.PR_SET_DUMPABLE, 0)
        S.prctl(S.PR_SET_PDEATHSIG, 9)
        trace.reset()
        # Only stdio, preserved fds and the channel stay open: whatever the CLI's
        # caller leaked goes; the plan's own fds come with BOOTSTRAP.
        from pyrunc.process.parent import cloexec_ranges
        for lo, hi in cloexec_ranges(3 + preserve_fds, [chan.fileno()]):
            S.close_range(lo, hi)
        if len(os.listdir("/proc/self/task")) != 1:
            raise RuntimeError("stage 1 is not single-threaded")
        from pyrunc.process import bootstrap, guard, init  # noqa: F401  (everything, before the rails go up)
        guard.block_imports()
        trace.mark("init imports")
        plan = bootstrap.receive_plan(chan)
        bootstrap.main(chan, plan)
        os._exit(0)
    except BaseException as e:
        from pyrunc.process.init import report
        report(chan, e)
    finally:
        os._exit(1)
