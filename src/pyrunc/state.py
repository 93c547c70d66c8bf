"""Container state on disk (CLI process): <root>/<id>/ with a lock, state.json, exec.fifo and the front end's recipe.

The status is never stored: it is derived from live facts each time
(the init's pid and start time, the exec fifo, the freezer).
"""
import fcntl
from pyrunc import oslite  # posix without os.py: see oslite
import time

from pyrunc import OCI_VERSION, frontabi, jsonlite
from pyrunc.errors import Error, NotExist

STATE_FILE = "state.json"
FIFO = frontabi.FIFO
START_TRACE = frontabi.START_TRACE    # the marks of a `start`, by the front end or Python
# The id names the state directory <root>/<id> and, by default, a cgroup directory: one file name
NAME_MAX = 255
# create builds <root>/<id> under this name, '@' being outside the id alphabet: a temporary is never a
# container (a container named ".<id>.<pid>" once was swept as one by `delete --force <id>`)
TEMPORARY = frontabi.TEMPORARY
_S_IFMT, _S_IFDIR = 0o170000, 0o040000


def is_id(cid):
    """runc's rule: non-empty, [A-Za-z0-9_+.-], and not a path."""
    return bool(cid) and cid not in (".", "..") and all(c.isascii() and (c.isalnum() or c in "_+-.") for c in cid)


def validate_id(cid):
    if not is_id(cid):
        raise Error(f"invalid container id {cid!r}: use letters, digits, '_', '+', '-' and '.'")
    if len(cid) > NAME_MAX:    # ASCII: characters are bytes
        raise Error(f"invalid container id: {len(cid)} characters long, at most {NAME_MAX} "
                    "(it names the state directory)")


def check_private_dir(path, what):
    """Refuse a directory another user could have written into: pyrunc trusts what it finds there.

    Its owner must be the caller's euid (a rootless caller owns its own root)
    and its mode must not let the group or others write; a missing directory
    is fine (pyrunc makes it, 0711).  runc 1.1 and crun 1.8 check nothing.
    """
    try:
        st = oslite.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise Error(f"{what} {path}: {e.strerror}") from None
    if st.st_mode & _S_IFMT != _S_IFDIR:
        raise Error(f"{what} {path} is not a directory")
    if st.st_uid != oslite.geteuid():
        raise Error(f"{what} {path} is owned by uid {st.st_uid}, not by uid {oslite.geteuid()} (the caller): "
                    "refusing to use it")
    if st.st_mode & 0o022:
        raise Error(f"{what} {path} is writable by its group or others (mode {st.st_mode & 0o7777:04o}): "
                    "refusing to use it")


