"""`run` (CLI process): create and start; in the foreground relay signals and the tty, wait, clean up."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import console, create, jsonlite, lifecycle


def run(host, cid, bundle, detach=False, keep=False, subreaper=True, console_socket=None, **create_opts):
    local_tty = _wants_terminal(bundle) and not detach and not console_socket
    ours = theirs = None
    # in the foreground without a terminal, pipes of ours (runc's too): see console.stdio_pipes
    pipes, their_pipes = console.stdio_pipes() if not (detach or local_tty or console_socket) else (None, [])
    if local_tty:
        ours, theirs = console.local_pair()
    try:
        pid = create.create(host, cid, bundle, console_socket=console_socket, detach=detach,
                            subreaper=subreaper, console_fd=theirs, stdio=their_pipes, **create_opts)
    except BaseException:
        _close(pipes or ())
        raise
    finally:
        _close([fd for fd in [theirs, *their_pipes] if fd is not None])
    try:
        master = console.recv_master(ours) if local_tty else None
        lifecycle.start(host, cid)
        if detach:
            return 0
        relayed, pipes = pipes, None    # wait_foreground closes them
        return console.wait_foreground(pid, master, relayed)
    finally:
        _close(pipes or ())
        if ours is not None:
            ours.close()
        if not detach and not keep:
            lifecycle.delete(host, cid, force=True)


def _close(fds):
    for fd in fds:
        oslite.close(fd)


def _wants_terminal(bundle):
    """process.terminal, looked up ahead of create, which checks the whole config and words its errors
    (its typed parse, a second time here, would cost 1 ms)."""
    try:
        with open(oslite.path.join(bundle or ".", "config.json"), "rb") as f:
            return jsonlite.loads(f.read()).get("process", {}).get("terminal") is True
    except (OSError, ValueError, AttributeError):
        return False
