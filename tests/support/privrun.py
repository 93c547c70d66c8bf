"""A private mount namespace with its own tmpfs on /run (or on some of its directories), held open by one sleeping process (test process side).

containerd's runc shim hard-codes /run/containerd/{s,fifo,runc}, and podman
keeps locks and state under /run: every client of the tests runs in one of
these, entered with nsenter, so the host's /run is never touched.  Everything
mounted inside disappears with the namespace when its last process exits.
"""
import os
import signal
import subprocess

HOLD = ('name=$1; shift; for d in "$@"; do mkdir -p "$d" && mount -t tmpfs -o mode=0755,size=256m "$name" "$d" '
        '|| exit 1; done; mkdir -p /run/lock && echo ready && exec sleep 2147483647')


class PrivateRun:
    def __init__(self, name, *dirs, propagation="private"):
        """A tmpfs on each of dirs (default: /run itself) in the new namespace; propagation: of its
        mounts (shared: between the namespace and the containers made in it, never out of it)."""
        # unshare without --fork execs sh (then sleep) in the new namespace: pid = the holder
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", propagation, "--",
                                      "sh", "-c", HOLD, "sh", name, *(dirs or ["/run"])],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, close_fds=True)
        if self.proc.stdout.readline().strip() != b"ready":
            self.proc.wait()
            raise RuntimeError(f"cannot set up a private /run for {name} (exit {self.proc.returncode})")
        self.proc.stdout.close()
        self.pid = self.proc.pid
        self.mnt = os.readlink(f"/proc/{self.pid}/ns/mnt")

    def enter(self, argv):
        """argv run inside the namespace (nsenter execs it: the pid is the program's)."""
        return ["nsenter", f"--mount=/proc/{self.pid}/ns/mnt", "--"] + list(argv)

    def path(self, inside):
        """A path as seen inside the namespace, read from outside."""
        return f"/proc/{self.pid}/root{inside}"

    def mounts(self):
        with open(f"/proc/{self.pid}/mountinfo") as f:
            return {" ".join(line.split()[3:5]) for line in f}

    def pids(self):
        """Every process in the namespace but the holder."""
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit() and int(d) != self.pid:
                try:
                    if os.readlink(f"/proc/{d}/ns/mnt") == self.mnt:
                        out.append(int(d))
                except OSError:
                    pass
        return out

    def close(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.kill()
        self.proc.wait()
