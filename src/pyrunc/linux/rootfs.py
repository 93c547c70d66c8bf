"""The root filesystem executor (init process): mounts, /dev, pivot_root, read-only and masked paths.

Every target inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT |
RESOLVE_NO_MAGICLINKS) from an fd of the rootfs and mounted through
/proc/self/fd/N, so no symlink in the image, and no symlink swapped in while
we work, can redirect a mount outside the container (CVE-2021-30465,
CVE-2024-45310, CVE-2025-31133, CVE-2025-52565).
"""
import errno
import os
import stat

from pyrunc.errors import Error
from pyrunc.linux import syscalls as S
from pyrunc.linux.mountplan import DEVICE_TYPES

IN_ROOT = S.RESOLVE_IN_ROOT | S.RESOLVE_NO_MAGICLINKS
O_PATH = os.O_PATH | os.O_CLOEXEC
NULL_DEV = os.makedev(1, 3)
# statvfs f_flag bits -> mount flags a remount must keep
_STATVFS_TO_MS = ((os.ST_NOSUID, S.MS_NOSUID), (os.ST_NODEV, S.MS_NODEV), (os.ST_NOEXEC, S.MS_NOEXEC),
                  (os.ST_NOATIME, S.MS_NOATIME), (os.ST_NODIRATIME, S.MS_NODIRATIME),
                  (os.ST_RELATIME, S.MS_RELATIME))


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
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                if todo or is_dir:
                    os.mkdir(name, mode, dir_fd=parent)
                else:
                    os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644,
                                     dir_fd=parent))
                done.append(name)
                continue
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > 40:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(name, dir_fd=parent)
                if target.startswith("/"):
                    done = []
                todo[:0] = [p for p in target.split("/") if p]
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), "/" + "/".join(done + [name]))
            done.append(name)
        finally:
            os.close(parent)
    return resolve(root_fd, "/" + "/".join(done))


def kept_flags(path):
    """The flags of the mount at path that a bind remount must repeat (locked in user namespaces)."""
    f = os.statvfs(path).f_flag
    out = 0
    for st_flag, ms_flag in _STATVFS_TO_MS:
        if f & st_flag:
            out |= ms_flag
    return out


# ---------------------------------------------------------------- before pivot
def prepare_root(rootfs, propagation):
    """Set / propagation, make the rootfs's parent private and the rootfs a mount point of its own."""
    S.mount("", "/", None, propagation or (S.MS_SLAVE | S.MS_REC))
    _make_parent_private(rootfs)
    S.mount(rootfs, rootfs, None, S.MS_BIND | S.MS_REC)
    return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def _make_parent_private(rootfs):
    # pivot_root refuses a shared parent mount, and an unbindable one (rootfsPropagation
    # unbindable) cannot be bound from; find the mount holding rootfs
    best = ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if (rootfs == mp or rootfs.startswith(mp.rstrip("/") + "/")) and len(mp) > len(best):
                best = mp
                tags = line.split(" - ")[0].split()[6:]
                shared = any(t.startswith("shared:") or t == "unbindable" for t in tags)
    if best and shared:
        S.mount("", best, None, S.MS_PRIVATE)


def mount_all(root_fd, mounts, cgroup_plan, in_userns):
    deferred_ro = []
    for m in mounts:
        try:
            ro_later = _mount_one(root_fd, m, cgroup_plan, in_userns)
        except OSError as e:
            raise Error(f"mount {m['source'] or m['type']} on {m['dest']}: {e.strerror}") from None
        if ro_later:
            deferred_ro.append(m)
    return deferred_ro


def _mount_one(root_fd, m, cgroup_plan, in_userns):
    kind = m["kind"]
    flags = m["flags"]
    if kind == "bind":
        src_mode = os.stat(m["source"]).st_mode
        target = ensure(root_fd, m["dest"], is_dir=stat.S_ISDIR(src_mode))
        try:
            if m.get("userns_fd") is not None:
                _mount_idmapped(m, target)
            else:
                S.mount(m["source"], fdpath(target), None, S.MS_BIND | (flags & S.MS_REC))
        finally:
            os.close(target)
        extra = flags & ~(S.MS_BIND | S.MS_REC | S.MS_REMOUNT)
        if extra:
            _remount_bind(root_fd, m["dest"], extra, m["source"])
        ro_later = False
    elif kind == "cgroup":
        _mount_cgroup(root_fd, m, cgroup_plan)
        ro_later = False
    else:
        _refuse_symlinked(root_fd, m)
        # /dev stays writable until its devices exist; runc remounts it later
        ro_later = m["dest"] == "/dev" and flags & S.MS_RDONLY
        if ro_later:
            flags &= ~S.MS_RDONLY
        target = ensure(root_fd, m["dest"])
        try:
            if "tmpcopyup" in m["extensions"]:
                _tmpcopyup(root_fd, target, m, flags)
            else:
                _check_proc_target(m, target)
                S.mount(m["source"] or m["type"], fdpath(target), m["type"], flags & ~S.MS_REMOUNT,
                        m["data"] or None)
        finally:
            os.close(target)
    _apply_propagation_and_attrs(root_fd, m)
    return ro_later


