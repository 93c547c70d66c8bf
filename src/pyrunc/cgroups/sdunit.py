"""The systemd driver's pure part (CLI process): cgroupsPath "slice:prefix:name", slices, unit properties, as runc.

Everything here is data in, data out: no D-Bus (cgroups.sdbus) and no
cgroup file.  A property is (name, (D-Bus signature, value)), the shape
jeepney sends as an a(sv) entry.  The conversions and their order are
runc's (libcontainer/specconv, cgroups/systemd common.go, v2.go, cpuset.go).
"""
from pyrunc.cgroups import devices
from pyrunc.cgroups.resources import shares_to_weight, swap_v2
from pyrunc.errors import BadConfig, Error

UINT64_MAX = (1 << 64) - 1     # systemd's "infinity" (runc: uint64(-1))
DEFAULT_PERIOD = 100000        # the kernel's default cpu quota period, in µs
SLICE = ".slice"


def quote(s):
    """Go's %q of a string, as runc's messages print it."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch) or f"\\x{ord(ch):02x}")
    return "".join(out + ['"'])


def parse_path(cgroups_path, cid):
    """(parent slice, scope prefix, name) from cgroupsPath (runc's specconv); parent "" is the default."""
    if not cgroups_path:
        return "", "runc", cid
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise BadConfig(f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
                        f"got {quote(cgroups_path)} instead")
    return parts[0], parts[1], parts[2]


def expand_slice(slice_name):
    """systemd's slice hierarchy as a path: "a-b.slice" -> "/a.slice/a-b.slice" (runc's ExpandSlice)."""
    bad = Error(f"invalid slice name: {slice_name}")
    if len(slice_name) < len(SLICE) or not slice_name.endswith(SLICE) or "/" in slice_name:
        raise bad
    stem = slice_name[:-len(SLICE)]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for component in stem.split("-"):
        if not component:      # "a--b.slice" and "-a.slice" are not slices
            raise bad
        path += "/" + prefix + component + SLICE
        prefix += component + "-"
    return path


def unit_name(prefix, name):
    """A scope "<prefix>-<name>.scope", unless the name asks for a slice (runc's getUnitName)."""
    return name if name.endswith(SLICE) else f"{prefix}-{name}.scope"


def default_slice(rootless):
    return "user.slice" if rootless else "system.slice"


def start_properties(unit, name, parent, rootless, pid, extra=()):
    """StartTransientUnit's properties for the container's unit (runc's Apply); `extra` last (the
    annotations' properties)."""
    parent = parent or default_slice(rootless)
    props = [("Description", ("s", "libcontainer container " + name))]
    if unit.endswith(SLICE):
        props.append(("Wants", ("as", [parent])))        # a slice's parent is a dependency
    else:
        props += [("Slice", ("s", parent)), ("Delegate", ("b", True))]
    if pid is not None:
        props.append(("PIDs", ("au", [pid])))
    # always on, as runc: the same accounting as the fs drivers, and memory cannot be joined later
    props += [(p, ("b", True)) for p in ("MemoryAccounting", "CPUAccounting", "IOAccounting", "TasksAccounting")]
    props.append(("DefaultDependencies", ("b", False)))
    return props + list(extra)


def version_number(text):
    """systemd's version number from its Version property ("v245.4-1.fc32" -> 245), -1 when it has
    none (runc's systemdVersionAtoi: the first run of digits)."""
    digits = ""
    for ch in text:
        if ch.isdigit():
            digits += ch
        elif digits:
            break
    return int(digits) if digits else -1


ANNOTATION = "org.systemd.property."
# GVariant's type keywords for a number (godbus's ParseVariant); a bare integer is an int32
NUMBER_TYPES = {"byte": "y", "int16": "n", "uint16": "q", "int32": "i", "uint32": "u", "int64": "x",
                "uint64": "t", "double": "d"}


def annotation_properties(annotations):
    """Unit properties from "org.systemd.property.NAME" annotations (runc's initSystemdProps).

    The value is GVariant text; pyrunc reads its common forms: true/false, numbers (with a type
    keyword: "uint64 15"), 'strings' and arrays of them (['a', 'b'], @as []).  A NAME ending in a
    lowercase letter + "Sec" is given to systemd as NAME-USec, in microseconds."""
    props = []
    for key, text in sorted(annotations.items()):
        if not key.startswith(ANNOTATION):
            continue
        name = key[len(ANNOTATION):]
        if len(name) < 3:
            raise BadConfig(f"annotation {key} name incorrect: too short")
        if not all("A" <= ch <= "Z" or "a" <= ch <= "z" for ch in name):
            raise BadConfig(f"annotation {key} name incorrect: contains non-alphabetic character")
        try:
            value = gvariant(text)
            if name.endswith("Sec") and "a" <= name[-4:-3] <= "z":
                name = name[:-3] + "USec"
                if value[0] not in "ynqiuxtd" or value[1] < 0:
                    raise ValueError("not a number")
                value = ("t", int(value[1] * 1000000))
        except ValueError as e:
            raise BadConfig(f"annotation {key}={text} value parse error: {e}") from None
        props.append((name, value))
    return props


def gvariant(text):
    """(signature, value) of a GVariant text value of the forms annotation_properties reads."""
    t = text.strip()
    if t in ("true", "false"):
        return ("b", t == "true")
    if t == "@as []":
        return ("as", [])
    if t.startswith("[") and t.endswith("]"):
        items = [x.strip() for x in t[1:-1].split(",") if x.strip()]
        if not items:
            raise ValueError("an empty array needs its type (@as [])")
        return ("as", [_string(x) for x in items])
    if t[:1] in ("'", '"'):
        return ("s", _string(t))
    word, _, rest = t.partition(" ")
    sig, num = (NUMBER_TYPES[word], rest.strip()) if word in NUMBER_TYPES else ("i", t)
    try:
        return (sig, float(num) if sig == "d" else int(num, 10))
    except ValueError:
        raise ValueError(f"cannot read {text!r}") from None


def _string(t):
    if len(t) < 2 or t[0] != t[-1] or t[0] not in "'\"" or "\\" in t or t[0] in t[1:-1]:
        raise ValueError(f"cannot read {t!r} as a string")
    return t[1:-1]


def _u64(v):
    return ("t", v & UINT64_MAX)     # -1 is infinity, as Go's uint64(int64(-1))


def range_to_bits(text):
    """A cpuset list ("1,3-5") as systemd's AllowedCPUs bytes: bit n of byte n // 8 (runc's RangeToBits,
    with the byte order runc 1.2 fixed: 1.1.5 sent big-endian bytes that systemd misreads)."""
    bits = 0
    for r in text.split(","):
        r = r.strip()
        if not r:
            continue
        lo, dash, hi = r.partition("-")
        start, end = _uint32(lo), _uint32(hi) if dash else None
        if end is None:
            end = start
        elif start > end:
            raise ValueError("invalid range: " + r)
        for i in range(start, end + 1):
            bits |= 1 << i
    if not bits:
        raise ValueError("empty value")
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def _uint32(s):
    if not s.isdigit() or int(s) >= 1 << 32:
        raise ValueError(f'strconv.ParseUint: parsing {quote(s)}: invalid syntax')
    return int(s)


def cpu_quota(quota, period, version):
    """CPUQuotaPeriodUSec and CPUQuotaPerSecUSec (runc's addCpuQuota)."""
    props = []
    if period:
        if version >= 242:     # systemd knows CPUQuotaPeriodUSec since v242
            props.append(("CPUQuotaPeriodUSec", ("t", period)))
    if quota or period:
        per_sec = UINT64_MAX
        if quota > 0:
            # systemd keeps CPUQuota as whole percents: round up to 10 ms per second so that
            # the cgroup's own cpu.max (written after) is not above what systemd allows
            per_sec = quota * 1000000 // (period or DEFAULT_PERIOD)
            if per_sec % 10000:
                per_sec = (per_sec // 10000 + 1) * 10000
        props.append(("CPUQuotaPerSecUSec", ("t", per_sec)))
    return props


def cpuset(cpus, mems, version):
    """AllowedCPUs and AllowedMemoryNodes (runc's addCpuset; systemd v244 and later)."""
    props = []
    if not (cpus or mems) or version < 244:
        return props
    for value, prop, field in ((cpus, "AllowedCPUs", "Cpus"), (mems, "AllowedMemoryNodes", "Mems")):
        if value:
            try:
                props.append((prop, ("ay", range_to_bits(value))))
            except ValueError as e:
                raise BadConfig(f"resources.CPU.{field}={quote(value)} conversion error: {e}") from None
    return props


UNIFIED_MEMORY = {"memory.high": "MemoryHigh", "memory.low": "MemoryLow", "memory.min": "MemoryMin",
                  "memory.max": "MemoryMax", "memory.swap.max": "MemorySwapMax"}
UNIFIED_CPUSET = {"cpuset.cpus": "AllowedCPUs", "cpuset.mems": "AllowedMemoryNodes"}


def unified(res_unified, version):
    """The unified entries systemd has a property for (runc's unifiedResToSystemdProps); the others
    are only written to the cgroup files."""
    props = []
    for key, value in res_unified.items():
        if "/" in key:
            raise BadConfig(f"unified resource {quote(key)} must be a file name (no slashes)")
        if "." not in key:
            raise BadConfig(f"unified resource {quote(key)} must be in the form CONTROLLER.PARAMETER")
        v = value.strip()
        try:
            if key == "cpu.max":
                f = v.split()
                if not 1 <= len(f) <= 2:
                    raise BadConfig(f"unified resource {quote(key)} value invalid: {quote(v)}")
                quota = 0 if f[0] == "max" else _int(f[0], key, "period")
                period = _uint(f[1], key, "quota") if len(f) == 2 else DEFAULT_PERIOD
                props += cpu_quota(quota, period, version)
            elif key == "cpu.weight":
                props.append(("CPUWeight", ("t", _uint(v, key))))
            elif key in UNIFIED_CPUSET:
                if version >= 244:
                    props.append((UNIFIED_CPUSET[key], ("ay", range_to_bits(v))))
            elif key in UNIFIED_MEMORY:
                props.append((UNIFIED_MEMORY[key], ("t", UINT64_MAX if v == "max" else _uint(v, key))))
            elif key == "pids.max":
                props.append(("TasksMax", ("t", UINT64_MAX if v == "max" else _uint(v, key))))
        except ValueError as e:
            raise BadConfig(f"unified resource {quote(key)}={quote(v)} conversion error: {e}") from None
    return props


def _uint(s, key, what="value"):
    if not s.isdigit() or int(s) > UINT64_MAX:
        raise BadConfig(f"unified resource {quote(key)} {what} conversion error: "
                        f"strconv.ParseUint: parsing {quote(s)}: invalid syntax")
    return int(s)


def _int(s, key, what):
    try:
        return int(s, 10)
    except ValueError:
        raise BadConfig(f"unified resource {quote(key)} {what} conversion error: "
                        f"strconv.ParseInt: parsing {quote(s)}: invalid syntax") from None


def resources(res, version, skip_devices=False, linux_devices=(), proc_devices="", exists=lambda p: True,
              warn=lambda msg: None):
    """SetUnitProperties' properties for the LinuxResources `res` (runc's genV2ResourcesProperties).

    version: systemd's; proc_devices: /proc/devices' text and exists(path) for the device rules.
    What systemd cannot say (io, hugetlb, rdma, most unified keys) is left to the cgroup files."""
    cpu, mem = res.get("cpu", {}), res.get("memory", {})
    props = [] if skip_devices else device_properties(res.get("devices", ()), linux_devices, proc_devices,
                                                      exists, warn)
    limit = mem.get("limit", 0)
    if limit:
        props.append(("MemoryMax", _u64(limit)))
    if mem.get("reservation", 0):
        props.append(("MemoryLow", _u64(mem["reservation"])))
    swap = swap_v2(mem.get("swap", 0), limit)
    if swap:
        props.append(("MemorySwapMax", _u64(swap)))
    idle = cpu.get("idle") == 1 and version >= 252       # CPUWeight=idle since systemd v252
    if idle:
        props.append(("CPUWeight", ("t", 0)))
    elif cpu.get("shares", 0):
        props.append(("CPUWeight", ("t", shares_to_weight(cpu["shares"]))))
    props += cpu_quota(cpu.get("quota", 0), cpu.get("period", 0), version)
    pids = res.get("pids", {}).get("limit", 0)
    if pids > 0 or pids == -1:
        props.append(("TasksMax", _u64(pids)))
    props += cpuset(cpu.get("cpus", ""), cpu.get("mems", ""), version)
    return props + unified(res.get("unified", {}), version)


# ------------------------------------------------------------ devices
def device_properties(spec_rules, linux_devices, proc_devices, exists, warn):
    """DevicePolicy and DeviceAllow for the device rules (runc's generateDeviceProperties).

    systemd only takes allow-lists: a deny-list other than "allow all" gets a temporary deny-all
    (the cgroup's own eBPF filter, installed after, is the one that holds)."""
    props = [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    emu = devices.emulate(devices.rules(spec_rules, linux_devices))
    if emu.default_allow:
        if not emu.exceptions:
            return [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
        warn("systemd doesn't support blacklist device rules -- applying temporary deny-all rule")
        return props
    allow = []
    for (t, major, minor), perms in emu.ordered():
        kind = "block" if t == "b" else "char"
        if major == devices.WILDCARD:
            if minor != devices.WILDCARD:
                warn(f"systemd doesn't support '*:n' device rules -- temporarily ignoring rule: {t} *:{minor} {perms}")
                continue
            path = kind + "-*"
        elif minor == devices.WILDCARD:
            path = device_group(proc_devices, t, major)
            if not path:
                warn(f"could not find device group for '{t}/{major}' in /proc/devices -- "
                     f"temporarily ignoring rule: {t} {major}:* {perms}")
                continue
        else:
            path = f"/dev/{kind}/{major}:{minor}"
            # systemd warns about a path that does not exist; /sys/dev has them all without udev
            if not exists(path) and not exists("/sys" + path):
                warn(f"skipping device {path} for systemd: no such file or directory")
                continue
        allow.append((path, perms))
    return props + [("DeviceAllow", ("a(ss)", allow))]


def device_group(proc_devices, t, major):
    """"char-NAME" or "block-NAME" of a major number in /proc/devices ("" when it has none)."""
    want = "Block devices:" if t == "b" else "Character devices:"
    section = None
    for line in proc_devices.splitlines():
        line = line.strip()
        if line.endswith("devices:"):
            section = line
            continue
        f = line.split()
        if section == want and len(f) == 2 and f[0].isdigit() and int(f[0]) == major:
            return ("block-" if t == "b" else "char-") + f[1]
    return ""


def show(props):
    """Properties as runc's error messages print them ([{Name:N Value:V} ...])."""
    def value(sig, v):
        if sig == "s":
            return quote(v)
        if sig == "b":
            return "true" if v else "false"
        if sig == "t":
            return f"uint64 {v}"
        if sig == "ay":
            return "0x" + v.hex()
        return f"@{sig} {v!r}"
    return "[" + " ".join(f"{{Name:{n} Value:{value(*sv)}}}" for n, sv in props) + "]"
