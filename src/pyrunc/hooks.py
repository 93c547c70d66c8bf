"""OCI hooks: each run with the state JSON on stdin, its own args, env and timeout (CLI and init processes)."""
from pyrunc import oslite  # posix without os.py: see oslite
import select
import time

from pyrunc import OCI_VERSION, frontabi, jsonlite
from pyrunc.errors import Error
from pyrunc.linux import memfd

MAX_OUTPUT = 16 << 10


def state_json(base, status, pid):
    """The runtime-spec state a hook reads on stdin, from a container's saved state."""
    return jsonlite.dumps({"ociVersion": OCI_VERSION, "id": base["id"], "status": status, "pid": pid,
                           "bundle": base["bundle"], "annotations": base.get("annotations", {})})


def run_all(kind, hooks, state_json, on_failure=None, env=None, cwd=None):
    """Run the hooks of one kind in order.  A failure raises Error; given on_failure instead
    (poststop, whose failures are only warnings), it gets the Error and the rest still run.

    A hook without `env` gets `env` (a list of NAME=value), by default our own environment
    (runc's exec.Cmd with a nil Env); cwd: where it runs, by default our working directory."""
    for i, hook in enumerate(hooks):
        try:
            run(hook, state_json, f"{kind} hook #{i} ({hook['path']})", env, cwd)
        except Error as e:
            if on_failure is None:
                raise
            on_failure(e)


def run(hook, state_json, what, default_env=None, cwd=None):
    path = hook["path"]
    args = hook.get("args") or [path]
    env = hook["env"] if "env" in hook else _caller_env() if default_env is None else default_env
    env = dict(e.split("=", 1) for e in env if "=" in e)
    timeout = hook.get("timeout")
    # the state comes on stdin from a sealed memfd, not a pipe: a state larger than a
    # pipe's buffer (big annotations) cannot block us before the timeout applies
    state_fd = memfd.sealed(state_json.encode(), "pyrunc-hook-state")
    r_out, w_out = oslite.pipe()
    pid = oslite.fork()
    if pid == 0:
        try:
            oslite.setpgid(0, 0)   # a timeout kills the hook with everything it started
            if cwd:
                oslite.chdir(cwd)
            oslite.dup2(state_fd, 0)
            oslite.dup2(w_out, 1)
            oslite.dup2(w_out, 2)
            oslite.closerange(3, 1 << 20)
            oslite.execve(path, args, env)
        finally:
            oslite._exit(127)
    oslite.close(state_fd)
    oslite.close(w_out)
    oslite.set_blocking(r_out, False)   # a daemon the hook left behind may keep the pipe open
    try:
        status, output = _wait(pid, r_out, timeout)
    finally:
        oslite.close(r_out)
    if status is None:
        raise Error(f"{what}: timed out after {timeout}s")
    if status != 0:
        text = output.decode("utf-8", "replace").strip().replace("\n", " ")
        reason = (f"exit status {oslite.WEXITSTATUS(status)}" if oslite.WIFEXITED(status)
                  else f"killed by signal {oslite.WTERMSIG(status)}")
        if oslite.WIFEXITED(status) and oslite.WEXITSTATUS(status) == 127 and not oslite.access(path, oslite.X_OK):
            reason = "cannot execute: not found or not executable"
        raise Error(f"{what}: {reason}" + (f": {text}" if text else ""))


def _caller_env():
    """The environment we were started with, as the caller gave it: /proc/self/environ, not
    os.environ, to which the interpreter adds LC_CTYPE when it coerces a C locale (PEP 538),
    without the variable the front end added for the CLI (process/early.py)."""
    fd = oslite.open("/proc/self/environ", oslite.O_RDONLY | oslite.O_CLOEXEC)
    try:
        data = b""
        while chunk := oslite.read(fd, 65536):
            data += chunk
    finally:
        oslite.close(fd)
    ours = frontabi.EARLY_BOOTSTRAP_ENV.encode() + b"="
    return [e.decode(errors="surrogateescape") for e in data.split(b"\0") if e and not e.startswith(ours)]


def _wait(pid, out_fd, timeout):
    """(wait status or None on timeout, captured output)."""
    deadline = time.monotonic() + timeout if timeout else None
    pidfd = oslite.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(out_fd, select.POLLIN)
    output = b""
    try:
        while True:
            left = None if deadline is None else max(0, deadline - time.monotonic())
            events = poller.poll(None if left is None else int(left * 1000) + 1)
            if not events and deadline is not None and time.monotonic() >= deadline:
                oslite.killpg(pid, 9)
                oslite.waitpid(pid, 0)
                return None, output
            for fd, ev in events:
                if fd == out_fd:
                    chunk = oslite.read(out_fd, 65536)
                    if chunk:
                        output = (output + chunk)[-MAX_OUTPUT:]
                    else:
                        poller.unregister(out_fd)
                elif fd == pidfd:
                    _, status = oslite.waitpid(pid, 0)
                    try:
                        while len(chunk := oslite.read(out_fd, 65536)) and len(output) < MAX_OUTPUT:
                            output += chunk
                    except BlockingIOError:
                        pass
                    return status, output
    finally:
        oslite.close(pidfd)
