"""pause, resume, update, ps and events (CLI process): a container's cgroups after create, as runc drives them."""
import os
import sys

from pyrunc import jsonlite, log, state
from pyrunc.cgroups import base
from pyrunc.errors import BadConfig, Error, WrongState


def _manager(c):
    return base.from_state(c.data.get("cgroup") or {"driver": "none", "dirs": {}})


def pause(root, cid):
    with state.Container(root, cid).lock() as c:
        c.load()
        if c.status() not in ("running", "created"):
            raise WrongState("container not running")
        _manager(c).freeze()


def resume(root, cid):
    with state.Container(root, cid).lock() as c:
        c.load()
        if c.status() != "paused":
            raise WrongState("container not paused")
        _manager(c).thaw()


# ------------------------------------------------------------ update
def update(root, cid, req):
    """runc update: merge the request (LinuxResources) into the saved resources, write them, keep them."""
    from pyrunc.cgroups import resources
    with state.Container(root, cid).lock() as c:
        c.load()
        if c.status() == "stopped":
            raise WrongState("container not running")
        mgr = _manager(c)
        old = mgr.resources
        new = resources.update(old, req)
        if "kernel" in req.get("memory", {}) or "kernelTCP" in req.get("memory", {}):
            log.warning(resources.KMEM_WARNING)
        try:
            mgr.apply(new, skip_devices=True)
        except Error:
            try:
                mgr.apply(old, skip_devices=True)
            except Error as e:
                log.warning(f"setting back the cgroup configuration failed: {e}; "
                            "state.json and the cgroup files may now disagree")
            raise
        c.save(dict(c.data, cgroup=mgr.to_state()))


def request(opts):
    """The LinuxResources `update`'s flags (or its --resources document) ask for."""
    from pyrunc import spec
    from pyrunc.cgroups import resources
    if any(opts.get(f) for f in ("l3-cache-schema", "mem-bw-schema")):
        raise Error("Intel RDT is not supported: --l3-cache-schema and --mem-bw-schema cannot be set")
    src = opts.get("resources")
    if not src:
        return resources.request_from_flags(opts)
    # as with runc, a resources document makes every other flag ignored
    if src == "-":
        text = sys.stdin.buffer.read()
    else:
        try:
            with open(src, "rb") as f:
                text = f.read()
        except OSError as e:
            raise BadConfig(f"cannot read {src}: {e.strerror}") from None
    return spec.parse(text, "--resources", spec.RESOURCES)


# ------------------------------------------------------------ ps
def pids(root, cid):
    """Host pids of the container's processes."""
    c = state.Container(root, cid)
    c.load()
    return [] if c.status() == "stopped" and not c.data.get("cgroup") else _manager(c).pids()


def stats(root, cid):
    """runc's stats object: cpu, memory, pids, blkio, hugetlb."""
    c = state.Container(root, cid)
    c.load()
    if c.status() == "stopped":
        raise WrongState(f"container with id {cid} is not running")
    return _manager(c).stats()


def ps(root, cid, fmt, ps_args):
    if fmt not in ("table", "json"):
        raise Error(f"invalid format option {fmt!r}: use table or json")
    found = pids(root, cid)
    if fmt == "json":
        sys.stdout.write(jsonlite.dumps(found or None) + "\n")   # runc prints null for none
        return
    import subprocess
    try:
        p = subprocess.run(["ps", *(ps_args or ["-ef"])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        raise Error(f"cannot run ps: {e.strerror}") from None
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise Error(f"ps {' '.join(ps_args or ['-ef'])}: exit status {p.returncode}: {out.strip()}")
    lines = out.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise Error("couldn't find PID field in ps output")
    col = titles.index("PID")
    keep = set(found)
    sys.stdout.write(lines[0] + "\n")
    for line in lines[1:]:
        f = line.split()
        if not f:
            continue
        if not f[col].isdigit():
            raise Error(f"unable to parse pid in ps output: {line!r}")
        if int(f[col]) in keep:
            sys.stdout.write(line + "\n")


# ------------------------------------------------------------ events
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text):
    """Go's time.ParseDuration: "5s", "100ms", "1m30s", "1.5h" -> seconds."""
    s, total = text, 0.0
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s == "0":
        return 0.0
    if not s:
        raise BadConfig(f"invalid duration {text!r}")
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        j = i
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        number, unit = s[:i], s[i:j]
        if not number or number == "." or number.count(".") > 1 or unit not in GO_UNITS:
            raise BadConfig(f"invalid duration {text!r}")
        total += float(number) * GO_UNITS[unit]
        s = s[j:]
    return sign * total


def events(root, cid, interval="5s", stats_only=False):
    """runc events: one stats object with --stats; else stats every interval and OOM events, until the init exits."""
    seconds = parse_duration(interval)
    if seconds <= 0:
        raise BadConfig("duration interval must be greater than 0")
    c = state.Container(root, cid)
    c.load()
    if c.status() == "stopped":
        raise WrongState(f"container with id {cid} is not running")
    mgr = _manager(c)
    if stats_only:
        _emit("stats", cid, mgr.stats())
        return
    _stream(c, mgr, seconds)


def _emit(kind, cid, data=None):
    event = {"type": kind, "id": cid}
    if data is not None:
        event["data"] = data
    sys.stdout.write(jsonlite.dumps(event) + "\n")
    sys.stdout.flush()


def _stream(c, mgr, seconds):
    import select
    import time
    from pyrunc.cgroups.stats import oom_kills
    pidfd = os.pidfd_open(c.data["pid"])
    watch = mgr.oom_watch()
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if watch:
        poller.register(watch[0], select.POLLIN if watch[1] == "eventfd" else select.POLLPRI)
    kills = mgr.oom_kills()
    if watch and watch[1] == "poll":
        os.pread(watch[0], 4096, 0)
    next_tick = time.monotonic() + seconds

    def report_ooms(kills):
        """Emit the OOMs the watch signalled; the new oom_kill count, or None once the cgroup is gone."""
        if watch[1] == "eventfd":
            os.read(watch[0], 8)      # one notification per OOM (runc sends one event per read)
            if not os.path.isdir(mgr.dir_of("memory")):
                return None           # the kernel also signals when the cgroup is removed
            _emit("oom", c.id)
            return mgr.oom_kills()
        # read through the polled fd: that is what re-arms its POLLPRI
        now = oom_kills(os.pread(watch[0], 4096, 0).decode())
        for _ in range(now - kills):
            _emit("oom", c.id)
        return now

    try:
        while state.alive(c.data["pid"], c.data.get("pid_start")):
            ready = dict(poller.poll(max(0, next_tick - time.monotonic()) * 1000))
            # OOMs first: the kill that ends the container signals both fds at once
            if watch and watch[0] in ready:
                kills = report_ooms(kills)
                if kills is None:
                    break
            if pidfd in ready:
                break
            if time.monotonic() >= next_tick:
                next_tick += seconds
                try:
                    _emit("stats", c.id, mgr.stats())
                except (OSError, Error) as e:
                    log.warning(f"events {c.id}: stats: {e}")
        # an OOM just before the init's exit may not have been polled yet (an eventfd is only
        # read when signalled: a read would block)
        if watch and kills is not None and (watch[1] == "poll" or watch[0] in dict(poller.poll(0))):
            try:
                report_ooms(kills)
            except OSError:
                pass                  # the cgroup is already gone
    finally:
        os.close(pidfd)
        if watch:
            os.close(watch[0])
