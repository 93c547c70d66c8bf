"""The mount plan (CLI process, pure): config mounts, /dev devices and links as data for the init's executor."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.errors import Problem, refuse
from pyrunc.linux import syscalls as S

# option -> (flags to set, flags to clear)
FLAG_OPTIONS = {
    "async": (0, S.MS_SYNCHRONOUS),
    "atime": (0, S.MS_NOATIME),
    "bind": (S.MS_BIND, 0),
    "defaults": (0, 0),
    "dev": (0, S.MS_NODEV),
    "diratime": (0, S.MS_NODIRATIME),
    "dirsync": (S.MS_DIRSYNC, 0),
    "exec": (0, S.MS_NOEXEC),
    "iversion": (S.MS_I_VERSION, 0),
    "lazytime": (S.MS_LAZYTIME, 0),
    "loud": (0, S.MS_SILENT),
    "mand": (S.MS_MANDLOCK, 0),
    "noatime": (S.MS_NOATIME, 0),
    "nodev": (S.MS_NODEV, 0),
    "nodiratime": (S.MS_NODIRATIME, 0),
    "noexec": (S.MS_NOEXEC, 0),
    "noiversion": (0, S.MS_I_VERSION),
    "nolazytime": (0, S.MS_LAZYTIME),
    "nomand": (0, S.MS_MANDLOCK),
    "norelatime": (0, S.MS_RELATIME),
    "nostrictatime": (0, S.MS_STRICTATIME),
    "nosuid": (S.MS_NOSUID, 0),
    "nosymfollow": (S.MS_NOSYMFOLLOW, 0),
    "rbind": (S.MS_BIND | S.MS_REC, 0),
    "relatime": (S.MS_RELATIME, 0),
    "remount": (S.MS_REMOUNT, 0),
    "ro": (S.MS_RDONLY, 0),
    "rw": (0, S.MS_RDONLY),
    "silent": (S.MS_SILENT, 0),
    "strictatime": (S.MS_STRICTATIME, 0),
    "suid": (0, S.MS_NOSUID),
    "sync": (S.MS_SYNCHRONOUS, 0),
    "symfollow": (0, S.MS_NOSYMFOLLOW),
}
PROPAGATION_OPTIONS = {
    "private": S.MS_PRIVATE, "rprivate": S.MS_PRIVATE | S.MS_REC,
    "shared": S.MS_SHARED, "rshared": S.MS_SHARED | S.MS_REC,
    "slave": S.MS_SLAVE, "rslave": S.MS_SLAVE | S.MS_REC,
    "unbindable": S.MS_UNBINDABLE, "runbindable": S.MS_UNBINDABLE | S.MS_REC,
}
# recursive options, applied with mount_setattr(AT_RECURSIVE): (attr_set, attr_clr)
RECURSIVE_OPTIONS = {
    "rro": (S.MOUNT_ATTR_RDONLY, 0), "rrw": (0, S.MOUNT_ATTR_RDONLY),
    "rnosuid": (S.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, S.MOUNT_ATTR_NOSUID),
    "rnodev": (S.MOUNT_ATTR_NODEV, 0), "rdev": (0, S.MOUNT_ATTR_NODEV),
    "rnoexec": (S.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, S.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (S.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, S.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (S.MOUNT_ATTR_RELATIME, S.MOUNT_ATTR__ATIME),
    "rnorelatime": (0, S.MOUNT_ATTR__ATIME),
    "rnoatime": (S.MOUNT_ATTR_NOATIME, S.MOUNT_ATTR__ATIME),
    "ratime": (0, S.MOUNT_ATTR_NOATIME),
    "rstrictatime": (S.MOUNT_ATTR_STRICTATIME, S.MOUNT_ATTR__ATIME),
    "rnostrictatime": (0, S.MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (S.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, S.MOUNT_ATTR_NOSYMFOLLOW),
}
EXTENSION_OPTIONS = {"tmpcopyup", "idmap", "ridmap"}

DEFAULT_DEVICES = (
    # path, type, major, minor
    ("/dev/null", "c", 1, 3),
    ("/dev/zero", "c", 1, 5),
    ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8),
    ("/dev/urandom", "c", 1, 9),
    ("/dev/tty", "c", 5, 0),
)
DEV_LINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)
DEVICE_TYPES = {"c": 0o020000, "u": 0o020000, "b": 0o060000, "p": 0o010000}


def clean(path):
    """A container path made absolute and normalised ("..” cannot climb above /)."""
    return oslite.path.normpath("/" + path).replace("//", "/")


def parse_options(options):
    """Split mount options into flags, cleared flags, propagation, recursive attrs, extensions, data."""
    flags = clear = attr_set = attr_clr = 0
    propagation, data, extensions = [], [], set()
    for opt in options:
        if opt in FLAG_OPTIONS:
            s, c = FLAG_OPTIONS[opt]
            flags = (flags | s) & ~c
            clear = (clear | c) & ~s
        elif opt in PROPAGATION_OPTIONS:
            propagation.append(PROPAGATION_OPTIONS[opt])
        elif opt in RECURSIVE_OPTIONS:
            s, c = RECURSIVE_OPTIONS[opt]
            attr_set = (attr_set & ~c) | s
            attr_clr = (attr_clr & ~s) | c
        elif opt in EXTENSION_OPTIONS:
            extensions.add(opt)
        else:
            data.append(opt)
    return {"flags": flags, "clear": clear, "propagation": propagation, "attr_set": attr_set,
            "attr_clr": attr_clr, "extensions": sorted(extensions), "data": ",".join(data)}


def plan_mount(m, index, bundle, problems=None):
    """One config mount as an executor step, or None when it has problems.

    The problems go to `problems` (without the list: BadConfig).
    """
    where = f"/mounts/{index}"
    found = []
    step = parse_options(m.get("options", ()))
    dest = m.get("destination")
    if dest is None:
        found.append(Problem(f"{where}/destination", "required"))
    elif not dest.startswith("/"):
        found.append(Problem(f"{where}/destination", f"{dest!r} is not an absolute path"))
    fstype = m.get("type", "")
    source = m.get("source", "")
    bind = bool(step["flags"] & S.MS_BIND) or fstype == "bind"
    if bind:
        step["flags"] |= S.MS_BIND
        if not source:
            found.append(Problem(f"{where}/source", "a bind mount needs a source"))
        source = oslite.path.normpath(oslite.path.join(bundle, source))
        kind = "bind"
    elif fstype in ("cgroup", "cgroup2"):
        kind = "cgroup"
    elif not fstype:
        found.append(Problem(f"{where}/type", "required for a non-bind mount" + (f" of {dest}" if dest else "")))
    else:
        kind = "fs"
    has_maps = bool(m.get("uidMappings") or m.get("gidMappings"))
    if has_maps and not is_idmapped(step):
        # runc 1.2+: mappings alone make an idmapped mount (not recursive)
        step["extensions"] = sorted(step["extensions"] + ["idmap"])
    if is_idmapped(step) and not bind:
        found.append(Problem(f"{where}/options", "idmap is only supported on bind mounts"))
    if has_maps and not (m.get("uidMappings") and m.get("gidMappings")):
        found.append(Problem(where, "an idmapped mount needs both uidMappings and gidMappings"))
    if "tmpcopyup" in step["extensions"] and fstype != "tmpfs":
        found.append(Problem(f"{where}/options", "tmpcopyup is only valid for tmpfs"))
    if problems is None:
        refuse(found, "config.json: ")
    if found:
        problems.extend(found)
        return None
    step.update(index=index, kind=kind, dest=clean(dest), source=source, type=fstype,
                uid_mappings=m.get("uidMappings", []), gid_mappings=m.get("gidMappings", []),
                userns_fd=None, userns_path=None)
    return step


def is_idmapped(step):
    return "idmap" in step["extensions"] or "ridmap" in step["extensions"]


def imply_idmaps(mounts, ns_plan, uid_map, gid_map):
    """idmap/ridmap without mappings of its own takes the container's user namespace (runc's
    implied mapping): a new one's mappings, or a joined one itself (its path, opened by create)."""
    joined = next((path for t, path in ns_plan["join"] if t == "user"), None)
    for i, m in enumerate(mounts):
        if not is_idmapped(m) or m["uid_mappings"]:
            continue
        if joined:
            m["userns_path"] = joined
        elif "user" in ns_plan["new"]:
            m["uid_mappings"], m["gid_mappings"] = uid_map, gid_map
        else:
            refuse([Problem(f"/mounts/{i}", "id-mapped mounts must have both uid and gid mappings specified "
                                            "(or take the container's, which has no user namespace)")], "config.json: ")


def needs_dev_setup(mounts):
    """runc creates the default devices only when /dev is not bind-mounted from outside."""
    return not any(m["dest"] == "/dev" and m["kind"] == "bind" for m in mounts)


def device_steps(config_devices, setup_dev, problems=None):
    """Default devices (when /dev is ours) overridden by linux.devices with the same path, in order.

    A bad entry goes to `problems` (without the list: BadConfig).
    """
    found = [] if problems is None else problems
    out = []
    if setup_dev:
        for path, typ, major, minor in DEFAULT_DEVICES:
            out.append({"path": path, "type": typ, "major": major, "minor": minor,
                        "mode": 0o666, "uid": 0, "gid": 0})
    for i, d in enumerate(config_devices):
        where = f"/linux/devices/{i}"
        typ = d.get("type", "")
        path = d.get("path", "")
        if typ not in DEVICE_TYPES:
            found.append(Problem(f"{where}/type", f"{typ!r} is not one of c, b, u, p"))
        elif not path.startswith("/"):
            found.append(Problem(f"{where}/path", f"{path!r} is not an absolute path"))
        elif typ != "p" and ("major" not in d or "minor" not in d):
            found.append(Problem(where, f"a {typ} device needs major and minor"))
        else:
            step = {"path": clean(path), "type": typ, "major": d.get("major", 0),
                    "minor": d.get("minor", 0), "mode": d.get("fileMode", 0o666) & 0o7777,
                    "uid": d.get("uid", 0), "gid": d.get("gid", 0)}
            out = [o for o in out if o["path"] != step["path"]] + [step]
    if problems is None:
        refuse(found, "config.json: ")
    return out
