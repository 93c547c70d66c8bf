"""The root filesystem executor (init process): mounts, /dev, pivot_root, read-only and masked paths.

Every target inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS) from an fd of the rootfs, and every mount is made
detached (open_tree, fsmount), given its attributes through its own fd and
moved onto the target's fd: no symlink in the image, and no symlink swapped
in while we work, can redirect a mount outside the container or a follow-up
step (read-only, propagation) onto another mount (CVE-2021-30465,
CVE-2024-45310, CVE-2025-31133, CVE-2025-52565).  Needs Linux >= 5.12
(mount_setattr); there is no mount(2) fallback.
"""
import errno
from pyrunc import oslite  # posix without os.py: see oslite
import stat

from pyrunc.errors import Error
from pyrunc.linux import lsm, mountsrc
from pyrunc.linux import syscalls as S
from pyrunc.linux.mountplan import DEVICE_TYPES

IN_ROOT = S.RESOLVE_IN_ROOT | S.RESOLVE_NO_MAGICLINKS
O_PATH = oslite.O_PATH | oslite.O_CLOEXEC
NULL_DEV = oslite.makedev(1, 3)
MOVE_FD_TO_FD = S.MOVE_MOUNT_F_EMPTY_PATH | S.MOVE_MOUNT_T_EMPTY_PATH
CLONE = S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC
# mount(2) flags that are superblock parameters for fsconfig(2) (MS_SILENT and
# MS_I_VERSION have none: one only quiets the kernel log, the other is the filesystem's)
_SB_FLAGS = ((S.MS_RDONLY, "ro"), (S.MS_SYNCHRONOUS, "sync"), (S.MS_DIRSYNC, "dirsync"),
             (S.MS_LAZYTIME, "lazytime"), (S.MS_MANDLOCK, "mand"))


def fdpath(fd):
    return f"/proc/self/fd/{fd}"


def resolve(root_fd, path, flags=O_PATH):
    """An fd of `path` (container-absolute) resolved inside the root; OSError if it is missing."""
    return S.openat2(root_fd, path, flags, IN_ROOT)


def ensure(root_fd, path, is_dir=True, mode=0o755):
    """Resolve `path` inside the root, creating what is missing on the way (the file too, if not is_dir).

    Symlinks met on the way are followed inside the root, even dangling ones
    (runc's SecureJoin + MkdirAll): their targets are created inside the
    root.  Every directory is created relative to an fd that openat2
    resolved in the root, so nothing outside can be touched.
    """
    try:
        return resolve(root_fd, path)
    except FileNotFoundError:
        pass
    todo = [p for p in path.split("/") if p]
    done = []
    links = 0
    while todo:
        name = todo.pop(0)
        if name == ".":
            continue
        if name == "..":
            if done:
                done.pop()
            continue
        parent = resolve(root_fd, "/" + "/".join(done))
        try:
            try:
                st = oslite.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                if todo or is_dir:
                    oslite.mkdir(name, mode, dir_fd=parent)
                else:
                    oslite.close(oslite.open(name, oslite.O_CREAT | oslite.O_EXCL | oslite.O_WRONLY | oslite.O_CLOEXEC, 0o644,
                                     dir_fd=parent))
                done.append(name)
                continue
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > 40:
                    raise OSError(errno.ELOOP, oslite.strerror(errno.ELOOP), path)
                target = oslite.readlink(name, dir_fd=parent)
                if target.startswith("/"):
                    done = []
                todo[:0] = [p for p in target.split("/") if p]
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, oslite.strerror(errno.ENOTDIR), "/" + "/".join(done + [name]))
            done.append(name)
        finally:
            oslite.close(parent)
    return resolve(root_fd, "/" + "/".join(done))


# ---------------------------------------------------------------- before pivot
def prepare_root(rootfs, propagation):
    """Set / propagation, make the rootfs's parent private and the rootfs a mount point of its own."""
    S.mount("", "/", None, propagation or (S.MS_SLAVE | S.MS_REC))
    _make_parent_private(rootfs)
    S.mount(rootfs, rootfs, None, S.MS_BIND | S.MS_REC)
    return oslite.open(rootfs, oslite.O_PATH | oslite.O_DIRECTORY | oslite.O_CLOEXEC)


