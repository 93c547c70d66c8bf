"""Install a cgroup v2 device filter with bpf(2) (CLI process): load, attach, retire the old filter."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.errors import Error
from pyrunc.linux.syscalls import check

BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6          # enum bpf_attach_type
BPF_F_ALLOW_MULTI = 1 << 1
BPF_F_REPLACE = 1 << 2
LICENSE = b"Apache"            # the kernel only checks GPL compatibility for GPL-only helpers (none used)


def attached(dir_fd):
    """Ids of the device programs attached to the cgroup (dir_fd)."""
    from pyrunc._native import ffi, lib
    room = 64
    while True:
        ids = ffi.new("uint32_t[]", room)
        count = ffi.new("uint32_t *", room)
        ret = lib.pr_bpf_prog_query(dir_fd, BPF_CGROUP_DEVICE, ids, count)
        if ret == -28 and count[0] > room:   # ENOSPC: more than we made room for
            room = count[0]
            continue
        check(ret, "bpf(BPF_PROG_QUERY)")
        return [ids[i] for i in range(count[0])]


def load(insns):
    """A program fd for the encoded instructions; the verifier's log in the error if it refuses."""
    from pyrunc._native import ffi, lib
    code = ffi.from_buffer(insns)
    ret = lib.pr_bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, code, len(insns) // 8, LICENSE, ffi.NULL, 0)
    if ret == -13 or ret == -22:   # EACCES/EINVAL: ask the verifier why
        log = ffi.new("char[]", 65536)
        ret = lib.pr_bpf_prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, code, len(insns) // 8, LICENSE, log, 65536)
        if ret < 0:
            text = ffi.string(log).decode(errors="replace").strip().splitlines()
            raise Error(f"loading the device filter: {oslite.strerror(-ret)}: {text[-1] if text else ''}")
    return check(ret, "bpf(BPF_PROG_LOAD)")


def install(dir_fd, insns):
    """Make `insns` the cgroup's only device filter (runc's loadAttachCgroupDeviceFilter).

    With one filter already there, BPF_F_REPLACE swaps it atomically;
    otherwise the new one is attached first and the old ones detached after,
    so the cgroup is never without a filter.
    """
    from pyrunc._native import lib
    old = []
    prog = -1
    try:
        for pid in attached(dir_fd):
            old.append(check(lib.pr_bpf_prog_get_fd_by_id(pid), "bpf(BPF_PROG_GET_FD_BY_ID)"))
        prog = load(insns)
        if len(old) == 1:
            ret = lib.pr_bpf_prog_attach(dir_fd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI | BPF_F_REPLACE,
                                         old[0])
            if ret == 0:
                return
            if ret != -22:   # EINVAL: a kernel without BPF_F_REPLACE (before 5.6)
                check(ret, "bpf(BPF_PROG_ATTACH)")
        check(lib.pr_bpf_prog_attach(dir_fd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, -1),
              "bpf(BPF_PROG_ATTACH)")
        for fd in old:
            check(lib.pr_bpf_prog_detach(dir_fd, fd, BPF_CGROUP_DEVICE), "bpf(BPF_PROG_DETACH)")
    finally:
        for fd in old + ([prog] if prog >= 0 else []):
            oslite.close(fd)
