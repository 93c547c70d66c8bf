"""LinuxResources -> each driver's cgroup file writes (CLI process, pure): runc's conversions, order and checks.

A plan is data: `plan()` turns the config's resources, plus the few facts
read from the cgroup beforehand (`probes()`), into writes
(controller, file, value, flags, hint) that fs1/fs2 execute blindly, the
warnings to log, and the device rules (v1 writes or a v2 eBPF program).
The order of the writes is runc's (libcontainer/cgroups/fs and fs2).
"""
import math

from pyrunc.cgroups import devices
from pyrunc.errors import BadConfig, Problem, refuse

# flags of one write
MISSING_OK = 1   # ENOENT: skip it (optional files: hugetlb rsvd, swap accounting off, burst)
RETRY = 2        # EINVAL: write it again after the rest (period vs quota, rt period vs runtime)
READBACK = 4     # read it back: the kernel clamps instead of failing (cpu.shares)
BY_LINE = 8      # one write per line (a multi-line `unified` value)

KMEM_WARNING = "Kernel memory settings are ignored and will be removed"


def shares_to_weight(shares):
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000]; runc's quadratic fit, 1024 -> 100."""
    if shares == 0:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    lg = math.log2(shares)
    return math.ceil(10 ** ((lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0))


def blkio_to_io_weight(weight):
    """blkio weight [10, 1000] -> io.weight [1, 10000], linearly (runc)."""
    if weight == 0:
        return 0
    return 1 + max(weight - 10, 0) * 9999 // 990


def swap_v2(swap, memory):
    """memory.swap.max from the spec's memory+swap total (runc's ConvertMemorySwapToCgroupV2Value)."""
    if memory == -1 and swap == 0:
        return -1     # like v1: unlimited memory with unset swap means unlimited swap too
    if swap in (-1, 0) or memory == -1:
        return swap
    if memory == 0:
        raise BadConfig("unable to set swap limit without memory limit")
    if memory < 0:
        raise BadConfig(f"invalid memory value: {memory}")
    if swap < memory:
        raise BadConfig("memory+swap limit should be >= memory limit")
    return swap - memory


def _num(v):
    """runc's numToStr: 0 is unset, -1 is max."""
    return "" if v == 0 else "max" if v == -1 else str(v)


def probes(res, driver, skip_devices=False):
    """[(controller, file)] the plan needs read first (None when absent)."""
    mem, io = res.get("memory", {}), res.get("blockIO", {})
    out = []
    if driver == "fs1":
        if mem.get("limit", 0) and mem.get("swap", 0) not in (0, -1):
            out.append(("memory", "memory.limit_in_bytes"))
        if mem.get("limit", 0) == -1 and not mem.get("swap", 0):
            out.append(("memory", "memory.memsw.limit_in_bytes"))
        if io.get("weight") or io.get("weightDevice"):
            out.append(("blkio", "blkio.weight"))
        if not skip_devices:
            out.append(("devices", "devices.list"))
    else:
        if io.get("weight") or io.get("weightDevice"):
            out.append(("", "io.bfq.weight"))
        if mem.get("checkBeforeUpdate") and (mem.get("limit", 0) > 0 or mem.get("swap", 0) > 0):
            out.append(("", "memory.current"))
        if res.get("unified"):
            out.append(("", "cgroup.controllers"))
    return out


class Plan:
    def __init__(self, problems):
        self.writes = []      # (controller, file, value, flags, hint)
        self.warnings = []
        self.devices = None   # v1: the target Emulator (checked after writing); v2: eBPF instructions
        self.problems = problems

    def problem(self, pointer, message):
        self.problems.append(Problem(pointer, message))

    def w(self, ctrl, file, value, flags=0, hint=None):
        self.writes.append((ctrl, file, str(value), flags, hint))


def plan(res, driver, facts=None, controllers=(), skip_devices=False, linux_devices=(),
         where="/linux/resources", problems=None):
    """The writes for `res` (a typed LinuxResources dict) with the cgroup driver fs1 or fs2.

    facts: {(controller, file): content or None} for probes(); controllers:
    the v1 controllers this container has a hierarchy for.  What cannot be
    written goes to `problems`; without that list, the first problem found
    is raised (BadConfig, all of them on one line).
    """
    facts = facts or {}
    p = Plan([] if problems is None else problems)
    mem = res.get("memory", {})
    if "kernel" in mem or "kernelTCP" in mem:
        p.warnings.append(KMEM_WARNING)
    if driver == "fs1":
        _v1(p, res, facts, skip_devices, linux_devices, where)
        for ctrl in sorted({w[0] for w in p.writes} - set(controllers)):
            p.problem("", f"cannot set {ctrl} limit: container could not join or create cgroup "
                          f"(no {ctrl} hierarchy is mounted)")
    else:
        _v2(p, res, facts, skip_devices, linux_devices, where)
    if problems is None:
        refuse(p.problems)
    return p


def _pids(p, ctrl, res):
    limit = res.get("pids", {}).get("limit", 0)
    if limit:
        p.w(ctrl, "pids.max", limit if limit > 0 else "max")


def _cpuset(p, ctrl, cpu):
    if cpu.get("cpus"):
        p.w(ctrl, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        p.w(ctrl, "cpuset.mems", cpu["mems"])


def _hugetlb(p, ctrl, res, suffix):
    for h in res.get("hugepageLimits", ()):
        p.w(ctrl, f"hugetlb.{h['pageSize']}.{suffix}", h["limit"])
        # reservations (kernel 5.7+) follow the limit, so that a mapping fails at mmap, not at fault time
        p.w(ctrl, f"hugetlb.{h['pageSize']}.rsvd.{suffix}", h["limit"], MISSING_OK)


def _rdma(p, ctrl, res):
    for dev, lim in res.get("rdma", {}).items():
        text = dev
        if "hcaHandles" in lim:
            text += f" hca_handle={lim['hcaHandles']}"
        if "hcaObjects" in lim:
            text += f" hca_object={lim['hcaObjects']}"
        p.w(ctrl, "rdma.max", text)


def _v1(p, res, facts, skip_devices, linux_devices, where):
    cpu, mem, io = res.get("cpu", {}), res.get("memory", {}), res.get("blockIO", {})
    if res.get("unified"):
        p.problem(f"{where}/unified", "invalid configuration: cannot use unified on cgroup v1")
    _cpuset(p, "cpuset", cpu)
    if not skip_devices:
        target = devices.emulate(devices.rules(res.get("devices", ()), linux_devices, where + "/devices",
                                               p.problems), p.problems)
        current = facts.get(("devices", "devices.list"))
        if current is None:
            p.problem("", "the devices cgroup is not available: device access cannot be restricted")
        else:
            for allow, line in devices.from_list(current).transition(target):
                p.w("devices", "devices.allow" if allow else "devices.deny", line)
        p.devices = target
    # memory: memsw must stay >= the limit at every step, so the order depends on the current limit
    limit, swap = mem.get("limit", 0), mem.get("swap", 0)
    if limit == -1 and swap == 0 and facts.get(("memory", "memory.memsw.limit_in_bytes")) is not None:
        swap = -1
    order = ("limit", "swap")
    if limit and swap and (swap == -1 or int(facts.get(("memory", "memory.limit_in_bytes")) or 0) < swap):
        order = ("swap", "limit")
    for what in order:
        if what == "limit" and limit:
            p.w("memory", "memory.limit_in_bytes", limit)
        if what == "swap" and swap:
            p.w("memory", "memory.memsw.limit_in_bytes", swap)
    if mem.get("reservation", 0):
        p.w("memory", "memory.soft_limit_in_bytes", mem["reservation"])
    if mem.get("disableOOMKiller"):
        p.w("memory", "memory.oom_control", 1)
    if "swappiness" in mem:
        if mem["swappiness"] > 100:
            p.problem(f"{where}/memory/swappiness",
                      f"invalid memory swappiness value: {mem['swappiness']} (valid range is 0-100)")
        else:
            p.w("memory", "memory.swappiness", mem["swappiness"])
    # cpu: a period or burst the kernel refuses before the quota is set is retried after it
    if cpu.get("shares", 0):
        p.w("cpu", "cpu.shares", cpu["shares"], READBACK, "cpu-shares")
    quota = cpu.get("quota", 0)
    if cpu.get("period", 0):
        p.w("cpu", "cpu.cfs_period_us", cpu["period"], RETRY if quota else 0)
    if "burst" in cpu:
        p.w("cpu", "cpu.cfs_burst_us", cpu["burst"], MISSING_OK | (RETRY if quota else 0))
    if quota:
        p.w("cpu", "cpu.cfs_quota_us", quota)
    if "idle" in cpu:
        p.w("cpu", "cpu.idle", cpu["idle"])
    rt_runtime = cpu.get("realtimeRuntime", 0)
    if cpu.get("realtimePeriod", 0):
        p.w("cpu", "cpu.rt_period_us", cpu["realtimePeriod"], RETRY if rt_runtime else 0)
    if rt_runtime:
        p.w("cpu", "cpu.rt_runtime_us", rt_runtime)
    _pids(p, "pids", res)
    # blkio: kernels with BFQ and without CFQ (5.0+) only have the blkio.bfq.* weights
    bfq = "" if facts.get(("blkio", "blkio.weight")) is not None else "bfq."
    if io.get("weight", 0):
        p.w("blkio", f"blkio.{bfq}weight", io["weight"])
    if io.get("leafWeight", 0):
        p.w("blkio", "blkio.leaf_weight", io["leafWeight"])
    for d in io.get("weightDevice", ()):
        if d.get("weight", 0):
            p.w("blkio", f"blkio.{bfq}weight_device", f"{d['major']}:{d['minor']} {d['weight']}")
        if d.get("leafWeight", 0):
            p.w("blkio", "blkio.leaf_weight_device", f"{d['major']}:{d['minor']} {d['leafWeight']}")
    for key, file in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"),
                      ("throttleWriteIOPSDevice", "write_iops_device")):
        for d in io.get(key, ()):
            p.w("blkio", f"blkio.throttle.{file}", f"{d['major']}:{d['minor']} {d['rate']}")
    _hugetlb(p, "hugetlb", res, "limit_in_bytes")
    net = res.get("network", {})
    if net.get("classID", 0):
        p.w("net_cls", "net_cls.classid", net["classID"])
    for prio in net.get("priorities", ()):
        p.w("net_prio", "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}")
    _rdma(p, "rdma", res)


def _v2(p, res, facts, skip_devices, linux_devices, where):
    cpu, mem, io = res.get("cpu", {}), res.get("memory", {}), res.get("blockIO", {})
    _pids(p, "", res)
    limit, swap, low = mem.get("limit", 0), mem.get("swap", 0), mem.get("reservation", 0)
    if limit or swap or low:
        if mem.get("checkBeforeUpdate") and ("", "memory.current") in facts:
            usage = int(facts[("", "memory.current")] or 0)
            if swap > 0 and swap <= usage:
                p.problem("", f"rejecting memory+swap limit {swap} <= usage {usage}")
            if limit > 0 and limit <= usage:
                p.problem("", f"rejecting memory limit {limit} <= usage {usage}")
        try:
            text = _num(swap_v2(swap, limit)) or ("0" if swap > 0 else "")   # swap == limit: no swap at all
        except BadConfig as e:
            p.problem(f"{where}/memory/swap", str(e))
            text = ""
        if text:
            # without swap accounting there is no memory.swap.max; "no swap" and "max" then hold anyway
            p.w("", "memory.swap.max", text, MISSING_OK if text in ("max", "0") else 0)
        if limit:
            p.w("", "memory.max", _num(limit))
        if low:
            p.w("", "memory.low", _num(low))
    for key, what in (("disableOOMKiller", "disableOOMKiller"), ("swappiness", "memory swappiness")):
        if mem.get(key):
            p.warnings.append(f"{what} is not supported on cgroup v2: ignored")
    bfq = facts.get(("", "io.bfq.weight"))
    if io.get("weight", 0):
        if bfq is not None:
            p.w("", "io.bfq.weight", io["weight"])
        else:
            p.w("", "io.weight", blkio_to_io_weight(io["weight"]))
    if io.get("weightDevice"):
        # io.bfq.weight takes "MAJ:MIN WEIGHT" lines only where it reads "default N"
        if bfq is not None and not bfq.strip().isdigit():
            for d in io["weightDevice"]:
                if d.get("weight", 0):
                    p.w("", "io.bfq.weight", f"{d['major']}:{d['minor']} {d['weight']}")
        else:
            p.warnings.append("blockIO.weightDevice needs the BFQ I/O scheduler on cgroup v2: ignored")
    if io.get("leafWeight") or any(d.get("leafWeight") for d in io.get("weightDevice", ())):
        p.warnings.append("blockIO leaf weights do not exist on cgroup v2: ignored")
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for d in io.get(key, ()):
            p.w("", "io.max", f"{d['major']}:{d['minor']} {name}={d['rate']}")
    quota, period = cpu.get("quota", 0), cpu.get("period", 0)
    if "idle" in cpu:
        p.w("", "cpu.idle", cpu["idle"])
    if cpu.get("shares", 0):
        p.w("", "cpu.weight", shares_to_weight(cpu["shares"]))
    if "burst" in cpu:
        p.w("", "cpu.max.burst", cpu["burst"], RETRY if quota else 0)
    if quota or period:
        p.w("", "cpu.max", f"{quota if quota > 0 else 'max'} {period or 100000}")
    if cpu.get("realtimeRuntime", 0) or cpu.get("realtimePeriod", 0):
        # cgroup2 has no real-time group scheduling; runc ignores these fields there too
        p.warnings.append("cpu.realtimeRuntime and cpu.realtimePeriod are not supported on cgroup v2: ignored")
    if not skip_devices:
        p.devices = devices.program(devices.rules(res.get("devices", ()), linux_devices, where + "/devices",
                                                  p.problems), p.problems)
    _cpuset(p, "", cpu)
    _hugetlb(p, "", res, "max")
    _rdma(p, "", res)
    if res.get("network"):
        p.warnings.append("network classID and priorities are not supported on cgroup v2: ignored")
    available = set((facts.get(("", "cgroup.controllers")) or "").split())
    for key, value in res.get("unified", {}).items():
        if "/" in key:
            p.problem(f"{where}/unified", f"unified resource {key!r} must be a file name (no slashes)")
            continue
        ctrl, dot, _ = key.partition(".")
        if not dot:
            hint = f"unified resource {key!r} must be in the form CONTROLLER.PARAMETER"
        elif ctrl not in available and ctrl != "cgroup":
            hint = f"unified resource {key!r} can't be set: controller {ctrl!r} not available"
        else:
            hint = None
        p.w("", key, value, BY_LINE, hint)


# ------------------------------------------------------------ update
def update(saved, req):
    """The resources after `update`: runc's merge of a request into the saved resources.

    Absent means "keep"; quota and period keep the other's old value when only
    one of them is given; cpus, mems, burst, idle, pids and unified are
    replaced as given (absent = unset); devices are never updated.
    """
    new = {k: dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v
           for k, v in saved.items()}
    mem, cpu, io = req.get("memory", {}), req.get("cpu", {}), req.get("blockIO", {})
    if mem.get("limit") == -1 and "swap" not in mem:
        mem = dict(mem, swap=0)      # unlimited memory: avoid "swap limit without memory limit"
    nmem = new.setdefault("memory", {})
    for k in ("kernel", "kernelTCP"):     # ignored by runc, so never kept (or warned about again)
        nmem.pop(k, None)
    for k in ("limit", "reservation", "swap"):
        if k in mem:
            nmem[k] = mem[k]
    nmem["checkBeforeUpdate"] = mem.get("checkBeforeUpdate", False)
    ncpu = new.setdefault("cpu", {})
    p, q = cpu.get("period", 0), cpu.get("quota", 0)
    if bool(p) == bool(q):
        ncpu["period"], ncpu["quota"] = p, q
    elif p:
        ncpu["period"] = p
    else:
        ncpu["quota"] = q
    for k in ("shares", "realtimePeriod", "realtimeRuntime"):
        if k in cpu:
            ncpu[k] = cpu[k]
    if "idle" in cpu and "shares" not in cpu:
        ncpu["shares"] = 0
    for k in ("cpus", "mems", "burst", "idle"):
        ncpu.pop(k, None)
        if k in cpu:
            ncpu[k] = cpu[k]
    nio = new.setdefault("blockIO", {})
    for k in ("weight", "leafWeight"):
        if k in io:
            nio[k] = io[k]
    for k in ("weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
              "throttleWriteIOPSDevice"):
        for d in io.get(k, ()):
            kept = [x for x in nio.get(k, ()) if (x["major"], x["minor"]) != (d["major"], d["minor"])]
            nio[k] = kept + [d]
    new["pids"] = dict(req["pids"]) if "limit" in req.get("pids", {}) else {}
    new.pop("unified", None)
    if req.get("unified"):
        new["unified"] = dict(req["unified"])
    return new


RAM_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text):
    """docker/go-units RAMInBytes: NUMBER[ ][kmgtp][i][b], binary units ("100M", "1.5g", "512KiB")."""
    i = 0
    while i < len(text) and (text[i].isdigit() or text[i] == "."):
        i += 1
    number, rest = text[:i], text[i:]
    rest = rest[1:] if rest.startswith(" ") else rest
    unit = rest[:1].lower() if rest[:1].lower() in ("k", "m", "g", "t", "p") else ""
    rest = rest[len(unit):]
    rest = rest[1:] if rest[:1] in ("i", "I") else rest
    rest = rest[1:] if rest[:1] in ("b", "B") else rest
    parts = number.split(".")
    if rest or not all(x.isdigit() for x in parts) or len(parts) > 2:
        raise BadConfig(f"invalid size: {text!r}")
    return int(float(number) * RAM_UNITS[unit])