def proc_start_time(pid):
    """(start time in clock ticks, state letter) of a live process, or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return int(fields[19]), fields[0].decode()


def alive(pid, start):
    """Is `pid` still the process that was started at `start` (and not a zombie)?"""
    if not pid:
        return False
    st = proc_start_time(pid)
    return st is not None and st[0] == start and st[1] not in ("Z", "X")


class Host:
    """This host's pyrunc as a command sees it: the state root and the cgroup driver's options."""

    def __init__(self, root, systemd_cgroup=False, rootless=False):
        self.root = root
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless

    def container(self, cid):
        return Container(self.root, cid)


class Container:
    """One container's state directory; use as a context manager to hold its lock."""

    def __init__(self, root, cid):
        validate_id(cid)
        check_private_dir(root, "state root")
        self.root = root
        self.id = cid
        self.dir = oslite.path.join(root, cid)
        self.data = None
        self._lockfd = None

    # -- locking ---------------------------------------------------------
    def lock(self, blocking=True):
        try:
            fd = oslite.open(self.dir, oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_CLOEXEC)
        except FileNotFoundError:
            raise NotExist(self.id) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            oslite.close(fd)
            raise Error(f"container {self.id} is busy: another pyrunc command holds its lock") from None
        self._lockfd = fd
        return self

    def unlock(self):
        if self._lockfd is not None:
            oslite.close(self._lockfd)
            self._lockfd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.unlock()

    # -- creation --------------------------------------------------------
    def reserve(self):
        """Claim the id: the directory appears atomically, already locked, with the exec fifo in it.

        It is built under a temporary name and renamed into place without
        replacing anything, so whoever finds <root>/<id> unlocked knows its
        creator is gone (and not merely about to take the lock)."""
        from pyrunc.linux.syscalls import rename_noreplace
        oslite.makedirs_all(self.root, mode=0o711, exist_ok=True)
        check_private_dir(self.root, "state root")   # again: it may have appeared since __init__
        self.sweep_temporary()
        # the pid tells the sweep whether the creator lives; the random part keeps two creates
        # of one process (API threads) apart
        tmp = oslite.path.join(self.root, f"{TEMPORARY}{oslite.getpid()}.{oslite.urandom(8).hex()}")
        oslite.mkdir(tmp, 0o711)
        fd = oslite.open(tmp, oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            oslite.mkfifo(oslite.path.join(tmp, FIFO), 0o600)
            rename_noreplace(tmp, self.dir)
        except BaseException as e:
            for name in oslite.listdir(tmp):
                oslite.unlink(oslite.path.join(tmp, name))
            oslite.rmdir(tmp)
            oslite.close(fd)
            if isinstance(e, FileExistsError):
                raise Error(f"container with id {self.id} already exists") from None
            raise
        self._lockfd = fd
        return self

    def sweep_temporary(self):
        """Remove the half-built directories of creates that were killed before their rename."""
        for name in oslite.listdir(self.root):
            if not name.startswith(TEMPORARY):
                continue
            pid = name[len(TEMPORARY):].partition(".")[0]
            if not pid.isdigit():
                continue
            if oslite.path.exists(f"/proc/{pid}"):
                continue    # its creator may be between mkdir and flock: never sweep a live pid's
            path = oslite.path.join(self.root, name)
            try:
                fd = oslite.open(path, oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue    # its creator is alive
            finally:
                oslite.close(fd)
            for entry in oslite.listdir(path):
                oslite.unlink(oslite.path.join(path, entry))
            oslite.rmdir(path)

    def save(self, data):
        """Atomically replace state.json, then the front end's recipe derived from it (steps.recipe):
        the one writer of both, so the recipe never says more than the state it follows."""
        from pyrunc import steps
        self.data = data
        oslite.replace_file(oslite.path.join(self.dir, STATE_FILE), jsonlite.dumps(data).encode())
        text = steps.recipe(self.id, data)
        path = oslite.path.join(self.dir, frontabi.RECIPE)
        if text is not None:
            oslite.replace_file(path, text.encode())
            return
        try:
            oslite.unlink(path)
        except FileNotFoundError:
            pass

    def save_start_trace(self, marks):
        """The marks of a `start`, in the file the front end writes when it starts a container itself."""
        oslite.replace_file(oslite.path.join(self.dir, START_TRACE), "".join(f"{s} {t}\n" for s, t in marks).encode())

    # -- reading ---------------------------------------------------------
    def load(self):
        try:
            with open(oslite.path.join(self.dir, STATE_FILE), "rb") as f:
                self.data = jsonlite.loads(f.read())
        except FileNotFoundError:
            if not oslite.path.isdir(self.dir):
                raise NotExist(self.id) from None
            self.data = {}   # a create that never finished: only `delete --force` applies
        return self.data

    def exists(self):
        return oslite.path.isdir(self.dir)

    @property
    def fifo(self):
        return oslite.path.join(self.dir, FIFO)

    def status(self):
        """creating, created, running, paused or stopped, from live facts."""
        d = self.data
        if not d or d.get("creating"):
            return "creating" if d and alive(d.get("pid"), d.get("pid_start")) else "stopped"
        if not alive(d["pid"], d["pid_start"]):
            return "stopped"
        if self.frozen():
            return "paused"   # runc: a paused container is paused even before `start`
        if oslite.path.exists(self.fifo):
            return "created"
        return "running"

    def frozen(self):
        from pyrunc.steps import freezer_of
        freezer = freezer_of((self.data or {}).get("cgroup") or {})
        if freezer is None:
            return False
        path, thawed = freezer[:2]
        try:
            with open(path) as f:
                return f.read().strip() != thawed   # v1 FREEZING counts as frozen, as runc
        except OSError:
            return False

    def saved_trace(self):
        """The marks create and start recorded; a start done by the front end left its own file."""
        marks = dict((self.data or {}).get("trace", {}))
        if "start" not in marks:
            try:
                with open(oslite.path.join(self.dir, START_TRACE)) as f:
                    marks["start"] = [(stage, int(ns)) for stage, ns in
                                      (line.rsplit(" ", 1) for line in f.read().splitlines())]
            except (OSError, ValueError):
                pass
        return marks

    def oci_state(self):
        """The runtime-spec state object, as `state` prints it."""
        return oci_state(self.id, self.data or {}, self.status())

    def remove(self):
        """Delete the state directory and everything in it."""
        for name in oslite.listdir(self.dir):
            p = oslite.path.join(self.dir, name)
            if oslite.path.isdir(p) and not oslite.path.islink(p):
                for r, dirs, files in oslite.walk_no_follow(p, topdown=False):
                    for x in files:
                        oslite.unlink(oslite.path.join(r, x))
                    for x in dirs:
                        oslite.rmdir(oslite.path.join(r, x))
                oslite.rmdir(p)
            else:
                oslite.unlink(p)
        oslite.rmdir(self.dir)
        self.unlock()


def now_rfc3339nano():
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"


def list_ids(root):
    check_private_dir(root, "state root")
    try:
        # other names (the seccomp cache, "@seccomp") are not containers
        return sorted(n for n in oslite.listdir(root) if is_id(n) and oslite.path.isdir(oslite.path.join(root, n)))
    except FileNotFoundError:
        return []


def oci_state(cid, data, status):
    """The runtime-spec state object of a container whose state.json holds `data`, in `status`:
    what `state` prints, and the front end from the recipe (steps.state_sections)."""
    out = {
        "ociVersion": OCI_VERSION,
        "id": cid,
        "pid": data.get("pid", 0) if status != "stopped" else 0,
        "status": status,
        "bundle": data.get("bundle", ""),
        "rootfs": data.get("rootfs", ""),
        "created": data.get("created", ""),
        "owner": "",
    }
    if data.get("annotations"):
        out["annotations"] = data["annotations"]
    return out
