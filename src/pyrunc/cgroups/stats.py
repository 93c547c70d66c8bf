"""`events --stats` data (CLI process, pure): cgroup files -> runc 1.1's types.Stats JSON, key for key.

Every function takes `read(controller, file)` returning the file's text or
None; the drivers pass a reader over their directories.  Field names, order
and Go's `omitempty` rules follow runc's types/events.go, so the output can
be compared with runc's line for line.
"""

U64_MAX = (1 << 64) - 1


def _uint(text):
    """fscommon.GetCgroupParamUint: "max" is 2^64-1, negatives are 0, None stays None."""
    if text is None:
        return None
    t = text.strip()
    if t == "max":
        return U64_MAX
    try:
        v = int(t)
    except ValueError:
        return None
    return max(v, 0)


def _kv(text):
    """ "key value" lines -> {key: uint}."""
    out = {}
    for line in (text or "").splitlines():
        k, _, v = line.partition(" ")
        v = _uint(v)
        if k and v is not None:
            out[k] = v
    return out


def _omit(d):
    """Go's omitempty for scalars and slices: drop 0, "" and empty lists (not dicts)."""
    return {k: v for k, v in d.items() if v not in (0, "", None, [])}


def hugepage_sizes(names):
    """['2MB', '1GB'] from /sys/kernel/mm/hugepages entry names (hugepages-2048kB)."""
    out = []
    for n in names:
        if not (n.startswith("hugepages-") and n.endswith("kB") and n[10:-2].isdigit()):
            continue
        kb = int(n[10:-2])
        out.append(f"{kb >> 20}GB" if kb >= 1 << 20 else f"{kb >> 10}MB" if kb >= 1 << 10 else f"{kb}KB")
    return out


def cpu_list(text):
    """ "0-2,5" -> [0, 1, 2, 5]."""
    out = []
    for part in (text or "").strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _memory_entry(usage=0, limit=0, max_usage=0, failcnt=0):
    return {"limit": limit, **_omit({"usage": usage, "max": max_usage}), "failcnt": failcnt}


def _blkio_entries(text):
    out = []
    for line in (text or "").splitlines():
        f = line.replace(":", " ").split()
        if len(f) < 3:
            continue
        op, value = (f[2], f[3]) if len(f) == 4 else ("", f[2])
        out.append(_omit({"major": int(f[0]), "minor": int(f[1]), "op": op, "value": int(value)}))
    return out