# runc update's flags -> where they go in a LinuxResources request
UPDATE_FLAGS = {
    "memory": ("memory", "limit", "ram"), "memory-reservation": ("memory", "reservation", "ram"),
    "memory-swap": ("memory", "swap", "ram"), "kernel-memory": ("memory", "kernel", "ram"),
    "kernel-memory-tcp": ("memory", "kernelTCP", "ram"),
    "cpu-share": ("cpu", "shares", "u64"), "cpu-period": ("cpu", "period", "u64"),
    "cpu-quota": ("cpu", "quota", "i64"), "cpu-burst": ("cpu", "burst", "u64"),
    "cpu-rt-period": ("cpu", "realtimePeriod", "u64"), "cpu-rt-runtime": ("cpu", "realtimeRuntime", "i64"),
    "cpu-idle": ("cpu", "idle", "i64"),
    "cpuset-cpus": ("cpu", "cpus", "str"), "cpuset-mems": ("cpu", "mems", "str"),
    "pids-limit": ("pids", "limit", "i64"), "blkio-weight": ("blockIO", "weight", "u16"),
}


# The flags the front end may do itself (steps.update_sections): each sets a key that update()
# replaces as given (absent = unset), whose value plan() writes as it is, alone, into one file.
# flag -> (section, key, controller, file, the values the front end takes: frontabi.FLAG_KINDS);
# a "natural" is a positive decimal written without leading zeros (the kernel would read "010" as
# octal, Python writes 10), a "line" any non-empty line.
FRONT_UPDATE = {
    "pids-limit": ("pids", "limit", "pids", "pids.max", "natural"),
    "cpuset-cpus": ("cpu", "cpus", "cpuset", "cpuset.cpus", "line"),
    "cpuset-mems": ("cpu", "mems", "cpuset", "cpuset.mems", "line"),
}


