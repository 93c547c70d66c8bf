"""`run` (CLI process): create and start; in the foreground relay signals and the tty, wait, clean up."""
import os

from pyrunc import console, spec


def run(rt, cid, o):
    detach = o.get("detach", False)
    bundle = o.get("bundle", ".")
    terminal = spec.load(os.path.abspath(bundle)).get("process", {}).get("terminal", False)
    local_tty = terminal and not detach and not o.get("console-socket")
    ours = theirs = None
    if local_tty:
        ours, theirs = console.local_pair()
    try:
        pid = rt.create(cid, bundle, pid_file=o.get("pid-file"), console_socket=o.get("console-socket"),
                        no_pivot=o.get("no-pivot", False), no_new_keyring=o.get("no-new-keyring", False),
                        preserve_fds=o.get("preserve-fds", 0), detach=detach,
                        subreaper=not detach and not o.get("no-subreaper", False), console_fd=theirs)
    finally:
        if theirs is not None:
            os.close(theirs)
    try:
        master = console.recv_master(ours) if local_tty else None
        rt.start(cid)
        if detach:
            return 0
        return console.wait_foreground(pid, master)
    finally:
        if ours is not None:
            ours.close()
        if not detach and not o.get("keep"):
            rt.delete(cid, force=True)