def _make_parent_private(rootfs):
    # pivot_root refuses a shared parent mount, and an unbindable one (rootfsPropagation
    # unbindable) cannot be bound from; find the mount holding rootfs
    found = S.mount_of(rootfs)
    if found is not None:
        point, propagation = found
        shared = bool(propagation & (S.MS_SHARED | S.MS_UNBINDABLE))
    else:
        with open("/proc/self/mountinfo") as f:
            point, shared = holding_mount(f.read(), rootfs)
    if point and shared:
        S.mount("", point, None, S.MS_PRIVATE)


def holding_mount(mountinfo_text, path):
    """(mount point, shared or unbindable?) of the mount whose point is the longest prefix of path,
    the last listed of those stacked there (kernels without statmount)."""
    best, shared = "", False
    for line in mountinfo_text.splitlines():
        mp = line.split(" ", 5)[4]
        if len(mp) >= len(best) and (path == mp or path.startswith(mp.rstrip("/") + "/")):
            best = mp
            tags = line.split(" - ")[0].split()[6:]
            shared = any(t.startswith("shared:") or t == "unbindable" for t in tags)
    return best, shared


def mount_all(root_fd, mounts, cgroup_plan, in_userns, host_source=None, label=""):
    """Mount the config's mounts, in order; returns the fds of the mounts whose read-only waits (/dev).

    host_source(i): an fd the runtime opened for mount i's source with the host's credentials
    (see _source_tree); asked for only in a user namespace.  label: SELinux's mount label (the
    planned mounts' data already has it; the cgroup tmpfs and mqueue get it here, as runc)."""
    deferred_ro = []
    for i, m in enumerate(mounts):
        ask = (lambda i=i: host_source(i)) if host_source and in_userns else None
        try:
            mnt = _mount_one(root_fd, m, cgroup_plan, ask, label)
        except (OSError, Error) as e:
            reason = e.strerror if isinstance(e, OSError) else e
            raise Error(f"mount {m['source'] or m['type']} on {m['dest']}: {reason}") from None
        if mnt is not None:
            deferred_ro.append(mnt)
    return deferred_ro


# Every step after a mount is made acts on the fd of the mount it made, never
# on its destination looked up again: a path component swapped for a symlink
# meanwhile turned runc's read-only remount onto another mount and left a host
# directory writable (CVE-2021-30465 class).  Binds are detached clones
# (open_tree) given their attributes before they are moved onto the target's
# fd; other filesystems are built detached with fsopen/fsconfig/fsmount.
def _mount_one(root_fd, m, cgroup_plan, ask_host=None, label=""):
    if m["kind"] == "bind":
        _bind(root_fd, m, m["source"], m["flags"], ask_host)
    elif m["kind"] == "cgroup":
        _mount_cgroup(root_fd, m, cgroup_plan, label)
    else:
        return _mount_fs(root_fd, m, label)
    return None


def _bind(root_fd, m, source, flags, ask_host=None):
    """A detached clone of source with its attributes (and idmap) set, moved onto the destination."""
    tree = _source_tree(m, source, flags, ask_host)
    try:
        target = ensure(root_fd, m["dest"], is_dir=stat.S_ISDIR(oslite.fstat(tree).st_mode))
        try:
            _check_proc_bind(m, target, tree)
            # options that only clear flags (rw, suid, exec...) leave the source's flags alone, as
            # runc 1.1 does (runc 1.2+ remounts then, dropping a source's nosuid, nodev, noexec)
            if flags & ~(S.MS_BIND | S.MS_REC | S.MS_REMOUNT):
                _set_bind_flags(tree, flags, m["clear"])
            S.move_mount(tree, "", target, "", MOVE_FD_TO_FD)
        finally:
            oslite.close(target)
        _finish(tree, m)
    finally:
        oslite.close(tree)


def _source_tree(m, source, flags, ask_host):
    """A detached clone of the bind's source, idmapped if the mount asks for it.

    In a user namespace (ask_host given), a source the container's root may not reach, and
    every idmapped source, comes from the runtime, which opens it with the host's
    credentials in our mount namespace at this moment (linux/mountsrc.py)."""
    if m.get("userns_fd") is not None and ask_host:
        return ask_host()
    try:
        return mountsrc.clone_source(m, source, flags)
    except PermissionError:
        if not ask_host:
            raise
    src = ask_host()
    try:
        return mountsrc.clone_source(m, source, flags, src)
    finally:
        oslite.close(src)


