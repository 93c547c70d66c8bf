"""`run` (CLI process): create and start; in the foreground relay signals and the tty, wait, clean up."""
import os

from pyrunc import console, create, lifecycle, spec


def run(host, cid, bundle, detach=False, keep=False, subreaper=True, console_socket=None, **create_opts):
    terminal = spec.load(os.path.abspath(bundle)).get("process", {}).get("terminal", False)
    local_tty = terminal and not detach and not console_socket
    ours = theirs = None
    if local_tty:
        ours, theirs = console.local_pair()
    try:
        pid = create.create(host, cid, bundle, console_socket=console_socket, detach=detach,
                            subreaper=not detach and subreaper, console_fd=theirs, **create_opts)
    finally:
        if theirs is not None:
            os.close(theirs)
    try:
        master = console.recv_master(ours) if local_tty else None
        lifecycle.start(host, cid)
        if detach:
            return 0
        return console.wait_foreground(pid, master)
    finally:
        if ours is not None:
            ours.close()
        if not detach and not keep:
            lifecycle.delete(host, cid, force=True)