def _mount_idmapped(m, target):
    """A detached clone of the source, idmapped through the prepared user namespace, moved in place."""
    recursive = S.AT_RECURSIVE if m["flags"] & S.MS_REC else 0
    tree = S.open_tree(-100, m["source"], S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC | recursive)
    try:
        S.mount_setattr(tree, "", S.AT_EMPTY_PATH | (S.AT_RECURSIVE if "ridmap" in m["extensions"] else 0),
                        attr_set=S.MOUNT_ATTR_IDMAP, userns_fd=m["userns_fd"])
        S.move_mount(tree, "", target, "", S.MOVE_MOUNT_F_EMPTY_PATH | S.MOVE_MOUNT_T_EMPTY_PATH)
    finally:
        os.close(tree)


def _remount_bind(root_fd, dest, flags, source):
    fd = resolve(root_fd, dest)
    try:
        S.mount("", fdpath(fd), None, S.MS_BIND | S.MS_REMOUNT | flags | kept_flags(source))
    finally:
        os.close(fd)


def _apply_propagation_and_attrs(root_fd, m):
    if not m["propagation"] and not (m["attr_set"] or m["attr_clr"]):
        return
    fd = resolve(root_fd, m["dest"])
    try:
        for p in m["propagation"]:
            S.mount("", fdpath(fd), None, p)
        if m["attr_set"] or m["attr_clr"]:
            S.mount_setattr(fd, "", S.AT_EMPTY_PATH | S.AT_RECURSIVE, m["attr_set"], m["attr_clr"])
    finally:
        os.close(fd)


# Destinations whose content the runtime itself trusts afterwards (procfs
# writes, device nodes, masking): an image must not redirect them with a
# symlink, even one that stays inside the rootfs (CVE-2019-16884,
# CVE-2023-27561, CVE-2025-52881; /dev: CVE-2026-41579).
_NO_SYMLINKS = ("/proc", "/sys", "/dev")


def _refuse_symlinked(root_fd, m):
    if m["type"] not in ("proc", "sysfs") and m["dest"] not in _NO_SYMLINKS:
        return
    try:
        os.close(S.openat2(root_fd, m["dest"], O_PATH, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS))
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Error(f"mount {m['type']} on {m['dest']}: the destination is a symlink in the image; "
                        "refused") from None
        raise


def _check_proc_target(m, target):
    # procfs and sysfs only on a real directory (CVE-2019-19921: /proc as a symlink)
    if m["type"] in ("proc", "sysfs") and not stat.S_ISDIR(os.fstat(target).st_mode):
        raise Error(f"mount {m['type']} on {m['dest']}: target is not a directory")


def _tmpcopyup(root_fd, target, m, flags):
    """tmpfs over a directory, seeded with what the image had there (runc/crun extension)."""
    src = os.open(fdpath(target), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        S.mount("tmpfs", fdpath(target), "tmpfs", flags & ~(S.MS_RDONLY | S.MS_REMOUNT), m["data"] or None)
        # `src` still names the covered directory; a fresh lookup crosses into the tmpfs
        dst = resolve(root_fd, m["dest"], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _copy_dir(src, dst)
            if flags & S.MS_RDONLY:
                S.mount("", fdpath(dst), None, S.MS_REMOUNT | (flags & ~S.MS_REMOUNT))
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_dir(src, dst):
    """Copy a directory tree fd-to-fd, keeping modes, owners, symlinks and device nodes."""
    for entry in os.scandir(src):
        name = entry.name
        st = entry.stat(follow_symlinks=False)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, 0o700, dir_fd=dst)
            s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
            try:
                _copy_dir(s, d)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        elif stat.S_ISREG(st.st_mode):
            s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            d = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=dst)
            try:
                while os.sendfile(d, s, None, 1 << 20) > 0:
                    pass
            finally:
                os.close(s)
                os.close(d)
        elif not stat.S_ISSOCK(st.st_mode):
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst)
        else:
            continue
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, mode, dir_fd=dst)


