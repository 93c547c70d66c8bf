"""Device rules (CLI process, pure): the config + runc's defaults, the v1 emulator, the v2 eBPF program.

One emulator serves both drivers, as in runc: it reduces a rule list to an
allow-list or deny-list with exceptions, refusing the rules cgroup v1 cannot
express (a hole punched into a wildcard).  v1 writes the difference between
the cgroup's current devices.list and the target; v2 compiles the target
into a BPF_PROG_TYPE_CGROUP_DEVICE program (instructions as data, encoded
to the kernel's struct bpf_insn by `encode`).
"""
from pyrunc.errors import BadConfig, Problem, refuse

WILDCARD = -1

# runc's AllowedDevices (libcontainer/specconv): appended after the config's
# rules; an entry with a path is dropped when linux.devices has that path.
DEFAULT_RULES = (
    ("c", WILDCARD, WILDCARD, "m", True, None),
    ("b", WILDCARD, WILDCARD, "m", True, None),
    ("c", 1, 3, "rwm", True, "/dev/null"),
    ("c", 1, 8, "rwm", True, "/dev/random"),
    ("c", 1, 7, "rwm", True, "/dev/full"),
    ("c", 5, 0, "rwm", True, "/dev/tty"),
    ("c", 1, 5, "rwm", True, "/dev/zero"),
    ("c", 1, 9, "rwm", True, "/dev/urandom"),
    ("c", 136, WILDCARD, "rwm", True, None),   # /dev/pts/*
    ("c", 5, 2, "rwm", True, None),            # /dev/ptmx
    ("c", 10, 200, "rwm", True, None),         # /dev/net/tun (kept by runc for compatibility)
)


def rules(spec_rules, linux_devices=(), where="/linux/resources/devices", problems=None):
    """[(type, major, minor, access, allow)]: the config's rules, then runc's defaults.

    A bad rule goes to `problems` (without the list: BadConfig).  The access
    string is read as runc reads it: the letters r, w and m in any order and
    number, any other character ignored; one granting none of them is
    refused (runc's v1 driver fails on it: "resulting devices cgroup doesn't
    precisely match target").
    """
    found = [] if problems is None else problems
    out = []
    for i, d in enumerate(spec_rules):
        t = d.get("type", "a") or "a"
        access = d.get("access", "")
        if t not in ("a", "b", "c"):
            found.append(Problem(f"{where}/{i}/type", f"invalid cgroup device type {t!r}"))
            continue
        if not access:
            found.append(Problem(f"{where}/{i}/access", "device access cannot be empty"))
            continue
        if not _perms(access):
            found.append(Problem(f"{where}/{i}/access", f"{access!r} grants none of r, w and m"))
            continue
        major, minor = d.get("major", WILDCARD), d.get("minor", WILDCARD)
        out.append((t, max(major, WILDCARD), max(minor, WILDCARD), _perms(access), d.get("allow", False)))
    paths = {d.get("path") for d in linux_devices}
    for t, major, minor, access, allow, path in DEFAULT_RULES:
        if path is None or path not in paths:
            out.append((t, major, minor, access, allow))
    if problems is None:
        refuse(found)
    return out


def _perms(access):
    return "".join(ch for ch in "rwm" if ch in access)


def _union(a, b):
    return _perms(a + b)


def _minus(a, b):
    return "".join(ch for ch in a if ch not in b)


class Emulator:
    """What a v1 devices cgroup would hold: a default and exceptions keyed by (type, major, minor)."""

    def __init__(self, default_allow=False, exceptions=None):
        self.default_allow = default_allow
        self.exceptions = dict(exceptions or {})

    def __eq__(self, other):
        return (self.default_allow, self.exceptions) == (other.default_allow, other.exceptions)

    def apply(self, rule):
        t, major, minor, access, allow = rule
        if t == "a":
            self.default_allow, self.exceptions = allow, {}
            return
        key = (t, major, minor)
        if allow == self.default_allow:
            self._remove(key, access)
        else:
            self.exceptions[key] = _union(self.exceptions.get(key, ""), access)

    def _remove(self, key, access):
        t, major, minor = key
        for partial in ((t, WILDCARD, minor), (t, major, WILDCARD), (t, WILDCARD, WILDCARD)):
            if partial != key and set(self.exceptions.get(partial, "")) & set(access):
                raise BadConfig(f"device rule {_fmt(key, access)} cannot punch a hole in the wildcard "
                                f"rule {_fmt(partial, self.exceptions[partial])} (cgroup v1 cannot express it)")
        left = _minus(self.exceptions.get(key, ""), access)
        if left:
            self.exceptions[key] = left
        else:
            self.exceptions.pop(key, None)

    def ordered(self):
        return _ordered(self.exceptions)

    def transition(self, target):
        """The devices.allow/deny writes turning this cgroup into `target`: [(allow, line)]."""
        out = []
        old = self.exceptions
        if self.default_allow or self.default_allow != target.default_allow:
            out.append((target.default_allow, "a *:* rwm"))
            old = {}
        for key, perms in _ordered(old):
            dropped = _minus(perms, target.exceptions.get(key, ""))
            if dropped:
                out.append((target.default_allow, _fmt(key, dropped)))
        for key, perms in target.ordered():
            gained = _minus(perms, old.get(key, ""))
            if gained:
                out.append((not target.default_allow, _fmt(key, gained)))
        return out


