"""Container state on disk (CLI process): <root>/<id>/ with a lock, state.json, exec.fifo and the front end's facts.

The status is never stored: it is derived from live facts each time
(the init's pid and start time, the exec fifo, the freezer).
"""
import fcntl
from pyrunc import oslite as os  # posix without os.py: see oslite
import time

from pyrunc import OCI_VERSION, jsonlite
from pyrunc.errors import Error, NotExist

STATE_FILE = "state.json"
FIFO = "exec.fifo"
FACTS = "fast"                 # read by the installed command's front end (csrc/pyrunc_front.c)
START_TRACE = "trace.start"    # the front end's marks of a `start` it did itself
# The id names the state directory <root>/<id> and, by default, a cgroup directory: one file name
NAME_MAX = 255
# create builds <root>/<id> under this name, '@' being outside the id alphabet: a temporary is never a
# container (a container named ".<id>.<pid>" once was swept as one by `delete --force <id>`)
TEMPORARY = "@creating."
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
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise Error(f"{what} {path}: {e.strerror}") from None
    if st.st_mode & _S_IFMT != _S_IFDIR:
        raise Error(f"{what} {path} is not a directory")
    if st.st_uid != os.geteuid():
        raise Error(f"{what} {path} is owned by uid {st.st_uid}, not by uid {os.geteuid()} (the caller): "
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


class Container:
    """One container's state directory; use as a context manager to hold its lock."""

    def __init__(self, root, cid):
        validate_id(cid)
        check_private_dir(root, "state root")
        self.root = root
        self.id = cid
        self.dir = os.path.join(root, cid)
        self.data = None
        self._lockfd = None

    # -- locking ---------------------------------------------------------
    def lock(self, blocking=True):
        try:
            fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotExist(self.id) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise Error(f"container {self.id} is busy: another pyrunc command holds its lock") from None
        self._lockfd = fd
        return self

    def unlock(self):
        if self._lockfd is not None:
            os.close(self._lockfd)
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
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        check_private_dir(self.root, "state root")   # again: it may have appeared since __init__
        self.sweep_temporary()
        # the pid tells the sweep whether the creator lives; the random part keeps two creates
        # of one process (API threads) apart
        tmp = os.path.join(self.root, f"{TEMPORARY}{os.getpid()}.{os.urandom(8).hex()}")
        os.mkdir(tmp, 0o711)
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.mkfifo(os.path.join(tmp, FIFO), 0o600)
            rename_noreplace(tmp, self.dir)
        except BaseException as e:
            for name in os.listdir(tmp):
                os.unlink(os.path.join(tmp, name))
            os.rmdir(tmp)
            os.close(fd)
            if isinstance(e, FileExistsError):
                raise Error(f"container with id {self.id} already exists") from None
            raise
        self._lockfd = fd
        return self

    def sweep_temporary(self):
        """Remove the half-built directories of creates that were killed before their rename."""
        for name in os.listdir(self.root):
            if not name.startswith(TEMPORARY):
                continue
            pid = name[len(TEMPORARY):].partition(".")[0]
            if not pid.isdigit():
                continue
            if os.path.exists(f"/proc/{pid}"):
                continue    # its creator may be between mkdir and flock: never sweep a live pid's
            path = os.path.join(self.root, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue    # its creator is alive
            finally:
                os.close(fd)
            for entry in os.listdir(path):
                os.unlink(os.path.join(path, entry))
            os.rmdir(path)

    def save(self, data):
        """Atomically replace state.json."""
        self.data = data
        os.replace_file(os.path.join(self.dir, STATE_FILE), jsonlite.dumps(data).encode())

    # -- reading ---------------------------------------------------------
    def load(self):
        try:
            with open(os.path.join(self.dir, STATE_FILE), "rb") as f:
                self.data = jsonlite.loads(f.read())
        except FileNotFoundError:
            if not os.path.isdir(self.dir):
                raise NotExist(self.id) from None
            self.data = {}   # a create that never finished: only `delete --force` applies
        return self.data

    def exists(self):
        return os.path.isdir(self.dir)

    @property
    def fifo(self):
        return os.path.join(self.dir, FIFO)

    def status(self):
        """creating, created, running, paused or stopped, from live facts."""
        d = self.data
        if not d or d.get("creating"):
            return "creating" if d and alive(d.get("pid"), d.get("pid_start")) else "stopped"
        if not alive(d["pid"], d["pid_start"]):
            return "stopped"
        if self.frozen():
            return "paused"   # runc: a paused container is paused even before `start`
        if os.path.exists(self.fifo):
            return "created"
        return "running"

    def frozen(self):
        freezer = _freezer((self.data or {}).get("cgroup") or {})
        if freezer is None:
            return False
        path, thawed = freezer
        try:
            with open(path) as f:
                return f.read().strip() != thawed   # v1 FREEZING counts as frozen, as runc
        except OSError:
            return False

    def save_facts(self):
        """Write (or drop) what the front end needs to start or delete this container without Python."""
        text = fast_facts(self.data)
        path = os.path.join(self.dir, FACTS)
        if text is not None:
            os.replace_file(path, text.encode())
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def saved_trace(self):
        """The marks create and start recorded; a start done by the front end left its own file."""
        marks = dict((self.data or {}).get("trace", {}))
        if "start" not in marks:
            try:
                with open(os.path.join(self.dir, START_TRACE)) as f:
                    marks["start"] = [(stage, int(ns)) for stage, ns in
                                      (line.rsplit(" ", 1) for line in f.read().splitlines())]
            except (OSError, ValueError):
                pass
        return marks

    def oci_state(self):
        """The runtime-spec state object, as `state` prints it."""
        d = self.data or {}
        status = self.status()
        out = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": d.get("pid", 0) if status != "stopped" else 0,
            "status": status,
            "bundle": d.get("bundle", ""),
            "rootfs": d.get("rootfs", ""),
            "created": d.get("created", ""),
            "owner": "",
        }
        if d.get("annotations"):
            out["annotations"] = d["annotations"]
        return out

    def remove(self):
        """Delete the state directory and everything in it."""
        for name in os.listdir(self.dir):
            p = os.path.join(self.dir, name)
            if os.path.isdir(p) and not os.path.islink(p):
                for r, dirs, files in os.walk(p, topdown=False):
                    for x in files:
                        os.unlink(os.path.join(r, x))
                    for x in dirs:
                        os.rmdir(os.path.join(r, x))
                os.rmdir(p)
            else:
                os.unlink(p)
        os.rmdir(self.dir)
        self.unlock()


def _freezer(cg):
    """[freezer file, its content when thawed] the cgroup driver recorded, or None."""
    if "freezer" in cg or not cg:
        return cg.get("freezer")
    # a state.json from before drivers recorded it: ask the driver (only then loaded)
    from pyrunc import cgroups
    return cgroups.from_state(cg).freezer()


def fast_facts(data):
    """The facts file of a created container (format: csrc/pyrunc_front.c), or None.

    start-ok and delete-ok say that the command has nothing to do but the
    fifo write or the removal: no hook to run, a process to start.  No facts
    for a container still being created, or with a newline in a path (the
    format is one fact per line).
    """
    if not data or data.get("creating") or not data.get("pid"):
        return None
    cg = data.get("cgroup") or {}
    config = data.get("config", {})
    hooks = config.get("hooks", {})
    lines = [f"pid {data['pid']}", f"start {data['pid_start']}"]
    freezer = _freezer(cg)
    if freezer:
        lines.append(f"thawed {freezer[1]} {freezer[0]}")
    lines += [f"cgroup {d}" for d in cg.get("dirs", {}).values()]
    if config.get("process") and not hooks.get("poststart"):
        lines.append("start-ok")
    if not hooks.get("poststop"):
        lines.append("delete-ok")
    if any("\n" in line for line in lines):
        return None
    return "".join(line + "\n" for line in lines)


def now_rfc3339nano():
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"


def list_ids(root):
    check_private_dir(root, "state root")
    try:
        # other names (the seccomp cache, "@seccomp") are not containers
        return sorted(n for n in os.listdir(root) if is_id(n) and os.path.isdir(os.path.join(root, n)))
    except FileNotFoundError:
        return []
