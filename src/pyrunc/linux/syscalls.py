"""Python face of the C extension (init and CLI processes): constants, and calls that raise OSError."""
from pyrunc import oslite  # posix without os.py: see oslite
import sys

from pyrunc._native import ffi, lib

# clone/unshare flags
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
MNT_DETACH = 0x2

# mount_setattr(2) attributes and open_tree(2)/move_mount(2) flags
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_NOSYMFOLLOW = 0x200000
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = oslite.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
AT_FDCWD = -100

# fsopen(2), fsconfig(2), fsmount(2), fspick(2)
FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSPICK_CLOEXEC = 0x1
FSPICK_EMPTY_PATH = 0x8
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSCONFIG_CMD_RECONFIGURE = 7

# openat2(2) resolve flags
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

CLOSE_RANGE_CLOEXEC = 1 << 2

# prctl(2)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5
KEYCTL_DESCRIBE = 6
KEY_USR_SEARCH = 0x00080000


def check(ret, what=None):
    """Raise OSError for a negative (-errno) result, else return it."""
    if ret < 0:
        raise OSError(-ret, oslite.strerror(-ret), what)
    return ret


def unshare(flags):
    check(lib.pr_unshare(flags), "unshare")


def setns(fd, nstype=0):
    check(lib.pr_setns(fd, nstype), "setns")


def mount(source, target, fstype, flags=0, data=None):
    check(lib.pr_mount(_b(source), target.encode(), _b(fstype), flags, _b(data)), target)


def umount2(target, flags=0):
    check(lib.pr_umount2(target.encode(), flags), target)


def pivot_root(new_root, put_old):
    check(lib.pr_pivot_root(new_root.encode(), put_old.encode()), "pivot_root")


def openat2(dirfd, path, flags, resolve, mode=0):
    return check(lib.pr_openat2(dirfd, path.encode(), flags | oslite.O_CLOEXEC, mode, resolve), path)


def close_range(first, last, flags=0):
    check(lib.pr_close_range(first, last, flags), "close_range")


def sethostname(name):
    b = name.encode()
    check(lib.pr_sethostname(b, len(b)), "sethostname")


def setdomainname(name):
    b = name.encode()
    check(lib.pr_setdomainname(b, len(b)), "setdomainname")


def personality(persona):
    return check(lib.pr_personality(persona), "personality")


def prctl(option, a2=0, a3=0, a4=0, a5=0):
    return check(lib.pr_prctl(option, a2, a3, a4, a5), "prctl")


def keyctl(cmd, a2=0, a3=0, a4=0, a5=0):
    return check(lib.pr_keyctl(cmd, a2, a3, a4, a5), "keyctl")


def join_session_keyring(name):
    """A new session keyring named `name` (so containers do not share the host's)."""
    buf = ffi.new("char[]", name.encode())
    return check(lib.pr_keyctl(KEYCTL_JOIN_SESSION_KEYRING, int(ffi.cast("uintptr_t", buf)), 0, 0, 0),
                 "keyctl(JOIN_SESSION_KEYRING)")


def key_permissions(key):
    """The permission mask of a key (KEYCTL_DESCRIBE's "type;uid;gid;perm;description")."""
    buf = ffi.new("char[]", 4096)
    n = check(lib.pr_keyctl(KEYCTL_DESCRIBE, key, int(ffi.cast("uintptr_t", buf)), 4096, 0), "keyctl(DESCRIBE)")
    return int(ffi.string(buf, max(n - 1, 0)).decode().split(";")[3], 16)


def set_key_permissions(key, perm):
    check(lib.pr_keyctl(KEYCTL_SETPERM, key, perm, 0, 0), "keyctl(SETPERM)")



def open_tree(dirfd, path, flags):
    return check(lib.pr_open_tree(dirfd, path.encode(), flags), path or "open_tree")


def move_mount(from_fd, from_path, to_fd, to_path, flags):
    check(lib.pr_move_mount(from_fd, from_path.encode(), to_fd, to_path.encode(), flags),
          to_path or "move_mount")


def mount_setattr(dirfd, path, flags, attr_set=0, attr_clr=0, propagation=0, userns_fd=0):
    check(lib.pr_mount_setattr(dirfd, path.encode(), flags, attr_set, attr_clr, propagation,
                               userns_fd), path or "mount_setattr")