def bind_attrs(flags):
    """(attr_set, attr_clr) that leave a bind's top mount as mount(2) with MS_BIND|MS_REMOUNT and
    these flags leaves it (runc's remount of a bind): ro, nosuid, nodev, noexec and nosymfollow
    exactly as given; with any atime flag the atime field too (relatime unless noatime,
    strictatime over both, nodiratime as given), else the source's atime is kept."""
    attr_set = 0
    for ms, attr in _MS_TO_ATTR:
        if flags & ms and attr & _BIND_ATTRS:
            attr_set |= attr
    attr_clr = _BIND_ATTRS & ~attr_set
    if flags & MS_ATIME_FLAGS:
        attr_clr |= S.MOUNT_ATTR__ATIME
        if flags & S.MS_STRICTATIME:
            attr_set |= S.MOUNT_ATTR_STRICTATIME
        elif flags & S.MS_NOATIME:
            attr_set |= S.MOUNT_ATTR_NOATIME
        if flags & S.MS_NODIRATIME:
            attr_set |= S.MOUNT_ATTR_NODIRATIME
        else:
            attr_clr |= S.MOUNT_ATTR_NODIRATIME
    return attr_set, attr_clr


def _set_bind_flags(tree, flags, cleared):
    """bind_attrs(flags) on the detached tree.  Where the kernel refuses because the source's
    flags are locked (a mount this user namespace inherited: its ro, nosuid, nodev, noexec and
    atime cannot be dropped), those flags are kept, as runc 1.2+ does, unless the config
    explicitly clears one of them or asks for another atime."""
    try:
        S.mount_setattr(tree, "", S.AT_EMPTY_PATH, *bind_attrs(flags))
        return
    except PermissionError:
        pass
    src = _source_flags(tree)
    locked = src & MS_LOCK_FLAGS
    if cleared & locked:
        raise Error(f"cannot clear locked flags {_flag_names(cleared & locked)}")
    if flags & MS_ATIME_FLAGS and flags & MS_ATIME_FLAGS != src & MS_ATIME_FLAGS:
        raise Error(f"cannot change locked atime flags {_flag_names(src & MS_ATIME_FLAGS)}")
    S.mount_setattr(tree, "", S.AT_EMPTY_PATH, *bind_attrs(flags | locked))


# statvfs(3)'s f_flag bits -> mount(2) flags (calculate_f_flags in fs/statfs.c)
_ST_TO_MS = ((1, S.MS_RDONLY), (2, S.MS_NOSUID), (4, S.MS_NODEV), (8, S.MS_NOEXEC), (1024, S.MS_NOATIME),
             (2048, S.MS_NODIRATIME), (4096, S.MS_RELATIME), (0x2000, S.MS_NOSYMFOLLOW))
MS_ATIME_FLAGS = S.MS_NOATIME | S.MS_RELATIME | S.MS_STRICTATIME | S.MS_NODIRATIME
# what a mount inherited into a less privileged user namespace has locked (MNT_LOCK_*)
MS_LOCK_FLAGS = S.MS_RDONLY | S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC | MS_ATIME_FLAGS
_FLAG_NAMES = ((S.MS_RDONLY, "ro"), (S.MS_NOSUID, "nosuid"), (S.MS_NODEV, "nodev"), (S.MS_NOEXEC, "noexec"),
               (S.MS_NOATIME, "noatime"), (S.MS_RELATIME, "relatime"), (S.MS_STRICTATIME, "strictatime"),
               (S.MS_NODIRATIME, "nodiratime"), (S.MS_NOSYMFOLLOW, "nosymfollow"))


def _source_flags(fd):
    """The mount(2) flags of the mount fd is on (strictatime: no other atime flag, as runc reads it)."""
    st = oslite.fstatvfs(fd).f_flag
    flags = 0
    for st_bit, ms in _ST_TO_MS:
        if st & st_bit:
            flags |= ms
    if not flags & (S.MS_NOATIME | S.MS_RELATIME):
        flags |= S.MS_STRICTATIME
    return flags


def _flag_names(flags):
    return ",".join(name for ms, name in _FLAG_NAMES if flags & ms)


