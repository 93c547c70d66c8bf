"""posix plus a few helpers, for the CLI's hot path (every process): what pyrunc uses of os, without os.py.

Importing os costs about 2 ms per call here (os.py runs, and pulls in
_collections_abc, stat and posixpath); start, state, kill and delete are
called several times per container, so the modules they import say
`from pyrunc import oslite` and call posix's functions through it under
os's names.  `oslite.path` behaves as posixpath; the helpers whose
behaviour os does not have carry names of their own (walk_no_follow,
makedirs_all, startup_environ), and tests/unit/test_oslite.py checks
each against os and posixpath.
"""
from posix import *  # noqa: F401,F403  (open, close, read, write, stat, O_* ... exactly os's)
from posix import _exit  # noqa: F401  (not in posix.__all__)
from posix import environ as _environ
from posix import O_CLOEXEC, O_CREAT, O_EXCL, O_NOFOLLOW, O_PATH, O_RDWR, O_WRONLY, close, fstat, getcwd, getpid, lstat, mkdir
from posix import readlink, rename
from posix import scandir, unlink, urandom, write
from posix import open
from posix import fork as _fork
from posix import stat as _stat

_S_IFMT, _S_IFDIR, _S_IFLNK = 0o170000, 0o040000, 0o120000

# the environment the process started with, as str (os.environ also follows putenv; nothing here changes it)
startup_environ = {k.decode(errors="surrogateescape"): v.decode(errors="surrogateescape") for k, v in _environ.items()}


class path:
    """The os.path functions pyrunc uses, with posixpath's semantics."""

    @staticmethod
    def join(a, *parts):
        out = a
        for p in parts:
            if p.startswith("/"):
                out = p
            elif not out or out.endswith("/"):
                out += p
            else:
                out += "/" + p
        return out

    @staticmethod
    def dirname(p):
        i = p.rfind("/") + 1
        head = p[:i]
        if head and head != "/" * len(head):
            head = head.rstrip("/")
        return head

    @staticmethod
    def normpath(p):
        """posixpath.normpath: '.' and '..' folded, repeated slashes collapsed (a leading '//' kept)."""
        if not p:
            return "."
        lead = 2 if p.startswith("//") and not p.startswith("///") else 1 if p.startswith("/") else 0
        parts = []
        for part in p.split("/"):
            if part in ("", "."):
                continue
            if part != ".." or (not lead and not parts) or (parts and parts[-1] == ".."):
                parts.append(part)
            elif parts:
                parts.pop()
        return "/" * lead + "/".join(parts) or "."

    @staticmethod
    def abspath(p):
        return path.normpath(p if p.startswith("/") else path.join(getcwd(), p))

    @staticmethod
    def realpath(p):
        """posixpath.realpath; an existing path is resolved by the kernel (its O_PATH fd's link)."""
        try:
            fd = open(p, O_PATH | O_CLOEXEC)
        except OSError:
            import posixpath    # a missing path: rare, and an error follows
            return posixpath.realpath(p)
        try:
            return readlink(f"/proc/self/fd/{fd}")
        finally:
            close(fd)

    @staticmethod
    def basename(p):
        return p[p.rfind("/") + 1:]

    @staticmethod
    def split(p):
        return path.dirname(p), path.basename(p)

    @staticmethod
    def exists(p):
        try:
            _stat(p)
        except (OSError, ValueError):
            return False
        return True

    @staticmethod
    def isdir(p):
        try:
            return _stat(p).st_mode & _S_IFMT == _S_IFDIR
        except (OSError, ValueError):
            return False

    @staticmethod
    def islink(p):
        try:
            return lstat(p).st_mode & _S_IFMT == _S_IFLNK
        except (OSError, ValueError):
            return False


def fork():
    """posix.fork, a refusal named: `fork: Resource temporarily unavailable` (a pids limit
    reached) is a reason the caller can act on; Python's own OSError names no call."""
    try:
        return _fork()
    except OSError as e:
        raise OSError(e.errno, e.strerror, "fork") from None


def walk_no_follow(top, topdown=True):
    """os.walk(followlinks=False) without error callbacks, except that a symlink to a directory is
    listed among the files, not the directories: a tree removed bottom-up unlinks it, never rmdirs."""
    try:
        entries = list(scandir(top))
    except OSError:
        return
    dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
    files = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
    if topdown:
        yield top, dirs, files
    for d in dirs:
        yield from walk_no_follow(path.join(top, d), topdown)
    if not topdown:
        yield top, dirs, files


def open_stdio():
    """fds 0-2 open: /dev/null in place of one the caller closed (the front end does the same,
    csrc/pyrunc_front.c main), so that no file we open takes a stdio number a container inherits."""
    for fd in (0, 1, 2):
        try:
            fstat(fd)
        except OSError:
            open("/dev/null", O_RDWR)      # the lowest free number: fd


def write_file(p, value):
    """Write a small file (cgroup and /proc knobs) in one write(2)."""
    fd = open(p, O_WRONLY | O_CLOEXEC)
    try:
        write(fd, value.encode())
    finally:
        close(fd)


def replace_file(p, data, mode=0o600):
    """Write a whole file atomically: a temporary beside it, renamed over it (readers see old or new).

    The temporary is always a new file (O_EXCL, under a random name): in a
    directory others can write (a --pid-file in /tmp), whatever was planted
    at a name we would use, a symlink or a hard link to a victim, is never
    opened, let alone truncated.  runc creates its pid file's temporary with
    O_EXCL too."""
    while True:
        tmp = path.join(path.dirname(p), f".{path.basename(p)}.{getpid()}.{urandom(6).hex()}")
        try:
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
            break
        except FileExistsError:
            continue    # planted there (or, at odds of 2^-48, another writer's)
    try:
        try:
            write(fd, data)
        finally:
            close(fd)
        rename(tmp, p)
    except BaseException:
        try:
            unlink(tmp)
        except OSError:
            pass    # the original failure is the one to report
        raise


def makedirs_all(name, mode=0o777, exist_ok=False):
    """os.makedirs, except that every directory it creates gets `mode`, the parents too (as Go's
    os.MkdirAll, which runc uses for its root), not only the leaf."""
    parent = path.dirname(name.rstrip("/"))
    if parent and parent != name and not path.exists(parent):
        makedirs_all(parent, mode, exist_ok=True)
    try:
        mkdir(name, mode)
    except FileExistsError:
        if not exist_ok or not path.isdir(name):
            raise
