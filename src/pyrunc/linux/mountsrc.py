"""Bind sources as detached clones (init process), and opened with the host's credentials for an init in a user namespace (CLI process, through a forked helper).

The container's root in a user namespace checks paths as its mapped uid: a
bind source below a directory only the host's root may enter is out of its
reach, and idmapping a host filesystem needs privileges over that
filesystem's own user namespace.  As runc does (its mount source thread),
the runtime opens such a source itself: a child of the CLI, which keeps the
host's credentials, joins the init's mount namespace (not its user
namespace), so that the path means what it means to the init at that
moment (a source below an earlier mount sees that mount), and opens it
there.  A plain source goes back as an O_PATH fd, which the init clones
itself: a clone made in its own namespace keeps the flags the kernel locked
there (a read-only, nosuid... source mount stays so).  An idmapped source
goes back as the detached, idmapped clone the helper made.
"""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.linux import syscalls as S
from pyrunc.process import messages as M
from pyrunc.process.channel import Channel, ChannelClosed

CLONE = S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC


def clone_source(m, source, flags, src_fd=None):
    """A detached clone of source (or of src_fd, an fd of it), recursive with MS_REC, idmapped
    through m["userns_fd"] if the mount has one ("ridmap": the whole tree)."""
    rec = S.AT_RECURSIVE if flags & S.MS_REC else 0
    if src_fd is None:
        tree = S.open_tree(S.AT_FDCWD, source, CLONE | rec)
    else:
        tree = S.open_tree(src_fd, "", CLONE | S.AT_EMPTY_PATH | rec)
    if m.get("userns_fd") is not None:
        try:
            S.mount_setattr(tree, "", S.AT_EMPTY_PATH | (S.AT_RECURSIVE if "ridmap" in m["extensions"] else 0),
                            attr_set=S.MOUNT_ATTR_IDMAP, userns_fd=m["userns_fd"])
        except BaseException:
            oslite.close(tree)
            raise
    return tree


def open_for_init(init_pidfd, m):
    """(fd, None) or (None, reason): mount m's source opened in the init's mount namespace with
    our credentials (an idmapped mount: its detached clone; else an O_PATH fd)."""
    mine, theirs = Channel.pair()
    pid = oslite.fork()
    if pid == 0:
        code = 1
        try:
            mine.close()
            code = _helper(init_pidfd, m, theirs)
        finally:
            oslite._exit(code)
    theirs.close()
    try:
        msg, fds = mine.recv()
    except ChannelClosed:
        msg, fds = {"error": "the helper that opens mount sources died"}, []
    finally:
        mine.close()
        oslite.waitpid(pid, 0)
    return (fds[0], None) if fds else (None, msg.get("error", "no fd"))


def _helper(init_pidfd, m, chan):
    try:
        S.setns(init_pidfd, S.CLONE_NEWNS)
        if m.get("userns_fd") is not None:
            fd = clone_source(m, m["source"], m["flags"])
        else:
            fd = oslite.open(m["source"], oslite.O_PATH | oslite.O_CLOEXEC)
    except OSError as e:
        chan.send(M.MOUNT_FD, error=e.strerror or str(e))
        return 1
    chan.send(M.MOUNT_FD, fds=[fd])
    return 0
