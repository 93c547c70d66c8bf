"""linux.seccompbpf (CLI process): a seccomp plan -> the BPF program pyrunc-init loads, cached by hash.

libseccomp (through pyrunc._seccomp) builds the filter exactly as runc has
libseccomp-golang build it, and exports the raw program; runc's -ENOSYS
stub (libcontainer/seccomp/patchbpf) is prepended, so that syscalls newer
than every syscall the profile names fail with ENOSYS (which libc falls back
from) rather than with the default action.  Nothing here runs inside a
container: the bytes go to pyrunc-init in a sealed memfd.

The program depends only on the plan's rules and on libseccomp, so it is
cached under the runtime root by the hash of both; seccomp(2) flags are
probed on every use (they depend on the running kernel).
"""
import errno
from pyrunc import oslite  # posix without os.py: see oslite
import sys

from pyrunc import __version__, jsonlite, log
from pyrunc._seccomp import ffi, lib
from pyrunc.errors import BadConfig, Error, Problem
from pyrunc.linux import seccomp
from pyrunc.state import check_private_dir

CACHE_DIR = "@seccomp"             # '@' is not allowed in container ids: never a container's dir
CACHE_ENTRIES = 64
NR_SCMP_ERROR = -1
SCMP_FLTATR_CTL_OPTIMIZE = 8
SECCOMP_SET_MODE_FILTER = 1
BPF_MAXINSNS = 4096
INSN = 8                           # sizeof(struct sock_filter)
WHERE = "/linux/seccomp"

# classic BPF opcodes and the seccomp_data offsets the stub reads
LD_W_ABS, JA, JEQ, JGT, JSET, RET_K = 0x20, 0x05, 0x15, 0x25, 0x45, 0x06
NR_OFFSET, ARCH_OFFSET = 0, 4
X32_SYSCALL_BIT = 1 << 30
AUDIT_ARCH_X86_64 = 0xC000003E
SCMP_ARCH_X32 = 0x4000003E         # libseccomp's own token: x32 shares x86_64's AUDIT_ARCH
S390_ARCHS = (0x16, 0x80000016)    # s390 and s390x multiplex unknown syscalls through nr 0
RET_ENOSYS = seccomp.ACT_ERRNO | seccomp.ENOSYS


def libseccomp_version():
    v = lib.pr_scmp_version()
    return f"{v >> 16}.{v >> 8 & 0xFF}.{v & 0xFF}"


def arch_known(name):
    return lib.pr_scmp_arch_resolve_name(name.encode()) != 0