# runc's choice of blkio files, best first: the first group whose first file has data wins
_BLKIO_GROUPS = (
    (("blkio.bfq.sectors_recursive", "sectorsRecursive"),
     ("blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"),
     ("blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"),
     ("blkio.bfq.io_merged_recursive", "ioMergedRecursive"),
     ("blkio.bfq.io_queued_recursive", "ioQueueRecursive"),
     ("blkio.bfq.time_recursive", "ioTimeRecursive"),
     ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.sectors_recursive", "sectorsRecursive"),
     ("blkio.io_service_time_recursive", "ioServiceTimeRecursive"),
     ("blkio.io_wait_time_recursive", "ioWaitTimeRecursive"),
     ("blkio.io_merged_recursive", "ioMergedRecursive"),
     ("blkio.io_queued_recursive", "ioQueueRecursive"),
     ("blkio.time_recursive", "ioTimeRecursive"),
     ("blkio.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced_recursive", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive")),
    (("blkio.throttle.io_serviced", "ioServicedRecursive"),
     ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive")),
)
_BLKIO_KEYS = ("ioServiceBytesRecursive", "ioServicedRecursive", "ioQueueRecursive", "ioServiceTimeRecursive",
               "ioWaitTimeRecursive", "ioMergedRecursive", "ioTimeRecursive", "sectorsRecursive")


def _blkio_v1(read):
    found = {}
    for group in _BLKIO_GROUPS:
        entries = [(key, _blkio_entries(read("blkio", f))) for f, key in group]
        if entries[0][1]:
            found = dict(entries)
            break
    return {k: found[k] for k in _BLKIO_KEYS if found.get(k)}


def _skeleton():
    return {"cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
            "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
                       "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
                       "sched_load_balance": 0, "sched_relax_domain_level": 0},
            "memory": {"usage": _memory_entry(), "swap": _memory_entry(), "kernel": _memory_entry(),
                       "kernelTCP": _memory_entry()},
            "pids": {}, "blkio": {}, "hugetlb": {}, "intel_rdt": {}, "network_interfaces": None}


def v1(read, has, page_sizes):
    """Stats of a v1 container; has(controller) says whether it has that hierarchy."""
    s = _skeleton()
    if has("cpuset"):
        cs = {"cpus": cpu_list(read("cpuset", "cpuset.cpus"))}
        for f in ("cpu_exclusive", "mems", "mem_hardwall", "mem_exclusive", "memory_migrate",
                  "memory_spread_page", "memory_spread_slab", "memory_pressure", "sched_load_balance",
                  "sched_relax_domain_level"):
            text = read("cpuset", "cpuset." + f)
            if f == "mems":
                cs[f] = cpu_list(text)
            elif f == "sched_relax_domain_level":
                cs[f] = int(text) if text else 0
            else:
                cs[f] = _uint(text) or 0
        s["cpuset"] = _omit_keys(cs, ("cpus", "mems"))
    if has("memory"):
        raw = _kv(read("memory", "memory.stat"))
        mem = {"cache": raw.get("cache", 0)}
        for key, name in (("usage", ""), ("swap", "memsw."), ("kernel", "kmem."), ("kernelTCP", "kmem.tcp.")):
            usage = _uint(read("memory", f"memory.{name}usage_in_bytes"))
            mem[key] = _memory_entry() if usage is None else _memory_entry(
                usage, _uint(read("memory", f"memory.{name}limit_in_bytes")) or 0,
                _uint(read("memory", f"memory.{name}max_usage_in_bytes")) or 0,
                _uint(read("memory", f"memory.{name}failcnt")) or 0)
        mem["raw"] = dict(sorted(raw.items()))
        s["memory"] = _omit_keys(mem, ("cache", "raw"))
    if has("cpu"):
        st = _kv(read("cpu", "cpu.stat"))
        s["cpu"]["throttling"] = _omit({"periods": st.get("nr_periods", 0),
                                        "throttledPeriods": st.get("nr_throttled", 0),
                                        "throttledTime": st.get("throttled_time", 0)})
    if has("cpuacct"):
        usage = {"total": _uint(read("cpuacct", "cpuacct.usage")) or 0,
                 "percpu": [int(x) for x in (read("cpuacct", "cpuacct.usage_percpu") or "").split()]}
        kernel, user = [], []
        for line in (read("cpuacct", "cpuacct.usage_all") or "").splitlines()[1:]:
            f = line.split()
            if len(f) >= 3:
                user.append(int(f[1]))
                kernel.append(int(f[2]))
        usage["percpu_kernel"], usage["percpu_user"] = kernel, user
        ticks = _kv(read("cpuacct", "cpuacct.stat"))
        # cpuacct.stat counts USER_HZ (100) ticks; runc reports nanoseconds
        s["cpu"]["usage"] = {**_omit(usage), "kernel": ticks.get("system", 0) * 10_000_000,
                             "user": ticks.get("user", 0) * 10_000_000}
    if has("pids"):
        s["pids"] = _pids(read("pids", "pids.current"), read("pids", "pids.max"))
    if has("blkio"):
        s["blkio"] = _blkio_v1(read)
    if has("hugetlb"):
        for ps in page_sizes:
            pre = f"hugetlb.{ps}"
            rsvd = pre + ".rsvd" if read("hugetlb", pre + ".rsvd.usage_in_bytes") is not None else pre
            s["hugetlb"][ps] = _hugetlb(_uint(read("hugetlb", rsvd + ".usage_in_bytes")) or 0,
                                        _uint(read("hugetlb", rsvd + ".max_usage_in_bytes")) or 0,
                                        _uint(read("hugetlb", rsvd + ".failcnt")) or 0)
    return s


def _omit_keys(d, keys):
    return {k: v for k, v in d.items() if k not in keys or v not in (0, [], {}, None)}


def _pids(current, limit):
    lim = _uint(limit) or 0
    return _omit({"current": _uint(current) or 0, "limit": 0 if lim == U64_MAX else lim})


def _hugetlb(usage, max_usage, failcnt):
    return {**_omit({"usage": usage, "max": max_usage}), "failcnt": failcnt}


def v2(read, page_sizes):
    """Stats of a v2 container (runc 1.1's fs2: no per-cpu usage, no kernel memory)."""
    s = _skeleton()
    current = read("", "pids.current")
    if current is None:
        current = str(len((read("", "cgroup.procs") or "").split()))
    s["pids"] = _pids(current, read("", "pids.max"))
    raw = _kv(read("", "memory.stat"))
    if raw:
        usage = _memory_entry(_uint(read("", "memory.current")) or 0, _uint(read("", "memory.max")) or 0)
        # runc's swap entry is memory+swap, as on v1 (Go's uint64 sum wraps)
        limit = _uint(read("", "memory.swap.max")) or 0
        if limit != U64_MAX:
            limit = (limit + usage["limit"]) & U64_MAX
        swap = _memory_entry((_uint(read("", "memory.swap.current")) or 0) + usage.get("usage", 0), limit)
        s["memory"] = _omit_keys({"cache": raw.get("file", 0), "usage": usage, "swap": swap,
                                  "kernel": _memory_entry(), "kernelTCP": _memory_entry(),
                                  "raw": dict(sorted(raw.items()))}, ("cache",))
    blk = {"ioServiceBytesRecursive": [], "ioServicedRecursive": []}
    for line in (read("", "io.stat") or "").splitlines():
        dev, *items = line.split()
        major, _, minor = dev.partition(":")
        for item in items:
            k, _, v = item.partition("=")
            where = {"rbytes": ("ioServiceBytesRecursive", "Read"), "wbytes": ("ioServiceBytesRecursive", "Write"),
                     "rios": ("ioServicedRecursive", "Read"), "wios": ("ioServicedRecursive", "Write")}.get(k)
            if where:
                blk[where[0]].append(_omit({"major": int(major), "minor": int(minor), "op": where[1],
                                            "value": int(v)}))
    s["blkio"] = {k: v for k, v in blk.items() if v}
    st = _kv(read("", "cpu.stat"))
    if st:
        s["cpu"] = {"usage": {**_omit({"total": st.get("usage_usec", 0) * 1000}),
                              "kernel": st.get("system_usec", 0) * 1000, "user": st.get("user_usec", 0) * 1000},
                    "throttling": _omit({"periods": st.get("nr_periods", 0),
                                         "throttledPeriods": st.get("nr_throttled", 0),
                                         "throttledTime": st.get("throttled_usec", 0) * 1000})}
    for ps in page_sizes:
        usage = _uint(read("", f"hugetlb.{ps}.current"))
        if usage is not None:
            s["hugetlb"][ps] = _hugetlb(usage, 0, _kv(read("", f"hugetlb.{ps}.events")).get("max", 0))
    return s


def oom_kills(text):
    """The oom_kill counter of memory.events (v2) or memory.oom_control (v1)."""
    return _kv(text).get("oom_kill", 0)
