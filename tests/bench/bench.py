#!/usr/bin/env python3
"""Lifecycle benchmarks of pyrunc next to runc and crun (a host tool, run by `make bench` as root).

    bench.py PYRUNC [--rounds N] [--sequential N] [--concurrent N] [--memory N] [--node-mounts N]

Method: every runtime gets the same bundle (busybox, `/bin/true`, read-only
root) and is driven the way containerd drives it: `create --bundle B
--pid-file F ID`, `start ID`, wait until the init has exited (polling
/proc/PID/stat), `delete ID`.  Runtimes are interleaved round by round, so
that all of them see the same machine load; compare the ratios, not the
absolute times, which move with the load.  Processes are started with
posix_spawn, so the harness adds the same small cost to every runtime.

Printed: per-phase medians and ratios of `rounds` interleaved lifecycles (and
as many interleaved foreground `run`s, the whole lifecycle in one call);
the verbs clients call on a running container (exec of `true`, state, kill
with signal 0, ps --format json, pause, resume, update), each runtime on its
own running busybox `sleep`, interleaved the same way;
`create` on a busy node (`node-mounts` more mounts on the host, as a node's
container root filesystems and pod volumes add them: every runtime reads
the host's mount table), interleaved the same way;
containers/s of `sequential` lifecycles in a row; the wall time of
`concurrent` lifecycles started at once; memory charged to the memory
cgroup per container in the created state.  With --json FILE, the same
numbers as one JSON object.
"""
import argparse
import ctypes
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bundles"))
import mkbundle  # noqa: E402

DEVNULL = os.open(os.devnull, os.O_RDWR)


def spawn(argv):
    """Run argv with stdio on /dev/null; its exit status."""
    actions = [(os.POSIX_SPAWN_DUP2, DEVNULL, 0), (os.POSIX_SPAWN_DUP2, DEVNULL, 1),
               (os.POSIX_SPAWN_DUP2, DEVNULL, 2)]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def wait_exit(pid):
    delay = 0.00005
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        except OSError:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.002)


class Runtime:
    def __init__(self, name, path, root, bundle):
        self.name, self.path, self.root, self.bundle = name, path, root, bundle

    def call(self, *args):
        rc = spawn([self.path, "--root", self.root, *args])
        if rc != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: exit {rc}")

    def timed(self, *args):
        """One call; ms."""
        t0 = time.perf_counter()
        self.call(*args)
        return (time.perf_counter() - t0) * 1e3

    def run_once(self, cid):
        """`run` in the foreground: one call for the whole lifecycle; ms."""
        t0 = time.perf_counter()
        self.call("run", "--bundle", self.bundle, cid)
        return (time.perf_counter() - t0) * 1e3

    def lifecycle(self, cid):
        """Phase times in ms: create, start, exit-wait, delete."""
        pidfile = os.path.join(self.root, f"{cid}.pid")
        t0 = time.perf_counter()
        self.call("create", "--bundle", self.bundle, "--pid-file", pidfile, cid)
        t1 = time.perf_counter()
        with open(pidfile) as f:
            pid = int(f.read())
        os.unlink(pidfile)
        t1b = time.perf_counter()
        self.call("start", cid)
        t2 = time.perf_counter()
        wait_exit(pid)
        t3 = time.perf_counter()
        self.call("delete", cid)
        t4 = time.perf_counter()
        return {"create": (t1 - t0) * 1e3, "start": (t2 - t1b) * 1e3, "exit-wait": (t3 - t2) * 1e3,
                "delete": (t4 - t3) * 1e3, "total": (t4 - t0 - (t1b - t1)) * 1e3}


def memory_charge(cgroup_dir):
    for name in ("memory.current", "memory.usage_in_bytes"):
        try:
            with open(os.path.join(cgroup_dir, name)) as f:
                return int(f.read())
        except OSError:
            pass
    return None


def own_memory_cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.strip().split(":", 2)
            if "memory" in ctrls.split(","):
                return os.path.join("/sys/fs/cgroup/memory", path.lstrip("/"))
            if ctrls == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                return os.path.join("/sys/fs/cgroup", path.lstrip("/"))
    return None