def _finish(mnt, m):
    """Propagation and the recursive attributes (rro...) on the attached mount the fd names."""
    for p in m["propagation"]:
        S.mount_setattr(mnt, "", S.AT_EMPTY_PATH | (S.AT_RECURSIVE if p & S.MS_REC else 0),
                        propagation=p & ~S.MS_REC)
    if m["attr_set"] or m["attr_clr"]:
        S.mount_setattr(mnt, "", S.AT_EMPTY_PATH | S.AT_RECURSIVE, m["attr_set"], m["attr_clr"])


def _place(mnt, target):
    """Move the detached mount mnt onto what the target fd is; closes mnt."""
    try:
        S.move_mount(mnt, "", target, "", MOVE_FD_TO_FD)
    finally:
        oslite.close(mnt)


def new_mount(fstype, source, flags, data):
    """A detached mount of a new fstype instance (fsopen, fsconfig, fsmount): its fd.

    The flags also become the mount's attributes (ro, nosuid, nodev, noexec, atime)."""
    fs = fs_context(fstype, source, flags, data)
    try:
        S.fsconfig(fs, S.FSCONFIG_CMD_CREATE)
        return S.fsmount(fs, S.FSMOUNT_CLOEXEC, mount_attrs(flags)[0])
    finally:
        oslite.close(fs)


def fs_context(fstype, source, flags, data):
    """An fsopen fd of fstype with every parameter set, nothing created yet (`check` stops here).

    data goes option by option as mount(2) would split it; the flags become the
    superblock's (ro, sync...)."""
    fs = S.fsopen(fstype, S.FSOPEN_CLOEXEC)
    try:
        for ms, key in _SB_FLAGS:
            if flags & ms:
                S.fsconfig(fs, S.FSCONFIG_SET_FLAG, key)
        S.fsconfig(fs, S.FSCONFIG_SET_STRING, "source", source)
        for opt in _data_options(fstype, data):
            key, eq, value = opt.partition("=")
            if eq:
                S.fsconfig(fs, S.FSCONFIG_SET_STRING, key, value)
            else:
                S.fsconfig(fs, S.FSCONFIG_SET_FLAG, key)
    except BaseException:
        oslite.close(fs)
        raise
    return fs


def _data_options(fstype, data):
    """mount(2) data split as the kernel splits it: at each comma, but SELinux takes its
    quoted context out whole and overlayfs's own parser keeps a backslash-escaped comma
    (in a lowerdir path)."""
    if fstype != "overlay":
        return lsm.split_data(data)
    out, cur, escaped = [], "", False
    for ch in data:
        if ch == "," and not escaped:
            out.append(cur)
            cur = ""
        else:
            cur += ch
        escaped = ch == "\\" and not escaped
    return [o for o in out + [cur] if o]


def _mount_fs(root_fd, m, label=""):
    """A new filesystem on the destination; returns its fd if its read-only waits (else None)."""
    _refuse_symlinked(root_fd, m)
    flags = m["flags"]
    # /dev stays writable until its devices and console exist (runc does the same)
    ro_later = m["dest"] == "/dev" and flags & S.MS_RDONLY
    copyup = "tmpcopyup" in m["extensions"]
    target = ensure(root_fd, m["dest"])
    try:
        _check_proc_target(m, target)
        mnt = new_mount(m["type"], m["source"] or m["type"], flags & ~S.MS_RDONLY if ro_later or copyup else flags,
                        m["data"])
        try:
            if label and m["type"] == "mqueue":
                # mqueue takes no context= (runc's label.SetFileLabel on it instead)
                oslite.setxattr(f"/proc/self/fd/{mnt}", lsm.XATTR, label.encode())
            if copyup:
                _copy_up(target, mnt, flags & S.MS_RDONLY)
            S.move_mount(mnt, "", target, "", MOVE_FD_TO_FD)
            _finish(mnt, m)
        except BaseException:
            oslite.close(mnt)
            raise
    finally:
        oslite.close(target)
    if ro_later:
        return mnt
    oslite.close(mnt)
    return None


# Destinations whose content the runtime itself trusts afterwards (procfs
# writes, device nodes, masking): an image must not redirect them with a
# symlink, even one that stays inside the rootfs (CVE-2019-16884,
# CVE-2023-27561, CVE-2025-52881; /dev: CVE-2026-41579).
_NO_SYMLINKS = ("/proc", "/sys", "/dev")