def _mount_cgroup(root_fd, m, plan):
    """/sys/fs/cgroup in the container: the container's own cgroup, never the host's tree."""
    flags = m["flags"] & ~S.MS_REMOUNT
    if plan["mode"] == "unified":
        target = ensure(root_fd, m["dest"])
        try:
            if plan["cgroupns"]:
                S.mount("cgroup2", fdpath(target), "cgroup2", flags, None)
            else:
                S.mount(plan["hierarchies"][0]["dir"], fdpath(target), None, S.MS_BIND | S.MS_REC)
                if flags & ~S.MS_BIND:
                    _remount_bind(root_fd, m["dest"], flags, plan["hierarchies"][0]["dir"])
        finally:
            os.close(target)
        return
    # v1 or hybrid: a tmpfs with one directory per hierarchy, read-only at the end
    target = ensure(root_fd, m["dest"])
    try:
        S.mount("tmpfs", fdpath(target), "tmpfs", (flags & ~S.MS_RDONLY) | S.MS_NOSUID | S.MS_NODEV
                | S.MS_NOEXEC, "mode=755")
    finally:
        os.close(target)
    for h in plan["hierarchies"]:
        sub = ensure(root_fd, f"{m['dest']}/{h['name']}")
        try:
            if plan["cgroupns"]:
                fstype = "cgroup2" if h["v2"] else "cgroup"
                S.mount(fstype, fdpath(sub), fstype, flags, None if h["v2"] else h["options"])
            else:
                # made read-only (and nosuid...) together with the tmpfs, below
                S.mount(h["dir"], fdpath(sub), None, S.MS_BIND | S.MS_REC)
        finally:
            os.close(sub)
        for link in h["links"]:
            dirfd = resolve(root_fd, m["dest"])
            try:
                os.symlink(h["name"], link, dir_fd=dirfd)
            except FileExistsError:
                pass
            finally:
                os.close(dirfd)
    # one recursive mount_setattr for the tmpfs and every hierarchy bound below it,
    # instead of a remount each (the binds keep their flags otherwise)
    attr_set, attr_clr = mount_attrs(flags | S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC)
    fd = resolve(root_fd, m["dest"])
    try:
        S.mount_setattr(fd, "", S.AT_EMPTY_PATH | S.AT_RECURSIVE, attr_set, attr_clr)
    finally:
        os.close(fd)


# mount(2) flags -> mount_setattr(2) attributes; the atime ones replace the whole atime field
_MS_TO_ATTR = ((S.MS_RDONLY, S.MOUNT_ATTR_RDONLY), (S.MS_NOSUID, S.MOUNT_ATTR_NOSUID),
               (S.MS_NODEV, S.MOUNT_ATTR_NODEV), (S.MS_NOEXEC, S.MOUNT_ATTR_NOEXEC),
               (S.MS_NODIRATIME, S.MOUNT_ATTR_NODIRATIME), (S.MS_NOSYMFOLLOW, S.MOUNT_ATTR_NOSYMFOLLOW))
_MS_ATIME = ((S.MS_NOATIME, S.MOUNT_ATTR_NOATIME), (S.MS_STRICTATIME, S.MOUNT_ATTR_STRICTATIME),
             (S.MS_RELATIME, S.MOUNT_ATTR_RELATIME))


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
    old_umask = os.umask(0)
    try:
        for d in devices:
            try:
                _create_device(root_fd, d, in_userns)
            except OSError as e:
                raise Error(f"create device {d['path']}: {e.strerror}") from None
    finally:
        os.umask(old_umask)


def _create_device(root_fd, d, in_userns):
    parent_path, name = os.path.split(d["path"])
    parent = ensure(root_fd, parent_path)
    try:
        if in_userns:
            # mknod is not allowed in a user namespace: bind the host's node
            try:
                os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644,
                                 dir_fd=parent))
            except FileExistsError:
                pass
            target = resolve(root_fd, d["path"])
            try:
                S.mount(d["path"], fdpath(target), None, S.MS_BIND)
            finally:
                os.close(target)
            return
        mode = DEVICE_TYPES[d["type"]] | d["mode"]
        try:
            os.mknod(name, mode, os.makedev(d["major"], d["minor"]), dir_fd=parent)
        except FileExistsError:
            return
        os.chown(name, d["uid"], d["gid"], dir_fd=parent, follow_symlinks=False)
    finally:
        os.close(parent)


def create_dev_links(root_fd, links):
    dev = resolve(root_fd, "/dev")
    try:
        for target, path in links:
            try:
                os.symlink(target, os.path.basename(path), dir_fd=dev)
            except FileExistsError:
                pass
        # /dev/ptmx must be the container's own devpts multiplexer
        try:
            os.unlink("ptmx", dir_fd=dev)
        except FileNotFoundError:
            pass
        os.symlink("pts/ptmx", "ptmx", dir_fd=dev)
    finally:
        os.close(dev)


