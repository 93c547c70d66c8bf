"""Scheduler, I/O priority, personality, CPU affinity and memory policy: names to numbers (CLI) and applying them (init)."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.errors import Error, Problem
from pyrunc.linux import syscalls as S

SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4,
                  "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
               "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10,
               "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20, "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
IOPRIO_WHO_PROCESS = 1
PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}
# set_mempolicy(2)'s modes and the flags or'ed into the mode (linux/mempolicy.h)
MPOL_MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
              "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
MPOL_FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_STATIC_NODES": 1 << 15}
_MPOL_NO_NODES = {"MPOL_DEFAULT", "MPOL_LOCAL"}
_MPOL_NEED_NODES = {"MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED_MANY"}


def check(proc, where, problems):
    """Problems with process.scheduler/ioPriority (config.json's or exec's process)."""
    sch = proc.get("scheduler")
    if sch is not None:
        if sch.get("policy") not in SCHED_POLICIES:
            problems.append(Problem(f"{where}/scheduler/policy", f"unknown policy {sch.get('policy')!r}"))
        for f in sch.get("flags", ()):
            if f not in SCHED_FLAGS:
                problems.append(Problem(f"{where}/scheduler/flags", f"unknown flag {f!r}"))
        if sch.get("policy") == "SCHED_DEADLINE" and not sch.get("runtime"):
            problems.append(Problem(f"{where}/scheduler", "SCHED_DEADLINE needs runtime, deadline and period"))
    io = proc.get("ioPriority")
    if io is not None:
        if io.get("class") not in IOPRIO_CLASSES:
            problems.append(Problem(f"{where}/ioPriority/class", f"unknown class {io.get('class')!r}"))
        if not 0 <= io.get("priority", 0) <= 7:
            problems.append(Problem(f"{where}/ioPriority/priority", f"{io.get('priority')} is outside 0..7"))


def check_memory_policy(mp, problems):
    """Problems with linux.memoryPolicy: the modes and flags set_mempolicy(2) knows, and its rules
    on nodes (none for the default and local modes, some for those that choose among nodes)."""
    where = "/linux/memoryPolicy"
    mode = mp.get("mode")
    if mode not in MPOL_MODES:
        problems.append(Problem(f"{where}/mode", f"unknown memory policy mode {mode!r}"))
    for f in mp.get("flags", ()):
        if f not in MPOL_FLAGS:
            problems.append(Problem(f"{where}/flags", f"unknown memory policy flag {f!r}"))
    nodes = mp.get("nodes", "").strip()
    if nodes:
        try:
            cpu_list(nodes, "node")
        except Error as e:
            problems.append(Problem(f"{where}/nodes", str(e)))
    if mode in _MPOL_NO_NODES and nodes:
        problems.append(Problem(f"{where}/nodes", f"{mode} takes no nodes"))
    if mode in _MPOL_NEED_NODES and not nodes:
        problems.append(Problem(f"{where}/nodes", f"{mode} needs at least one node"))


def plan(proc, memory_policy=None):
    """Numbers for the executor, from a checked process (and the container's linux.memoryPolicy)."""
    out = {"scheduler": None, "ioprio": None, "cpus_final": None, "mempolicy": None}
    if memory_policy is not None:
        mode = MPOL_MODES[memory_policy["mode"]]
        for f in memory_policy.get("flags", ()):
            mode |= MPOL_FLAGS[f]
        nodes = memory_policy.get("nodes", "").strip()
        out["mempolicy"] = [mode, *(cpu_list(nodes, "node") if nodes else ())]
    sch = proc.get("scheduler")
    if sch is not None:
        flags = 0
        for f in sch.get("flags", ()):
            flags |= SCHED_FLAGS[f]
        out["scheduler"] = [SCHED_POLICIES[sch["policy"]], flags, sch.get("nice", 0), sch.get("priority", 0),
                            sch.get("runtime", 0), sch.get("deadline", 0), sch.get("period", 0)]
    io = proc.get("ioPriority")
    if io is not None:
        out["ioprio"] = IOPRIO_CLASSES[io["class"]] << 13 | io.get("priority", 0)
    aff = proc.get("execCPUAffinity", {})
    if aff.get("final"):
        out["cpus_final"] = cpu_list(aff["final"])
    return out


def cpu_list(text, what="CPU"):
    """"0-2,5" -> [0, 1, 2, 5] (CPUs, or NUMA nodes)"""
    cpus = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            if int(lo) < 0 or int(hi or lo) < int(lo):
                raise ValueError
            cpus.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise Error(f"invalid {what} list {text!r}") from None
    return cpus


def personality_value(pers):
    if pers.get("flags"):
        raise Error(f"personality flags {pers['flags']} are not supported (runtime-spec defines none)")
    domain = pers.get("domain")
    if domain not in PERSONALITY_DOMAINS:
        raise Error(f"unknown personality domain {domain!r}: use LINUX or LINUX32")
    return PERSONALITY_DOMAINS[domain]


def apply(attrs):
    """In the init, before pyrunc-init: all of these survive execve."""
    if attrs["scheduler"] is not None:
        policy, flags, nice, prio, runtime, deadline, period = attrs["scheduler"]
        try:
            S.sched_setattr(0, policy, flags, nice, prio, runtime, deadline, period)
        except OSError as e:
            raise Error(f"setting the scheduler: {e.strerror}") from None
    if attrs["ioprio"] is not None:
        try:
            S.ioprio_set(IOPRIO_WHO_PROCESS, 0, attrs["ioprio"])
        except OSError as e:
            raise Error(f"setting the I/O priority: {e.strerror}") from None
    if attrs["cpus_final"] is not None:
        try:
            oslite.sched_setaffinity(0, attrs["cpus_final"])
        except OSError as e:
            raise Error(f"setting the CPU affinity: {e.strerror}") from None
    if attrs["mempolicy"] is not None:
        # the calling thread's policy, kept across fork and execve (set_mempolicy(2)): pyrunc-init's
        # and the program's; nodes outside the cpuset's mems or absent are refused here
        mode, *nodes = attrs["mempolicy"]
        try:
            S.set_mempolicy(mode, nodes)
        except OSError as e:
            raise Error(f"setting the memory policy: {e.strerror}") from None