def _refuse_symlinked(root_fd, m):
    if m["type"] not in ("proc", "sysfs") and m["dest"] not in _NO_SYMLINKS:
        return
    try:
        oslite.close(S.openat2(root_fd, m["dest"], O_PATH, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS))
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        if m["type"] in ("proc", "sysfs"):
            raise _not_ordinary(m) from None
        raise Error("the destination is a symlink in the image; refused") from None


def _check_proc_target(m, target):
    # procfs and sysfs only on a real directory (CVE-2019-19921: /proc as a symlink)
    if m["type"] in ("proc", "sysfs") and not stat.S_ISDIR(oslite.fstat(target).st_mode):
        raise _not_ordinary(m)


# runc's checkProcMount for binds: onto /proc only procfs, below it only onto the files lxcfs
# emulates.  Any other bind there would redirect what the runtime itself writes under /proc: a
# bind of the host's /proc/sys/kernel/core_pattern onto /proc/sys/net/ipv4/ip_forward turns the
# sysctl net.ipv4.ip_forward into a write of the host's core_pattern (CVE-2025-52881 class).
# Decided by the target's filesystem too, so that a destination that reaches /proc through the
# image's symlinks is caught.  (A new filesystem there, a tmpfs, holds no procfs file to redirect
# a write to, and each procfs write checks that it lands on procfs: allowed, as runc does.)
PROC_FILES_ALLOWED = frozenset(("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                                "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
                                "/proc/sys/kernel/ns_last_pid"))


def _check_proc_bind(m, target, tree):
    """Refuse a bind onto /proc that is not of procfs, or onto anything below /proc but lxcfs's files."""
    if m["dest"] == "/proc":
        if S.fstatfs_type(tree) != S.PROC_SUPER_MAGIC:
            raise Error("/proc may only get a bind of procfs")
    elif (m["dest"].startswith("/proc/") or S.fstatfs_type(target) == S.PROC_SUPER_MAGIC) \
            and m["dest"] not in PROC_FILES_ALLOWED:
        raise Error("the destination is inside /proc, where only the files lxcfs emulates may be bound")


def _not_ordinary(m):
    """runc's words for a procfs or sysfs destination that is not a plain directory."""
    return Error(f'filesystem "{m["type"]}" must be mounted on ordinary directory')


def _copy_up(target, mnt, readonly):
    """Seed the detached tmpfs with what the image has under the target (runc/crun's tmpcopyup),
    through its mount fd, and make it read-only there if asked: all before it is mounted."""
    src = oslite.open(fdpath(target), oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_CLOEXEC)
    try:
        _copy_dir(src, mnt)
    finally:
        oslite.close(src)
    if readonly:
        # the superblock too, as a remount would (fspick: the context of a mounted instance)
        fs = S.fspick(mnt, "", S.FSPICK_EMPTY_PATH | S.FSPICK_CLOEXEC)
        try:
            S.fsconfig(fs, S.FSCONFIG_SET_FLAG, "ro")
            S.fsconfig(fs, S.FSCONFIG_CMD_RECONFIGURE)
        finally:
            oslite.close(fs)
        set_readonly(mnt)


def _copy_dir(src, dst):
    """Copy a directory tree fd-to-fd, keeping modes, owners, symlinks and device nodes."""
    for entry in oslite.scandir(src):
        name = entry.name
        st = entry.stat(follow_symlinks=False)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            oslite.mkdir(name, 0o700, dir_fd=dst)
            s = oslite.open(name, oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_NOFOLLOW | oslite.O_CLOEXEC, dir_fd=src)
            d = oslite.open(name, oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_NOFOLLOW | oslite.O_CLOEXEC, dir_fd=dst)
            try:
                _copy_dir(s, d)
            finally:
                oslite.close(s)
                oslite.close(d)
        elif stat.S_ISLNK(st.st_mode):
            oslite.symlink(oslite.readlink(name, dir_fd=src), name, dir_fd=dst)
        elif stat.S_ISREG(st.st_mode):
            s = oslite.open(name, oslite.O_RDONLY | oslite.O_NOFOLLOW | oslite.O_CLOEXEC, dir_fd=src)
            d = oslite.open(name, oslite.O_WRONLY | oslite.O_CREAT | oslite.O_EXCL | oslite.O_CLOEXEC, 0o600, dir_fd=dst)
            try:
                while oslite.sendfile(d, s, None, 1 << 20) > 0:
                    pass
            finally:
                oslite.close(s)
                oslite.close(d)
        elif not stat.S_ISSOCK(st.st_mode):
            oslite.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst)
        else:
            continue
        oslite.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            oslite.chmod(name, mode, dir_fd=dst)