def fsopen(fstype, flags):
    return check(lib.pr_fsopen(fstype.encode(), flags), fstype)


def fsconfig(fd, cmd, key=None, value=None):
    check(lib.pr_fsconfig(fd, cmd, _b(key), _b(value), 0), key or "fsconfig")


def fsmount(fd, flags, attr_flags):
    return check(lib.pr_fsmount(fd, flags, attr_flags), "fsmount")


def fspick(dirfd, path, flags):
    return check(lib.pr_fspick(dirfd, path.encode(), flags), path or "fspick")


def sched_setattr(pid, policy, flags, nice, priority, runtime, deadline, period):
    check(lib.pr_sched_setattr(pid, policy, flags, nice, priority, runtime, deadline, period),
          "sched_setattr")


def ioprio_set(which, who, ioprio):
    check(lib.pr_ioprio_set(which, who, ioprio), "ioprio_set")


def set_mempolicy(mode, nodes):
    """mode (with its flags) over the node numbers given; the mask's bit count is one more than
    its bits, the kernel's historic off-by-one (it decrements maxnode first)."""
    words = [0] * (max(nodes, default=0) // 64 + 1)
    for n in nodes:
        words[n // 64] |= 1 << (n % 64)
    mask = ffi.new("unsigned long[]", words) if nodes else ffi.NULL
    check(lib.pr_set_mempolicy(mode, mask, 64 * len(words) + 1 if nodes else 0), "set_mempolicy")


def _b(s):
    return ffi.NULL if s is None else s.encode()


PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572
TMPFS_MAGIC = 0x01021994
CGROUP_SUPER_MAGIC = 0x27E0EB
CGROUP2_SUPER_MAGIC = 0x63677270


RENAME_NOREPLACE = 1


def rename_noreplace(old, new):
    check(lib.pr_renameat2(-100, old.encode(), -100, new.encode(), RENAME_NOREPLACE), new)



def fstatfs_type(fd):
    return check(lib.pr_fstatfs_type(fd), "fstatfs")


STATX_MNT_ID = 0x1000
STATX_MNT_ID_UNIQUE = 0x4000
AT_SYMLINK_NOFOLLOW = 0x100
AT_NO_AUTOMOUNT = 0x800


def _statx_mnt_id(path, flags, mask):
    """(the mount id statx reports for path, did this kernel fill that field?); None if statx failed."""
    mnt_id = ffi.new("uint64_t *")
    got = lib.pr_statx_mnt_id(AT_FDCWD, path.encode(errors="surrogateescape"), flags, mask, mnt_id)
    return None if got < 0 else (mnt_id[0], bool(got & mask))


def lookup_mount_id(path):
    """The id (mountinfo's first field) of the mount a lookup of path lands on; None if it lands
    nowhere (a covering mount without that path, no search permission)."""
    found = _statx_mnt_id(path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID)
    if found is None:
        return None
    if not found[1]:
        from pyrunc.errors import Error
        raise Error(f"statx {path}: this kernel reports no mount ids (Linux 5.8 or later does)")
    return found[0]


STATMOUNT_MNT_BASIC = 0x2
STATMOUNT_MNT_POINT = 0x10
_STATMOUNT_SIZE = 8192       # struct statmount (512 bytes: 6.8's uapi, str[] follows) and a path


def mount_of(path):
    """(mount point, MS_* propagation flags) of the mount `path` is on, asked of the kernel: statx's
    unique mount id, then statmount (6.8+), where mountinfo costs a line per mount of the host
    (a node's hold thousands).  None from an older kernel, or when the kernel will not say (the
    caller then reads mountinfo, as before)."""
    found = _statx_mnt_id(path, 0, STATX_MNT_ID_UNIQUE)
    if found is None or not found[1]:
        return None
    buf = ffi.new("char[]", _STATMOUNT_SIZE)
    want = STATMOUNT_MNT_BASIC | STATMOUNT_MNT_POINT
    if lib.pr_statmount(found[0], want, buf, _STATMOUNT_SIZE) < 0:
        return None
    raw = ffi.buffer(buf, _STATMOUNT_SIZE)

    def u(offset, size):
        return int.from_bytes(raw[offset:offset + size], sys.byteorder)
    if u(8, 8) & want != want:
        return None
    point = raw[512 + u(108, 4):].split(b"\0", 1)[0]
    return point.decode(errors="surrogateescape"), u(72, 8)
