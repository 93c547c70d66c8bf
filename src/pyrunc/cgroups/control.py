"""pause, resume, update, ps and events (CLI process): a container's cgroups after create, as runc drives them.

Data only: the command line (cgroupcli) prints it.
"""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import cgroups, log, state, transitions
from pyrunc.errors import Error


def _manager(c):
    return cgroups.from_state(c.data.get("cgroup") or {"driver": "none", "dirs": {}})


def pause(root, cid):
    with state.Container(root, cid).lock() as c:
        c.load()
        transitions.require("pause", c.status(), cid)
        _manager(c).freeze()


def resume(root, cid):
    with state.Container(root, cid).lock() as c:
        c.load()
        transitions.require("resume", c.status(), cid)
        _manager(c).thaw()


# ------------------------------------------------------------ update
def update(root, cid, req):
    """runc update: merge the request (LinuxResources) into the saved resources, write them, keep them."""
    from pyrunc.cgroups import resources
    with state.Container(root, cid).lock() as c:
        c.load()
        transitions.require("update", c.status(), cid)
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
    transitions.require("events", c.status(), cid)
    return _manager(c).stats()


# ------------------------------------------------------------ events
def events(root, cid, seconds=5.0, stats_only=False):
    """runc's events as objects: one stats with stats_only; else stats every `seconds` and OOMs until the init exits."""
    c = state.Container(root, cid)
    c.load()
    transitions.require("events", c.status(), cid)
    mgr = _manager(c)
    if stats_only:
        return iter([_event("stats", cid, mgr.stats())])
    return _stream(c, mgr, seconds)


def _event(kind, cid, data=None):
    event = {"type": kind, "id": cid}
    if data is not None:
        event["data"] = data
    return event


def _stream(c, mgr, seconds):
    """The events of a running container, as they happen."""
    import select
    import time
    from pyrunc.cgroups.stats import oom_kills
    pidfd = oslite.pidfd_open(c.data["pid"])
    watch = mgr.oom_watch()
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if watch:
        poller.register(watch[0], select.POLLIN if watch[1] == "eventfd" else select.POLLPRI)
    kills = mgr.oom_kills()
    if watch and watch[1] == "poll":
        oslite.pread(watch[0], 4096, 0)
    next_tick = time.monotonic() + seconds

    def ooms(kills):
        """(OOM events the watch signalled, the new oom_kill count or None once the cgroup is gone)."""
        if watch[1] == "eventfd":
            oslite.read(watch[0], 8)      # one notification per OOM (runc sends one event per read)
            if not oslite.path.isdir(mgr.dir_of("memory")):
                return [], None       # the kernel also signals when the cgroup is removed
            return [_event("oom", c.id)], mgr.oom_kills()
        # read through the polled fd: that is what re-arms its POLLPRI
        now = oom_kills(oslite.pread(watch[0], 4096, 0).decode())
        return [_event("oom", c.id)] * (now - kills), now

    try:
        while state.alive(c.data["pid"], c.data.get("pid_start")):
            ready = dict(poller.poll(max(0, next_tick - time.monotonic()) * 1000))
            # OOMs first: the kill that ends the container signals both fds at once
            if watch and watch[0] in ready:
                found, kills = ooms(kills)
                yield from found
                if kills is None:
                    break
            if pidfd in ready:
                break
            if time.monotonic() >= next_tick:
                next_tick += seconds
                try:
                    event = _event("stats", c.id, mgr.stats())
                except (OSError, Error) as e:
                    log.warning(f"events {c.id}: stats: {e}")
                else:
                    yield event
        # an OOM just before the init's exit may not have been polled yet (an eventfd is only
        # read when signalled: a read would block)
        if watch and kills is not None and (watch[1] == "poll" or watch[0] in dict(poller.poll(0))):
            try:
                found = ooms(kills)[0]
            except OSError:
                found = []            # the cgroup is already gone
            yield from found
    finally:
        oslite.close(pidfd)
        if watch:
            oslite.close(watch[0])