# ---------------------------------------------------------------- the switch
def pivot(root_fd):
    """pivot_root into the rootfs and detach the old root (runc's pivot_root(".", ".") dance)."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(root_fd)
        S.pivot_root(".", ".")
        os.fchdir(old)
        # the old root must not propagate its unmount back to the host
        S.mount("", ".", None, S.MS_SLAVE | S.MS_REC)
        S.umount2(".", S.MNT_DETACH)
    finally:
        os.close(old)
    os.chdir("/")


def set_root_propagation(propagation):
    """rootfsPropagation shared/unbindable, on the new / (runc 1.4).  Before the switch the
    rootfs is bound below a parent made private (pivot_root needs that), so it is private;
    private and slave need nothing more."""
    if propagation & (S.MS_SHARED | S.MS_UNBINDABLE):
        S.mount("", "/", None, propagation)


def chroot_into(root_fd):
    """No mount namespace of its own: chroot, as runc does.  pivot_root would swap the root of
    every process in the caller's namespace, and detaching the old root would take it from them."""
    os.fchdir(root_fd)
    os.chroot(".")
    os.chdir("/")


def move_root(rootfs):
    """--no-pivot: move the rootfs over / and chroot into it (for ramfs roots, where pivot_root fails)."""
    _detach_outside(rootfs)
    os.chdir(rootfs)
    S.mount(rootfs, "/", None, S.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


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
def remount_readonly(path):
    root = _root()
    try:
        fd = resolve(root, path)
    finally:
        os.close(root)
    try:
        S.mount("", fdpath(fd), None, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | kept_flags(fdpath(fd)))
    finally:
        os.close(fd)


def readonly_root():
    flags = S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY
    try:
        S.mount("", "/", None, flags)
    except OSError:
        S.mount("", "/", None, flags | kept_flags("/"))


def _root():
    return os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


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
            os.close(fd)


def readonly_paths(paths):
    root = _root()
    try:
        for p, fd in _existing(root, paths):
            S.mount(fdpath(fd), fdpath(fd), None, S.MS_BIND | S.MS_REC)
            top = resolve(root, p)      # the new bind mount, not the directory under it
            try:
                S.mount("", fdpath(top), None, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | S.MS_REC
                        | kept_flags(fdpath(top)))
            finally:
                os.close(top)
    finally:
        os.close(root)


def masked_paths(paths):
    """Hide paths: directories under an empty read-only tmpfs, files under the real /dev/null."""
    root = _root()
    null = None
    try:
        for _p, fd in _existing(root, paths):
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                S.mount("tmpfs", fdpath(fd), "tmpfs", S.MS_RDONLY, None)
            else:
                if null is None:
                    null = _real_dev_null(root)
                S.mount(fdpath(null), fdpath(fd), None, S.MS_BIND)
    finally:
        os.close(root)
        if null is not None:
            os.close(null)


def _real_dev_null(root):
    """/dev/null of the container, checked to be the null device, not a symlink or a file (CVE-2025-31133)."""
    fd = S.openat2(root, "/dev/null", O_PATH | os.O_NOFOLLOW, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != NULL_DEV:
        os.close(fd)
        raise Error("/dev/null in the container is not the null device")
    return fd


def bind_console(slave):
    """/dev/console becomes the container's pty (runtime-spec), never through a symlink (CVE-2025-52565)."""
    root = _root()
    try:
        dev = S.openat2(root, "/dev", O_PATH | os.O_DIRECTORY, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)
    finally:
        os.close(root)
    try:
        try:
            os.close(os.open("console", os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o600, dir_fd=dev))
        except FileExistsError:
            pass
        target = S.openat2(dev, "console", O_PATH, S.RESOLVE_BENEATH | S.RESOLVE_NO_SYMLINKS)
    except OSError as e:
        os.close(dev)
        raise Error(f"/dev/console: {e.strerror} (a symlink there is refused)") from None
    try:
        if stat.S_ISDIR(os.fstat(target).st_mode):
            raise Error("/dev/console is a directory")
        S.mount(fdpath(slave), fdpath(target), None, S.MS_BIND)
    finally:
        os.close(target)
        os.close(dev)


def write_proc(path, value):
    """Write a /proc file after checking it really is on procfs (CVE-2019-16884, CVE-2025-52881)."""
    root = _root()
    try:
        fd = S.openat2(root, path, os.O_WRONLY | os.O_NOFOLLOW,
                       S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS | S.RESOLVE_NO_MAGICLINKS)
    finally:
        os.close(root)
    try:
        if S.fstatfs_type(fd) != S.PROC_SUPER_MAGIC:
            raise Error(f"{path} is not on procfs")
        os.write(fd, value.encode())
    finally:
        os.close(fd)