def flag_supported(name):
    """Whether this kernel accepts a runtime-spec seccomp flag (TSYNC is always accepted: it is ignored)."""
    bit = seccomp.FLAGS[name]
    if not bit:
        return True
    if bit == seccomp.FLAGS["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]:
        bit |= seccomp.FLAG_NEW_LISTENER   # the kernel refuses it alone
    # a known flag gets as far as reading the (NULL) program: EFAULT
    return lib.pr_seccomp(SECCOMP_SET_MODE_FILTER, bit, ffi.NULL) == -errno.EFAULT


def filter_flags(p):
    """The seccomp(2) flags pyrunc-init loads the filter with."""
    names = p["flags"]
    if names is None:
        # runc >= 1.2: without "flags", allow speculative store bypass if the kernel can
        names = [n for n in ("SECCOMP_FILTER_FLAG_SPEC_ALLOW",) if flag_supported(n)]
    bits = 0
    for name in names:
        if not flag_supported(name):
            raise _refused(f"{WHERE}/flags", f"{name} is not supported by this kernel")
        bits |= seccomp.FLAGS[name]
    if p["notify"]:
        bits |= seccomp.FLAG_NEW_LISTENER
    return bits


# ------------------------------------------------------------------ compiling

def _refused(pointer, message):
    """What create raises when the kernel or libseccomp refuses part of the profile."""
    return BadConfig.of([Problem(pointer, message)], "config.json: ")


def compile_program(p):
    """The BPF program (bytes) for a plan; syscall names unknown to libseccomp are skipped, as runc does."""
    ctx = lib.pr_scmp_init(p["default"])
    if ctx == ffi.NULL:
        raise _refused(f"{WHERE}/defaultAction", f"libseccomp {libseccomp_version()} refuses the action")
    try:
        for name in p["archs"]:
            token = lib.pr_scmp_arch_resolve_name(name.encode())
            if not token:
                raise _refused(f"{WHERE}/architectures",
                               f"{name} is not supported by libseccomp {libseccomp_version()}")
            r = lib.pr_scmp_arch_add(ctx, token)
            if r < 0 and r != -errno.EEXIST:       # the native one is always there
                raise _refused(f"{WHERE}/architectures", f"adding {name}: {oslite.strerror(-r)}")
        if p["optimize"]:
            # a binary tree for long profiles (runc); older libseccomp lacks it, which only costs speed
            lib.pr_scmp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        for name, action, groups in p["rules"]:
            nr = lib.pr_scmp_syscall_resolve_name(name.encode())
            if nr == NR_SCMP_ERROR:
                continue
            for conds in groups:
                _add_rule(ctx, name, action, nr, conds)
        program = _export(ctx)
    finally:
        lib.pr_scmp_release(ctx)
    if p["enosys_stub"]:
        program = assemble(enosys_stub(last_syscalls(p))) + program
    if len(program) // INSN > BPF_MAXINSNS:
        raise _refused(WHERE, f"the filter needs {len(program) // INSN} BPF instructions "
                              f"(the kernel takes {BPF_MAXINSNS})")
    return program


def _add_rule(ctx, name, action, nr, conds):
    n = len(conds)
    r = lib.pr_scmp_rule_add(ctx, action, nr, n, ffi.new("unsigned int[]", [c[0] for c in conds] or [0]),
                             ffi.new("int[]", [c[1] for c in conds] or [0]),
                             ffi.new("uint64_t[]", [c[2] for c in conds] or [0]),
                             ffi.new("uint64_t[]", [c[3] for c in conds] or [0]))
    if r < 0:
        raise _refused(f"{WHERE}/syscalls", f"adding the rule for {name}: {oslite.strerror(-r)} (libseccomp)")


def _export(ctx):
    fd = oslite.memfd_create("pyrunc-bpf", oslite.MFD_CLOEXEC)
    try:
        r = lib.pr_scmp_export_bpf(ctx, fd)
        if r < 0:
            raise Error(f"exporting the seccomp filter: {oslite.strerror(-r)}")
        return oslite.pread(fd, oslite.fstat(fd).st_size, 0)
    finally:
        oslite.close(fd)


def last_syscalls(p):
    """{audit arch: {libseccomp arch: largest syscall number the profile names}} (runc's findLastSyscalls)."""
    tokens = {lib.pr_scmp_arch_native()} | {lib.pr_scmp_arch_resolve_name(a.encode()) for a in p["archs"]}
    out = {}
    for token in sorted(tokens):
        nrs = [lib.pr_scmp_syscall_resolve_name_arch(token, n.encode()) for n in p["stub_names"]]
        largest = max((nr for nr in nrs if nr > 0), default=0)
        if largest:
            audit = AUDIT_ARCH_X86_64 if token == SCMP_ARCH_X32 else token
            out.setdefault(audit, {})[token] = largest
    return out


def enosys_stub(last):
    """runc's -ENOSYS stub as (code, jt, jf, k) instructions (pure; see patchbpf/enosys_linux.go).

    Per architecture: a syscall number above the largest one the profile
    knows returns ENOSYS; everything else falls through to the filter.  The
    sections are built backwards, as jumps are counted from the end."""
    tail = [(JA, 0, 0, 1), (RET_K, 0, 0, RET_ENOSYS)]
    table = {}
    for audit in sorted(last):
        maxes = last[audit]
        to_enosys = len(tail) - 1
        to_filter = to_enosys + 1
        section = [(LD_W_ABS, 0, 0, NR_OFFSET)]
        if len(maxes) == 1:
            (arch, nr), = maxes.items()
            if arch in S390_ARCHS:
                section += [(JEQ, 0, 1, 0), (RET_K, 0, 0, RET_ENOSYS)]
            if to_enosys + 1 <= 255:
                sec = [(JGT, to_enosys + 1, 0, nr), (JA, 0, 0, to_filter)]
            else:
                sec = [(JGT, 0, 1, nr), (RET_K, 0, 0, RET_ENOSYS), (JA, 0, 0, to_filter)]
            if audit == AUDIT_ARCH_X86_64:
                # x86_64 and x32 share the AUDIT_ARCH; bit 30 of the number tells them apart
                if arch == SCMP_ARCH_X32:
                    sec = [(JSET, 0, len(sec) - 1, X32_SYSCALL_BIT)] + sec
                else:
                    sec = [(JSET, len(sec) - 1, 0, X32_SYSCALL_BIT)] + sec
            section += sec
        else:
            x32, x86_64 = maxes[SCMP_ARCH_X32], maxes[AUDIT_ARCH_X86_64]
            if to_enosys + 2 <= 255:
                section += [(JSET, 1, 0, X32_SYSCALL_BIT), (JGT, to_enosys + 2, 1, x86_64),
                            (JGT, to_enosys + 1, 0, x32), (JA, 0, 0, to_filter)]
            else:
                section += [(JSET, 1, 0, X32_SYSCALL_BIT), (JGT, 1, 2, x86_64), (JGT, 0, 1, x32),
                            (RET_K, 0, 0, RET_ENOSYS), (JA, 0, 0, to_filter)]
        tail = section + tail
        table[audit] = len(tail)
    tail = [(JA, 0, 0, len(tail))] + tail       # an architecture we do not know: straight to the filter
    for audit in sorted(last):
        jump = len(tail) - table[audit]
        if jump <= 255:
            tail = [(JEQ, jump, 0, audit)] + tail
        else:
            tail = [(JEQ, 0, 1, audit), (JA, 0, 0, jump)] + tail
    return [(LD_W_ABS, 0, 0, ARCH_OFFSET)] + tail


def assemble(insns):
    """struct sock_filter[] in host byte order, as seccomp_export_bpf writes it."""
    o = sys.byteorder
    return b"".join(c.to_bytes(2, o) + bytes((jt, jf)) + k.to_bytes(4, o) for c, jt, jf, k in insns)


# ------------------------------------------------------------------ the cache

def cache_key(p):
    """What the program depends on: the rules, libseccomp, and this code."""
    basis = {k: p[k] for k in ("default", "archs", "rules", "optimize", "enosys_stub", "stub_names")}
    text = jsonlite.dumps([__version__, libseccomp_version(), basis])
    return sha256()(text.encode()).hexdigest()


def sha256():
    """CPython's own SHA-256: hashlib would load OpenSSL first (about 8 ms per create)."""
    try:
        from _sha2 import sha256 as h       # 3.12+: _sha256 and _sha512 merged (gh-101924)
    except ImportError:
        try:
            from _sha256 import sha256 as h  # 3.11
        except ImportError:
            # an interpreter built without its own SHA-2 (--with-builtin-hashlib-hashes=blake2)
            from hashlib import sha256 as h
    return h


def program(p, root):
    """The compiled program for a plan, from <root>/@seccomp when a previous create compiled it."""
    d = oslite.path.join(root, CACHE_DIR)
    # a program planted there would be loaded as the container's filter
    check_private_dir(d, "seccomp cache")
    path = oslite.path.join(d, cache_key(p) + ".bpf")
    try:
        fd = oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC | oslite.O_NOFOLLOW)
    except FileNotFoundError:
        pass
    else:
        try:
            data = oslite.read(fd, BPF_MAXINSNS * INSN + 1)
        finally:
            oslite.close(fd)
        if data and len(data) % INSN == 0 and len(data) <= BPF_MAXINSNS * INSN:
            log.debug(f"seccomp: {len(data) // INSN} BPF instructions from the cache")
            return data
    data = compile_program(p)
    log.debug(f"seccomp: compiled {len(data) // INSN} BPF instructions")
    _store(d, path, data)
    return data