def created_memory(rt, k):
    """MiB charged per container with k containers created (the sum of their memory cgroups)."""
    base = own_memory_cgroup()
    ids = [f"mem{i}" for i in range(k)]
    for cid in ids:
        rt.call("create", "--bundle", rt.bundle, cid)
    time.sleep(0.5)
    total = sum(memory_charge(os.path.join(base, cid)) or 0 for cid in ids)
    for cid in ids:
        rt.call("delete", "--force", cid)
    return total / k / (1 << 20)


VERBS = [("exec", ["exec", "{id}", "/bin/true"]), ("state", ["state", "{id}"]), ("kill 0", ["kill", "{id}", "0"]),
         ("ps json", ["ps", "--format", "json", "{id}"]), ("pause", ["pause", "{id}"]),
         ("resume", ["resume", "{id}"]), ("update", ["update", "--pids-limit", "{n}", "{id}"])]


def verb_times(rts, bundle, rounds):
    """Median ms of each verb per runtime, on one running container each, interleaved; None where a
    runtime lacks the verb."""
    times = {rt.name: {v: [] for v, _ in VERBS} for rt in rts}
    for rt in rts:
        rt.call("run", "--detach", "--bundle", bundle, "verbs")
    try:
        for r in range(rounds):
            for rt in (rts if r % 2 == 0 else rts[::-1]):
                for verb, args in VERBS:
                    try:
                        times[rt.name][verb].append(rt.timed(*(a.format(id="verbs", n=100 + r) for a in args)))
                    except RuntimeError:
                        times[rt.name][verb] = None if not times[rt.name][verb] else times[rt.name][verb]
    finally:
        for rt in rts:
            spawn([rt.path, "--root", rt.root, "delete", "--force", "verbs"])
    return {n: {v: statistics.median(x) if x else None for v, x in per.items()} for n, per in times.items()}


