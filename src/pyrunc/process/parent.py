"""Stage 0 (CLI process): adopt or fork stage 1, serve both stages through their channel, clean up on failure."""
import _signal
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import trace
from pyrunc.errors import Error
from pyrunc.process import messages as M
from pyrunc.process.channel import Channel, ChannelClosed


class Stages:
    """The two child stages as the parent sees them."""

    def __init__(self):
        self.stage1 = None
        self.init_pid = None
        self.init_pidfd = None
        self.chan = None
        self.plan = None

    def spawn(self, preserve_fds):
        """Stage 1 now, to import what it needs while we load and check the config: the one the
        front end started for this call (process/early.py), else a fork of ours."""
        from pyrunc.process import early
        started = early.adopt()
        if started:
            self.stage1, fd = started
            self.chan = Channel(fd)
            trace.mark("adopt bootstrap")
            return self
        mine, theirs = Channel.pair()
        pid = oslite.fork()
        if pid == 0:
            mine.close()
            from pyrunc.process.entry import child_main
            child_main(theirs, preserve_fds)   # never returns
        theirs.close()
        self.stage1 = pid
        self.chan = mine
        trace.mark("fork bootstrap")
        return self

    def bootstrap(self, plan):
        """Check the plan against its type (plan.py) and send it, with the fds its fields name
        ({"fds/fifo": fd, "mounts/3/userns_fd": fd, ...}: they land in it over there).

        The plan travels in a sealed memfd: it holds the annotations, whose size
        is the caller's business, and a packet is limited by the socket's buffer."""
        from pyrunc import jsonlite
        from pyrunc import plan as plans
        from pyrunc.linux import memfd
        plans.check(plan)
        self.plan = plan
        fd_slots = plans.fd_slots(plan)
        slots = list(fd_slots)
        blob = memfd.sealed(jsonlite.dumps(plan).encode(), "pyrunc-plan")
        try:
            self.chan.send(M.BOOTSTRAP, fds=[blob] + [fd_slots[s] for s in slots], slots=slots)
        finally:
            oslite.close(blob)

    def wait_ready(self, on_userns=None, on_setup=None, on_pid=None):
        """Serve the stages until the init (or exec's stage 1) reports READY; returns the init's pid
        (None for exec: its process exists only once pyrunc-init forks it, see wait_exec)."""
        while True:
            try:
                msg, fds = self.chan.recv()
            except ChannelClosed:
                raise Error(self._death_reason()) from None
            t = msg["type"]
            if t == M.ERROR:
                raise Error(msg["msg"])
            if t == M.USERNS:
                on_userns(self.stage1)
                self.chan.send(M.USERNS_MAPPED)
            elif t == M.INIT_PID:
                trace.extend(msg.get("marks", ()))
                self.init_pid = msg["pid"]
                self.init_pidfd = oslite.pidfd_open(self.init_pid)
                self.chan.close()
                self.chan = Channel(fds[0])
                self._reap_stage1()
                if on_pid:
                    on_pid(self.init_pid)
            elif t == M.MOUNT_SOURCE:
                self._send_mount_source(msg["index"])
            elif t == M.RUNTIME_SETUP:
                on_setup(msg["kinds"], self.init_pid)
                self.chan.send(M.SETUP_DONE)
            elif t == M.READY:
                trace.extend(msg.get("marks", ()))
                return self.init_pid
            else:
                raise Error(f"unexpected message {t} from the init")

    def _send_mount_source(self, index):
        from pyrunc.linux import mountsrc
        fd, error = mountsrc.open_for_init(self.init_pidfd, self.plan["mounts"][index])
        if fd is None:
            self.chan.send(M.MOUNT_FD, error=error)
            return
        try:
            self.chan.send(M.MOUNT_FD, fds=[fd])
        finally:
            oslite.close(fd)

    def commit(self):
        """Let the init go on (to wait for `start`, or to exec) and drop our end of the channel."""
        self.chan.send(M.COMMIT)
        self.chan.close()
        self.chan = None
        if self.init_pidfd is not None:
            oslite.close(self.init_pidfd)
            self.init_pidfd = None

    def wait_exec(self, report_fd):
        """exec: stage 1, now pyrunc-init, forks the process and exits; its pid (or error) is in the report page."""
        from pyrunc.linux import initabi
        _, status = oslite.waitpid(self.stage1, 0)
        self.stage1 = None
        page = oslite.pread(report_fd, initabi.REPORT_SIZE, 0)
        if status == 0:
            return int.from_bytes(page[:4], "little", signed=True)
        msg = page[8:].split(b"\0", 1)[0].decode("utf-8", "replace")
        raise Error(msg or f"pyrunc-init failed ({_describe(status)})")

    def _reap_stage1(self):
        if self.stage1:
            _, status = oslite.waitpid(self.stage1, 0)
            self.stage1 = None
            if status != 0:
                raise Error(f"bootstrap process failed ({_describe(status)})")

    def _death_reason(self):
        if self.stage1:
            _, status = oslite.waitpid(self.stage1, 0)
            self.stage1 = None
            return f"container init exited before it was ready ({_describe(status)})"
        return "container init exited before it was ready"

    def kill(self):
        """Make sure neither stage survives a failed create."""
        if self.init_pidfd is not None:
            try:
                _signal.pidfd_send_signal(self.init_pidfd, 9)
            except ProcessLookupError:
                pass
            oslite.close(self.init_pidfd)
            self.init_pidfd = None
        if self.stage1:
            kill_and_reap(self.stage1)
            self.stage1 = None
        if self.chan is not None:
            self.chan.close()
            self.chan = None


def kill_and_reap(pid):
    """SIGKILL a stage 1 of ours (gone already or not) and reap it."""
    try:
        oslite.kill(pid, 9)
    except ProcessLookupError:
        pass
    oslite.waitpid(pid, 0)


def _describe(status):
    if oslite.WIFSIGNALED(status):
        return f"killed by signal {oslite.WTERMSIG(status)}"
    return f"exit status {oslite.WEXITSTATUS(status)}"


def run_runtime_hooks(kinds, hook_table, state_json, cwd=None):
    from pyrunc import hooks
    for kind in kinds:
        hooks.run_all(kind, hook_table.get(kind, ()), state_json, cwd=cwd)