def _store(d, path, data):
    """Write atomically (concurrent creates may race); keep at most CACHE_ENTRIES programs."""
    try:
        oslite.makedirs_all(oslite.path.dirname(d), 0o711, exist_ok=True)   # the runtime root, as state.py makes it
        oslite.makedirs_all(d, 0o700, exist_ok=True)
        names = [n for n in oslite.listdir(d) if n.endswith(".bpf")]
        if len(names) >= CACHE_ENTRIES:
            names.sort(key=lambda n: _mtime(oslite.path.join(d, n)))
            for n in names[:len(names) - CACHE_ENTRIES + 1]:
                _unlink(oslite.path.join(d, n))
        tmp = f"{path}.{oslite.getpid()}.tmp"
        fd = oslite.open(tmp, oslite.O_WRONLY | oslite.O_CREAT | oslite.O_EXCL | oslite.O_CLOEXEC | oslite.O_NOFOLLOW, 0o600)
        try:
            oslite.write(fd, data)
        finally:
            oslite.close(fd)
        oslite.rename(tmp, path)
    except OSError:
        pass   # a cache that cannot be written (read-only root) only costs time


def _mtime(path):
    try:
        return oslite.stat(path).st_mtime_ns
    except OSError:
        return 0


def _unlink(path):
    try:
        oslite.unlink(path)
    except OSError:
        pass


# ------------------------------------------------------------------ create and exec

def prepare(p, root):
    """seccomp.prepare's work for a plan."""
    flags = filter_flags(p)
    bpf = program(p, root)
    return {"bpf_len": len(bpf), "flags": flags, "listener": p["listener"], "metadata": p["metadata"]}, bpf