def busy_node_creates(rts, rounds, n, work):
    """Median `create` ms of each runtime with n more tmpfs mounts on the host (this harness runs in
    a private mount namespace: they never reach the host's)."""
    libc = ctypes.CDLL(None, use_errno=True)
    top = os.path.join(work, "node-mounts")

    def mount(path):
        os.makedirs(path)
        if libc.mount(b"node", path.encode(), b"tmpfs", 0, None) != 0:
            raise OSError(ctypes.get_errno(), f"mount tmpfs on {path}")
    mount(top)
    try:
        for i in range(n):
            mount(os.path.join(top, f"c{i}", "rootfs"))
        times = {rt.name: [] for rt in rts}
        for r in range(rounds):
            for rt in (rts if r % 2 == 0 else rts[::-1]):
                times[rt.name].append(rt.lifecycle(f"node{r}")["create"])
    finally:
        libc.umount2(top.encode(), 2)    # MNT_DETACH: the tmpfs and every mount below it
    return {name: statistics.median(v) for name, v in times.items()}


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pyrunc")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--sequential", type=int, default=100)
    ap.add_argument("--concurrent", type=int, default=50)
    ap.add_argument("--memory", type=int, default=20)
    ap.add_argument("--node-mounts", type=int, default=1000, help="host mounts of the busy-node `create` (0: skip it)")
    ap.add_argument("--runtimes", default="runc,crun")
    ap.add_argument("--json", help="also write the results here, as JSON")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pyrunc-bench.")
    try:
        bundle = mkbundle.build(os.path.join(work, "bundle"))
        cfg = os.path.join(bundle, "config.json")
        with open(cfg) as f:
            c = json.load(f)
        c["process"]["args"] = ["/bin/true"]
        c["root"]["readonly"] = True
        with open(cfg, "w") as f:
            json.dump(c, f)
        long_bundle = mkbundle.build(os.path.join(work, "long"))
        with open(os.path.join(long_bundle, "config.json")) as f:
            c = json.load(f)
        c["process"]["args"] = ["/bin/sleep", "100000"]
        c["process"]["terminal"] = False
        with open(os.path.join(long_bundle, "config.json"), "w") as f:
            json.dump(c, f)
        rts = [Runtime("pyrunc", os.path.abspath(a.pyrunc), os.path.join(work, "pyrunc"), bundle)]
        for name in a.runtimes.split(","):
            if name and shutil.which(name):
                rts.append(Runtime(name, shutil.which(name), os.path.join(work, name), bundle))
        for rt in rts:
            os.makedirs(rt.root)
            for i in range(3):   # warm-up: page cache, seccomp cache and the like
                rt.lifecycle(f"warm{i}")
        print(f"{len(rts)} runtimes, {a.rounds} interleaved rounds, {os.cpu_count()} cpus, "
              f"load {os.getloadavg()[0]:.2f}")
        results = {rt.name: [] for rt in rts}
        for r in range(a.rounds):
            for rt in (rts if r % 2 == 0 else rts[::-1]):
                results[rt.name].append(rt.lifecycle(f"r{r}"))
        phases = ["create", "start", "exit-wait", "delete", "total"]
        med = {n: {p: statistics.median(x[p] for x in res) for p in phases} for n, res in results.items()}
        others = [rt.name for rt in rts[1:]]
        header = ["phase (median ms)"] + [rt.name for rt in rts] + [f"pyrunc/{o}" for o in others]
        rows = [[p] + [f"{med[rt.name][p]:.2f}" for rt in rts]
                + [f"{med['pyrunc'][p] / med[o][p]:.2f}" if med[o][p] else "-" for o in others] for p in phases]
        runs = {rt.name: [] for rt in rts}
        for r in range(a.rounds):
            for rt in (rts if r % 2 == 0 else rts[::-1]):
                runs[rt.name].append(rt.run_once(f"run{r}"))
        run_med = {n: statistics.median(v) for n, v in runs.items()}
        rows.append(["run (one call)"] + [f"{run_med[rt.name]:.2f}" for rt in rts]
                    + [f"{run_med['pyrunc'] / run_med[o]:.2f}" for o in others])
        table(rows, header)
        print()
        node = busy_node_creates(rts, a.rounds, a.node_mounts, work) if a.node_mounts else {}
        if node:
            table([["create"] + [f"{node[rt.name]:.2f}" for rt in rts]
                   + [f"{node['pyrunc'] / node[o]:.2f}" for o in others]],
                  [f"{a.node_mounts} more host mounts (median ms)"] + header[1:])
            print()
        verbs = verb_times(rts, long_bundle, a.rounds)

        def cell(x):
            return "-" if x is None else f"{x:.2f}"
        rows = [[v] + [cell(verbs[rt.name][v]) for rt in rts]
                + [cell(verbs["pyrunc"][v] / verbs[o][v]) if verbs["pyrunc"][v] and verbs[o][v] else "-"
                   for o in others] for v, _ in VERBS]
        table(rows, ["verb, running container (median ms)"] + header[1:])
        print()
        result = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()[0]}, "rounds": a.rounds,
                  "lifecycle": med, "run": run_med, "verbs": verbs,
                  "busy_node": {"mounts": a.node_mounts, "create": node}}
        rows = []
        for rt in rts:
            t0 = time.perf_counter()
            for i in range(a.sequential):
                rt.lifecycle(f"s{i}")
            seq = a.sequential / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(a.concurrent) as pool:
                list(pool.map(rt.lifecycle, [f"c{i}" for i in range(a.concurrent)]))
            conc = (time.perf_counter() - t0) * 1e3
            mem = created_memory(rt, a.memory) if a.memory else 0
            rows.append([rt.name, f"{seq:.1f}", f"{conc:.0f}", f"{mem:.2f}"])
            result.setdefault("throughput", {})[rt.name] = {"sequential_per_s": seq, "concurrent_wall_ms": conc,
                                                            "created_mib": mem}
        table(rows, ["runtime", f"{a.sequential} sequential: containers/s", f"{a.concurrent} concurrent: wall ms",
                     "MiB per created container"])
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=2)
            print(f"\nresults as JSON: {a.json}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
