"""Capabilities: the name table and set masks (plan, CLI), and applying them (init process)."""
NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
from pyrunc.linux import procself  # noqa: E402

NUMBER = {name: i for i, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")
CAP_SYS_ADMIN = NUMBER["CAP_SYS_ADMIN"]


def status_mask(field):
    """A capability set of this process from /proc/self/status (CapPrm, CapBnd...)."""
    for line in procself.read("status").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    return 0


def last_cap():
    """The highest capability this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def masks(capabilities, unknown):
    """Five 64-bit masks from process.capabilities.

    Names runc would not apply are left out and reported through `unknown`
    (a list of (set, name)): names nobody knows, and known names the
    running kernel lacks.  runc warns about both and goes on (runtime-spec
    asks for an error; containerd and podman rely on runc's leniency).
    """
    top = last_cap()
    out = {}
    for s in SETS:
        m = 0
        for name in capabilities.get(s, ()):
            n = NUMBER.get(name)
            if n is None or n > top:
                unknown.append((s, name))
            else:
                m |= 1 << n
        out[s] = m
    return out


def names(mask):
    return [NAMES[i] if i < len(NAMES) else f"CAP_{i}" for i in range(64) if mask >> i & 1]