def _mount_cgroup(root_fd, m, cg, label=""):
    """/sys/fs/cgroup in the container: the container's own cgroup, never the host's tree."""
    flags = m["flags"] & ~S.MS_REMOUNT
    if cg["mode"] == "unified":
        if not cg["cgroupns"]:
            _bind(root_fd, m, cg["hierarchies"][0]["dir"], flags | S.MS_BIND | S.MS_REC)
            return
        mnt = new_mount("cgroup2", "cgroup2", flags, "")
    else:
        # v1 or hybrid: a tmpfs with one directory per hierarchy, read-only at the end
        mnt = new_mount("tmpfs", "tmpfs", (flags & ~S.MS_RDONLY) | S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC,
                        lsm.mount_data("mode=755", label))
    try:
        target = ensure(root_fd, m["dest"])
        try:
            S.move_mount(mnt, "", target, "", MOVE_FD_TO_FD)
        finally:
            oslite.close(target)
        if cg["mode"] != "unified":
            _fill_cgroup_tmpfs(mnt, cg, flags)
        _finish(mnt, m)
    finally:
        oslite.close(mnt)


def _fill_cgroup_tmpfs(tmpfs, cg, flags):
    """The hierarchies below the (attached) tmpfs, reached through its fd only."""
    for h in cg["hierarchies"]:
        oslite.mkdir(h["name"], 0o755, dir_fd=tmpfs)
        if cg["cgroupns"]:
            fstype = "cgroup2" if h["v2"] else "cgroup"
            mnt = new_mount(fstype, fstype, flags, "" if h["v2"] else h["options"])
        else:
            # made read-only (and nosuid...) together with the tmpfs, below
            mnt = S.open_tree(S.AT_FDCWD, h["dir"], CLONE | S.AT_RECURSIVE)
        sub = oslite.open(h["name"], O_PATH | oslite.O_DIRECTORY | oslite.O_NOFOLLOW, dir_fd=tmpfs)
        try:
            _place(mnt, sub)
        finally:
            oslite.close(sub)
        for link in h["links"]:
            try:
                oslite.symlink(h["name"], link, dir_fd=tmpfs)
            except FileExistsError:
                pass
    # one recursive mount_setattr for the tmpfs and every hierarchy below it, on its own fd
    # (the binds keep their flags otherwise)
    S.mount_setattr(tmpfs, "", S.AT_EMPTY_PATH | S.AT_RECURSIVE,
                    *mount_attrs(flags | S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC))


# mount(2) flags -> mount_setattr(2) attributes; the atime ones replace the whole atime
# field, the first found winning as in mount(2): strictatime over noatime over relatime
_MS_TO_ATTR = ((S.MS_RDONLY, S.MOUNT_ATTR_RDONLY), (S.MS_NOSUID, S.MOUNT_ATTR_NOSUID),
               (S.MS_NODEV, S.MOUNT_ATTR_NODEV), (S.MS_NOEXEC, S.MOUNT_ATTR_NOEXEC),
               (S.MS_NODIRATIME, S.MOUNT_ATTR_NODIRATIME), (S.MS_NOSYMFOLLOW, S.MOUNT_ATTR_NOSYMFOLLOW))
_MS_ATIME = ((S.MS_STRICTATIME, S.MOUNT_ATTR_STRICTATIME), (S.MS_NOATIME, S.MOUNT_ATTR_NOATIME),
             (S.MS_RELATIME, S.MOUNT_ATTR_RELATIME))
# what a bind remount sets or clears whatever it is given
_BIND_ATTRS = (S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV | S.MOUNT_ATTR_NOEXEC
               | S.MOUNT_ATTR_NOSYMFOLLOW)


def mount_attrs(flags):
    """(attr_set, attr_clr) that give a mount tree these mount(2) flags."""
    attr_set = attr_clr = 0
    for ms, attr in _MS_TO_ATTR:
        if flags & ms:
            attr_set |= attr
    for ms, attr in _MS_ATIME:
        if flags & ms:
            attr_set |= attr
            attr_clr |= S.MOUNT_ATTR__ATIME
            break
    return attr_set, attr_clr


