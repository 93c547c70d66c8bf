"""AppArmor and SELinux as runc uses them (CLI process): is each on here, and the labels a plan carries.

pyrunc-init writes the labels, change-on-exec, just before the program's
execve (csrc/pyrunc_init.c, set_exec_labels); stage 2 labels the session
keyring (init.py); mountplan and rootfs put the mount label into the mount
data of the mounts runc labels.  Without the LSM, runc 1.1.5 fails a
profile at the write (EINVAL) and refuses a SELinux process label in its
validator: pyrunc refuses both at once, before anything exists.  runc's
init writes the profile during `create`, so a profile the kernel has not
loaded fails `create` there (ENOENT); pyrunc-init writes it after `start`,
so the CLI looks the name up in the loaded policy first.
"""
from pyrunc import oslite  # posix without os.py: see oslite
from pyrunc.errors import Problem

SELINUX_MAGIC = 0xF97CFF8C
XATTR = "security.selinux"
SELINUXFS = "/sys/fs/selinux"
# the options SELinux takes out of mount data (its selinux_sb_eat_lsm_opts), quoted values and all
CONTEXT_KEYS = ("context", "fscontext", "defcontext", "rootcontext")
# runc 1.1.5's words (libcontainer/apparmor and its validator), so that callers match them
APPARMOR_FAILED = "apparmor failed to apply profile"
SELINUX_DISABLED = "selinux label is specified in config, but selinux is disabled or not supported"
APPARMOR_PROFILES = "/sys/kernel/security/apparmor/profiles"


def apparmor_enabled():
    """runc's test: securityfs shows AppArmor and the module says it is enabled."""
    if not oslite.path.isdir("/sys/kernel/security/apparmor"):
        return False
    try:
        with open("/sys/module/apparmor/parameters/enabled", "rb") as f:
            return f.read(2).startswith(b"Y")
    except OSError:
        return False


def loaded_profiles():
    """The names of the profiles the kernel has loaded in our policy namespace (securityfs lists
    "NAME (MODE)"), or None when the list cannot be read."""
    try:
        with open(APPARMOR_PROFILES, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None
    return {line.rpartition(" (")[0] for line in text.splitlines()}


def profile_unknown(name, loaded):
    """Whether the kernel would refuse `exec NAME` for want of the profile.  What it resolves other than
    by a loaded name (unconfined, a policy namespace `:ns:...`, a stack `a//&b`) and an unread list
    are left to the write itself."""
    if loaded is None or name == "unconfined" or name.startswith(":") or "&" in name:
        return False
    return name not in loaded


def selinux_enabled():
    """go-selinux's test (runc's GetEnabled): a writable selinuxfs, and a process label that is not "kernel"."""
    try:
        if oslite.statvfs(SELINUXFS).f_flag & oslite.ST_RDONLY:
            return False
        from pyrunc.linux import syscalls as S
        fd = oslite.open(SELINUXFS, oslite.O_PATH | oslite.O_CLOEXEC)
        try:
            if S.fstatfs_type(fd) != SELINUX_MAGIC:
                return False
        finally:
            oslite.close(fd)
        with open("/proc/self/attr/current", "rb") as f:
            return f.read().rstrip(b"\0\n") != b"kernel"
    except OSError:
        return False


def check_process(p, where, problems, apparmor=None, selinux=None, loaded=None):
    """Refuse a profile or a process label this host cannot apply (never run a process unconfined
    that asked for confinement).  apparmor/selinux: whether each is enabled (None: look); loaded:
    the names of the loaded profiles (None: look)."""
    profile = p.get("apparmorProfile")
    if profile and not (apparmor_enabled() if apparmor is None else apparmor):
        problems.append(Problem(f"{where}/apparmorProfile",
                                f"unable to apply apparmor profile: {APPARMOR_FAILED}: AppArmor is not enabled on "
                                "this host (/sys/module/apparmor/parameters/enabled)"))
    elif profile and profile_unknown(profile, loaded_profiles() if loaded is None else loaded):
        # runc's init fails its write of the profile during create with these words
        problems.append(Problem(f"{where}/apparmorProfile",
                                f"unable to apply apparmor profile: {APPARMOR_FAILED}: write "
                                f"/proc/thread-self/attr/apparmor/exec: no such file or directory "
                                f"(no profile {profile!r} is loaded)"))
    if p.get("selinuxLabel") and not (selinux_enabled() if selinux is None else selinux):
        problems.append(Problem(f"{where}/selinuxLabel", SELINUX_DISABLED))


def mount_label(linux, selinux=None):
    """The label for the container's mounts: linux.mountLabel when SELinux is on, else "".

    Without SELinux the label is ignored, as crun does (runc 1.1.5 passes
    context= anyway and the kernel fails the first tmpfs with EINVAL)."""
    label = linux.get("mountLabel", "")
    return label if label and (selinux_enabled() if selinux is None else selinux) else ""


def mount_data(data, label):
    """go-selinux's FormatMountLabel: `context="label"` added to a mount's data (quoted: an MLS
    label holds commas)."""
    if not label:
        return data
    return f'{data},context="{label}"' if data else f'context="{label}"'


# runc labels a mount of every type but these (rootfs_linux.go): procfs and sysfs cannot be
# labelled, mqueue gets the label as an xattr, a cgroup2 mount none; a bind ignores mount data
UNLABELLED_TYPES = ("proc", "sysfs", "mqueue", "cgroup", "cgroup2")


def labels_mount(kind, fstype):
    """Whether runc passes the mount label to this mount (kind as in mountplan: fs, bind, cgroup)."""
    return kind == "fs" and fstype not in UNLABELLED_TYPES


def split_data(data):
    """Mount data split at its commas, but a SELinux context's quoted value kept whole and
    unquoted, as SELinux takes it out of the data before the filesystem sees the rest."""
    out, cur, quoted = [], "", False
    for ch in data:
        if ch == '"' and cur.partition("=")[0] in CONTEXT_KEYS:
            quoted = not quoted
            continue
        if ch == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [o for o in out + [cur] if o]


def set_keycreate(label):
    """Stage 2 (the init, before it joins its session keyring): the SELinux label of the keys it
    creates next, as runc's SetKeyLabel gives the session keyring the process's label.

    The host's /proc still (stage 2 has not pivoted), checked to be procfs all the same; no
    keycreate attribute at all is no error (go-selinux's)."""
    from pyrunc.linux import syscalls as S
    try:
        fd = oslite.open("/proc/self/attr/keycreate", oslite.O_WRONLY | oslite.O_NOFOLLOW | oslite.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if S.fstatfs_type(fd) != S.PROC_SUPER_MAGIC:
            raise OSError(0, "/proc/self/attr/keycreate is not on procfs")
        oslite.write(fd, label.encode())
    finally:
        oslite.close(fd)