def front_update_exact(saved):
    """Whether an update of FRONT_UPDATE's flags alone may leave the saved resources as they are.

    update() merges such a request into keys every later merge replaces again
    (never reads back), and changes one thing a later merge does read: a
    saved period or quota becomes 0 (runc's pairing: a request without both
    sets both), which a request giving only one of them keeps.  Without a
    saved period and quota, writing the flags' files is the whole update."""
    cpu = saved.get("cpu", {})
    return not cpu.get("period", 0) and not cpu.get("quota", 0)


def request_from_flags(opts):
    """A LinuxResources request from `update`'s flags (runc: empty strings and weight 0 mean unset)."""
    req = {}
    for flag, (section, key, kind) in UPDATE_FLAGS.items():
        text = opts.get(flag)
        if text is None or text == "":
            continue
        if kind == "ram":
            value = -1 if text == "-1" else ram_in_bytes(text)
        elif kind == "str":
            value = text
        else:
            t = text[1:] if text.startswith("-") and kind == "i64" else text
            if not t.isdigit():
                raise BadConfig(f"invalid value for --{flag}: {text!r}")
            value = int(text)
            if kind == "u16" and value > 0xFFFF:
                raise BadConfig(f"invalid value for --{flag}: {text!r}")
            if kind == "u16" and value == 0:
                continue
        req.setdefault(section, {})[key] = value
    return req