def create_devices(root_fd, devices, in_userns):
    old_umask = oslite.umask(0)
    try:
        for d in devices:
            try:
                _create_device(root_fd, d, in_userns)
            except OSError as e:
                raise Error(f"create device {d['path']}: {e.strerror}") from None
    finally:
        oslite.umask(old_umask)


def _create_device(root_fd, d, in_userns):
    parent_path, name = oslite.path.split(d["path"])
    parent = ensure(root_fd, parent_path)
    try:
        if in_userns:
            # mknod is not allowed in a user namespace: bind the host's node
            try:
                oslite.close(oslite.open(name, oslite.O_CREAT | oslite.O_EXCL | oslite.O_WRONLY | oslite.O_CLOEXEC, 0o644,
                                 dir_fd=parent))
            except FileExistsError:
                pass
            target = resolve(root_fd, d["path"])
            try:
                _place(S.open_tree(S.AT_FDCWD, d["path"], CLONE), target)
            finally:
                oslite.close(target)
            return
        mode = DEVICE_TYPES[d["type"]] | d["mode"]
        try:
            oslite.mknod(name, mode, oslite.makedev(d["major"], d["minor"]), dir_fd=parent)
        except FileExistsError:
            return
        oslite.chown(name, d["uid"], d["gid"], dir_fd=parent, follow_symlinks=False)
    finally:
        oslite.close(parent)


def create_dev_links(root_fd, links):
    dev = resolve(root_fd, "/dev")
    try:
        for target, path in links:
            try:
                oslite.symlink(target, oslite.path.basename(path), dir_fd=dev)
            except FileExistsError:
                pass
        # /dev/ptmx must be the container's own devpts multiplexer
        try:
            oslite.unlink("ptmx", dir_fd=dev)
        except FileNotFoundError:
            pass
        oslite.symlink("pts/ptmx", "ptmx", dir_fd=dev)
    finally:
        oslite.close(dev)


# ---------------------------------------------------------------- the switch
def pivot(root_fd):
    """pivot_root into the rootfs and detach the old root (runc's pivot_root(".", ".") dance)."""
    old = oslite.open("/", oslite.O_DIRECTORY | oslite.O_RDONLY | oslite.O_CLOEXEC)
    try:
        oslite.fchdir(root_fd)
        S.pivot_root(".", ".")
        oslite.fchdir(old)
        # the old root must not propagate its unmount back to the host
        S.mount("", ".", None, S.MS_SLAVE | S.MS_REC)
        S.umount2(".", S.MNT_DETACH)
    finally:
        oslite.close(old)
    oslite.chdir("/")


def set_root_propagation(propagation):
    """rootfsPropagation shared/unbindable, on the new / (runc 1.4).  Before the switch the
    rootfs is bound below a parent made private (pivot_root needs that), so it is private;
    private and slave need nothing more."""
    if propagation & (S.MS_SHARED | S.MS_UNBINDABLE):
        S.mount("", "/", None, propagation)


def chroot_into(root_fd):
    """No mount namespace of its own: chroot, as runc does.  pivot_root would swap the root of
    every process in the caller's namespace, and detaching the old root would take it from them."""
    oslite.fchdir(root_fd)
    oslite.chroot(".")
    oslite.chdir("/")


def move_root(rootfs):
    """--no-pivot: move the rootfs over / and chroot into it (for ramfs roots, where pivot_root fails)."""
    _detach_outside(rootfs)
    oslite.chdir(rootfs)
    S.mount(rootfs, "/", None, S.MS_MOVE)
    oslite.chroot(".")
    oslite.chdir("/")


def _detach_outside(rootfs):
    # Without pivot_root the old mounts stay in the namespace: unmount those
    # not inside (and not holding) the rootfs, deepest first.
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    inside = rootfs.rstrip("/") + "/"
    for mp in sorted(set(points), key=len, reverse=True):
        if mp == rootfs or mp.startswith(inside) or inside.startswith(mp.rstrip("/") + "/"):
            continue
        try:
            S.mount("", mp, None, S.MS_SLAVE | S.MS_REC)
            S.umount2(mp, S.MNT_DETACH)
        except OSError:
            pass


# ---------------------------------------------------------------- after pivot
def set_readonly(mnt):
    """Make the mount that mnt is an fd of read-only (that mount only, as a bind remount would)."""
    S.mount_setattr(mnt, "", S.AT_EMPTY_PATH, S.MOUNT_ATTR_RDONLY)


