"""Stage 1's first code (bootstrap process, a fork of the CLI): shed what it must not hold, import, run."""
import os


def child_main(chan, keep_fds, plan):
    """Runs in the forked child; never returns."""
    try:
        from pyrunc import trace
        from pyrunc.linux import syscalls as S
        # nothing may open /proc/<us>/exe or ptrace us; and we die with the CLI
        S.prctl(S.PR_SET_DUMPABLE, 0)
        S.prctl(S.PR_SET_PDEATHSIG, 9)
        trace.reset()
        # Only stdio, preserved fds and the stage's own fds stay open: the CLI's
        # state-dir lock (a host directory!) and anything its caller leaked go.
        from pyrunc.process.parent import cloexec_ranges
        for lo, hi in cloexec_ranges(3 + plan["fds"]["preserve"], [chan.fileno(), *keep_fds]):
            S.close_range(lo, hi)
        if len(os.listdir("/proc/self/task")) != 1:
            raise RuntimeError("stage 1 is not single-threaded")
        from pyrunc.process import bootstrap, guard, init  # noqa: F401  (everything, before the rails go up)
        guard.block_imports()
        trace.mark("stage1 imports")
        bootstrap.main(chan, plan)
        os._exit(0)
    except BaseException as e:
        from pyrunc.process.init import report
        report(chan, e)
    finally:
        os._exit(1)