def _ordered(exceptions):
    """Exceptions sorted as runc sorts them: major, minor, type."""
    return sorted(exceptions.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))


def emulate(rule_list, problems=None):
    """The Emulator after every rule; a rule v1 cannot express goes to `problems` (without the list: BadConfig)."""
    emu = Emulator()
    for r in rule_list:
        try:
            emu.apply(r)
        except BadConfig as e:
            if problems is None:
                raise
            problems.append(Problem("", str(e)))
    return emu


def from_list(text):
    """The emulator of a v1 cgroup's devices.list ("a *:* rwm" means allow everything)."""
    emu = Emulator()
    for line in text.split("\n"):
        if not line.strip():
            continue
        f = line.replace(":", " ").split()
        if len(f) != 4:
            raise ValueError(f"malformed devices.list line {line!r}")
        if f[0] == "a":
            emu.apply(("a", WILDCARD, WILDCARD, "rwm", True))
            continue
        num = [WILDCARD if x == "*" else int(x) for x in f[1:3]]
        emu.apply((f[0], num[0], num[1], _perms(f[3]), True))
    return emu


def _fmt(key, perms):
    t, major, minor = key
    return f"{t} {'*' if major == WILDCARD else major}:{'*' if minor == WILDCARD else minor} {perms}"


# ------------------------------------------------------------ cgroup v2: eBPF
# struct bpf_cgroup_dev_ctx { u32 access_type (type | access << 16); u32 major; u32 minor; }
BPF_DEVCG_ACC = {"m": 1, "r": 2, "w": 4}
BPF_DEVCG_DEV = {"b": 1, "c": 2}
# opcodes (linux/bpf_common.h, linux/bpf.h)
LDX_W = 0x61          # BPF_LDX | BPF_MEM | BPF_W
AND32_K = 0x54        # BPF_ALU | BPF_AND | BPF_K
RSH32_K = 0x74        # BPF_ALU | BPF_RSH | BPF_K
MOV32_K = 0xB4        # BPF_ALU | BPF_MOV | BPF_K
MOV32_X = 0xBC        # BPF_ALU | BPF_MOV | BPF_X
JNE_K = 0x55          # BPF_JMP | BPF_JNE | BPF_K
JNE_X = 0x5D          # BPF_JMP | BPF_JNE | BPF_X
JEQ_K = 0x15          # BPF_JMP | BPF_JEQ | BPF_K
EXIT = 0x95           # BPF_JMP | BPF_EXIT
NEXT = "next"         # jump target: the start of the next block


def program(rule_list, problems=None):
    """The device filter as [(opcode, dst, src, offset, imm)] (runc's devicefilter.go, block by block).

    R2 = device type, R3 = requested access, R4 = major, R5 = minor; each
    exception is a block that returns its verdict when everything matches
    and jumps to the next block otherwise; the last block returns the default.
    """
    emu = emulate(rule_list, problems)
    insns = [(LDX_W, 2, 1, 0, 0), (AND32_K, 2, 0, 0, 0xFFFF),
             (LDX_W, 3, 1, 0, 0), (RSH32_K, 3, 0, 0, 16),
             (LDX_W, 4, 1, 4, 0), (LDX_W, 5, 1, 8, 0)]
    for (t, major, minor), perms in emu.ordered():
        block = [(JNE_K, 2, 0, NEXT, BPF_DEVCG_DEV[t])]
        access = sum(BPF_DEVCG_ACC[ch] for ch in perms)
        if access != 7 and not emu.default_allow:
            # an allow exception covers a request only if it grants every bit asked: (R3 & access) == R3
            block += [(MOV32_X, 1, 3, 0, 0), (AND32_K, 1, 0, 0, access), (JNE_X, 1, 3, NEXT, 0)]
        elif access != 7:
            # a deny exception refuses a request asking for any of its bits, as v1 does
            # (runc's program only refuses requests it covers completely: "rw" passes a "w" deny)
            block += [(MOV32_X, 1, 3, 0, 0), (AND32_K, 1, 0, 0, access), (JEQ_K, 1, 0, NEXT, 0)]
        if major != WILDCARD:
            block.append((JNE_K, 4, 0, NEXT, major))
        if minor != WILDCARD:
            block.append((JNE_K, 5, 0, NEXT, minor))
        block += [(MOV32_K, 0, 0, 0, 0 if emu.default_allow else 1), (EXIT, 0, 0, 0, 0)]
        end = len(insns) + len(block)
        insns += [(op, d, s, end - (len(insns) + i) - 1 if off == NEXT else off, imm)
                  for i, (op, d, s, off, imm) in enumerate(block)]
    insns += [(MOV32_K, 0, 0, 0, 1 if emu.default_allow else 0), (EXIT, 0, 0, 0, 0)]
    return insns


def encode(insns):
    """struct bpf_insn[]: u8 code, u8 dst:4|src:4, s16 off, s32 imm (little-endian host)."""
    out = bytearray()
    for op, dst, src, off, imm in insns:
        if imm > 0x7FFFFFFF:
            imm -= 1 << 32   # the kernel compares 32-bit immediates sign-extended; u32 majors wrap
        out += bytes((op, dst | (src << 4)))
        out += off.to_bytes(2, "little", signed=True) + imm.to_bytes(4, "little", signed=True)
    return bytes(out)