def finish_readonly(mounts):
    """The deferred read-only of mount_all's mounts (/dev), each through its own fd; closes them."""
    for mnt in mounts:
        try:
            set_readonly(mnt)
        finally:
            oslite.close(mnt)


def readonly_root():
    root = _root()
    try:
        set_readonly(root)
    finally:
        oslite.close(root)


def _root():
    return oslite.open("/", oslite.O_PATH | oslite.O_DIRECTORY | oslite.O_CLOEXEC)


def _existing(root, paths):
    """An fd of each path that exists inside the container's root (closed once the caller moves on)."""
    for p in paths:
        try:
            fd = resolve(root, p)
        except FileNotFoundError:
            continue
        try:
            yield p, fd
        finally:
            oslite.close(fd)


def readonly_paths(paths):
    root = _root()
    try:
        for _p, fd in _existing(root, paths):
            # the clone is made read-only while detached, then covers the path (whole subtree)
            tree = S.open_tree(fd, "", CLONE | S.AT_EMPTY_PATH | S.AT_RECURSIVE)
            try:
                S.mount_setattr(tree, "", S.AT_EMPTY_PATH | S.AT_RECURSIVE, S.MOUNT_ATTR_RDONLY)
                S.move_mount(tree, "", fd, "", MOVE_FD_TO_FD)
            finally:
                oslite.close(tree)
    finally:
        oslite.close(root)


def masked_paths(paths, label=""):
    """Hide paths: directories under an empty read-only tmpfs (with SELinux's mount label, as
    runc's maskPath), files under the real /dev/null."""
    root = _root()
    null = None
    try:
        for _p, fd in _existing(root, paths):
            if stat.S_ISDIR(oslite.fstat(fd).st_mode):
                _place(new_mount("tmpfs", "tmpfs", S.MS_RDONLY, lsm.mount_data("", label)), fd)
            else:
                if null is None:
                    null = _real_dev_null(root)
                _place(S.open_tree(null, "", CLONE | S.AT_EMPTY_PATH), fd)
    finally:
        oslite.close(root)
        if null is not None:
            oslite.close(null)


def _real_dev_null(root):
    """/dev/null of the container, checked to be the null device, not a symlink or a file (CVE-2025-31133)."""
    fd = S.openat2(root, "/dev/null", O_PATH | oslite.O_NOFOLLOW, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)
    st = oslite.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != NULL_DEV:
        oslite.close(fd)
        raise Error("/dev/null in the container is not the null device")
    return fd


def bind_console(slave):
    """/dev/console becomes the container's pty (runtime-spec), never through a symlink (CVE-2025-52565)."""
    root = _root()
    try:
        dev = S.openat2(root, "/dev", O_PATH | oslite.O_DIRECTORY, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)
    finally:
        oslite.close(root)
    try:
        try:
            oslite.close(oslite.open("console", oslite.O_CREAT | oslite.O_EXCL | oslite.O_WRONLY | oslite.O_NOFOLLOW | oslite.O_CLOEXEC,
                             0o600, dir_fd=dev))
        except FileExistsError:
            pass
        target = S.openat2(dev, "console", O_PATH, S.RESOLVE_BENEATH | S.RESOLVE_NO_SYMLINKS)
    except OSError as e:
        oslite.close(dev)
        raise Error(f"/dev/console: {e.strerror} (a symlink there is refused)") from None
    try:
        if stat.S_ISDIR(oslite.fstat(target).st_mode):
            raise Error("/dev/console is a directory")
        _place(S.open_tree(slave, "", CLONE | S.AT_EMPTY_PATH), target)
    finally:
        oslite.close(target)
        oslite.close(dev)


def write_proc(path, value):
    """Write a /proc file after checking it really is on procfs (CVE-2019-16884, CVE-2025-52881)."""
    root = _root()
    try:
        fd = S.openat2(root, path, oslite.O_WRONLY | oslite.O_NOFOLLOW,
                       S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS | S.RESOLVE_NO_MAGICLINKS)
    finally:
        oslite.close(root)
    try:
        if S.fstatfs_type(fd) != S.PROC_SUPER_MAGIC:
            raise Error(f"{path} is not on procfs")
        oslite.write(fd, value.encode())
    finally:
        oslite.close(fd)
