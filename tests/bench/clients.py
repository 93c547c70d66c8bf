#!/usr/bin/env python3
"""End-to-end client timings of pyrunc next to runc (a host tool, run by `make bench-clients` as root).

    clients.py PYRUNC [--rounds N] [--json FILE]

Method: the real clients, each with both runtimes, interleaved round by
round, the same image (the project's busybox, built offline):
  ctr run --rm       containerd 2.x's `ctr run --rm --runc-binary R busybox ID true`
  crictl pod+start   a CRI pod sandbox and a container in it, `runp` + `create` + `start`
                     (containerd 2.x, runtime handler `pyrunc` or `runc`), until it is started;
                     stopping and removing the pod are not timed
  podman run --rm    podman 4.3 (conmon) `run --rm busybox true` with --runtime R
Printed: each client's median wall time per runtime and the ratio.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, PROJECT)
sys.path.insert(0, os.path.join(PROJECT, "bundles"))
import mkimage  # noqa: E402
from tests.support import peers  # noqa: E402
from tests.support.containerd import IMAGE, Containerd  # noqa: E402
from tests.support.podman import Podman  # noqa: E402

RUNC = "/usr/sbin/runc"


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def ctr_run(ctrd, binary, cid):
    return timed(lambda: ctrd.ctr("run", "--rm", "--runc-binary", binary, IMAGE, cid, "true"))


def cri_pod(ctrd, handler, work, n):
    """runp + create + start; ms. The pod is removed afterwards, untimed."""
    pod = os.path.join(work, f"pod-{handler}-{n}.json")
    ctr = os.path.join(work, f"ctr-{handler}-{n}.json")
    with open(pod, "w") as f:
        json.dump({"metadata": {"name": f"b{handler}{n}", "namespace": "bench", "uid": f"u{handler}{n}"},
                   "log_directory": os.path.join(ctrd.podlogs, f"{handler}{n}"),
                   "linux": {"cgroup_parent": ctrd.cri_parent.path,
                             "security_context": {"namespace_options": {"network": 2}}}}, f)
    with open(ctr, "w") as f:
        json.dump({"metadata": {"name": "c"}, "image": {"image": IMAGE}, "command": ["sleep", "1000"],
                   "log_path": "c.log"}, f)
    ids = {}

    def start():
        ids["pod"] = ctrd.crictl("runp", "--runtime", handler, pod).stdout.strip()
        cid = ctrd.crictl("create", "--no-pull", ids["pod"], ctr, pod).stdout.strip()
        ctrd.crictl("start", cid)
    ms = timed(start)
    ctrd.crictl("stopp", ids["pod"])
    ctrd.crictl("rmp", ids["pod"])
    return ms


def podman_run(pm):
    return timed(lambda: pm.podman_cmd("run", "--rm", *pm.run_opts(), IMAGE, "true"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pyrunc")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--json")
    a = ap.parse_args()
    pyrunc = os.path.abspath(a.pyrunc)
    runtimes = {"pyrunc": pyrunc, "runc": RUNC}
    work = tempfile.mkdtemp(prefix="pyrunc-bc.")
    image = mkimage.build(os.path.join(work, "busybox-oci.tar"))
    ctrd = Containerd(peers.CONTAINERD["2"].require(), pyrunc, image, tempfile.mkdtemp(prefix="bc-ctrd."),
                      peers.crictl(), handlers=runtimes)
    pms = {name: Podman(peers.podman(), path, image, tempfile.mkdtemp(prefix=f"bc-pm-{name}."))
           for name, path in runtimes.items()}
    times = {(client, name): [] for client in ("ctr run --rm", "crictl pod+start", "podman run --rm")
             for name in runtimes}
    started = []
    try:
        for x in [ctrd, *pms.values()]:
            started.append(x)
            x.start()
        for name in runtimes:      # warm-up: page cache, snapshots, profiles
            ctr_run(ctrd, runtimes[name], f"warm-{name}")
            podman_run(pms[name])
        for r in range(a.rounds):
            for name in (list(runtimes) if r % 2 == 0 else list(runtimes)[::-1]):
                times[("ctr run --rm", name)].append(ctr_run(ctrd, runtimes[name], f"b{r}-{name}"))
                times[("crictl pod+start", name)].append(cri_pod(ctrd, name, work, r))
                times[("podman run --rm", name)].append(podman_run(pms[name]))
    finally:
        for x in started:
            x.stop()
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"clients, {a.rounds} interleaved rounds, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    print(f"{'client (median ms)':<20} {'pyrunc':>8} {'runc':>8} {'pyrunc/runc':>12}")
    result = {}
    for client in ("ctr run --rm", "crictl pod+start", "podman run --rm"):
        p, r = med[(client, "pyrunc")], med[(client, "runc")]
        print(f"{client:<20} {p:8.1f} {r:8.1f} {p / r:12.2f}")
        result[client] = {"pyrunc": p, "runc": r, "ratio": p / r}
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": a.rounds, "clients": result}, f, indent=2)
        print(f"\nresults as JSON: {a.json}")


if __name__ == "__main__":
    main()
