"""Run critest once per CRI runtime handler on one private containerd 2.x, and compare (host side, make cri-validation).

    python3 -m tests.cri.run --handler pyrunc=PATH --handler runc=/usr/sbin/runc [--expect-passes FILE]

Runs as root inside tests/support/sandbox.sh (the pods' cgroups land below the
sandbox's) and in a private network namespace (the Makefile's `unshare --net`):
the CNI bridge, the pods' veths, portmap's iptables rules, the registry's and the
streaming server's ports all live and die with it.  It starts Debian's
docker-registry on 127.0.0.1, pushes the images tests/cri/images.py builds,
starts containerd with one CRI handler per runtime and hosts.toml mirrors for the
registries critest names, runs critest against each handler, stops everything,
and prints one summary line.  Logs and JUnit reports go to --out.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from tests.cri import images
from tests.cri.images import CannotRun
from tests.support import node as N
from tests.support.containerd import Containerd
from tests.support.peers import CACHE, CONTAINERD, VERSIONS

sys.path.insert(0, images.BUNDLES)
import mkimage  # noqa: E402

REGISTRY_PORT = 5000          # in the run's own network namespace: always free
CNI_PLUGINS = "/usr/lib/cni"
CNI_BRIDGE = "cri0"
CNI_SUBNET = "10.88.0.0/16"
CRITEST_SLICE = "test.slice"  # critest's pods' cgroup parent with the systemd driver
CRITEST_TIMEOUT = 1800        # the whole suite, per handler (about 90 s with runc on 2 cores)


def _registry(d):
    conf = os.path.join(d, "registry.yml")
    with open(conf, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/registry\n"
                f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{REGISTRY_PORT}\n")
    log = open(os.path.join(d, "registry.log"), "wb")
    proc = subprocess.Popen(["docker-registry", "serve", conf], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            close_fds=True)
    log.close()
    reg = images.Registry(REGISTRY_PORT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if reg.request("GET", "/v2/")[0] == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise CannotRun("docker-registry did not come up")
        time.sleep(0.1)


def _prepare(d):
    """containerd's registry mirrors and CNI network, in its own dir."""
    for host in images.MIRRORED:
        os.makedirs(os.path.join(d, "certs.d", host))
        with open(os.path.join(d, "certs.d", host, "hosts.toml"), "w") as f:
            f.write(images.hosts_toml(REGISTRY_PORT))
    for plugin in ("bridge", "host-local", "loopback", "portmap"):
        os.symlink(os.path.join(CNI_PLUGINS, plugin), os.path.join(d, "cni", "bin", plugin))
    conflist = {"cniVersion": "1.0.0", "name": "pyrunc-cri", "plugins": [
        {"type": "bridge", "bridge": CNI_BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": CNI_SUBNET}]], "routes": [{"dst": "0.0.0.0/0"}],
                  "dataDir": os.path.join(d, "cni", "ipam")}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}
    with open(os.path.join(d, "cni", "conf", "10-pyrunc-cri.conflist"), "w") as f:
        json.dump(conflist, f)


def _critest():
    path = os.path.join(CACHE, "critest-" + VERSIONS["CRICTL_VERSION"], "critest")
    if not os.access(path, os.X_OK):
        raise CannotRun(f"{path} missing (make peers builds it)")
    return path


def _results(report):
    """{test name: passed|failed|skipped} from critest's JUnit report (suite nodes left out)."""
    out = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "")
        if name.startswith("[") and name.split("]")[0][1:] in ("BeforeSuite", "AfterSuite", "SynchronizedBeforeSuite",
                                                              "SynchronizedAfterSuite", "ReportAfterSuite",
                                                              "ReportBeforeSuite"):
            continue
        status = case.get("status") or ("failed" if case.find("failure") is not None or case.find("error") is not None
                                         else "skipped" if case.find("skipped") is not None else "passed")
        out[name] = "failed" if status in ("failed", "panicked", "interrupted", "timedout", "aborted") else status
    return out


def run_critest(cri, handler, out, focus):
    report = os.path.join(out, f"{handler}.xml")
    argv = [_critest(), "--runtime-endpoint", "unix://" + cri.sock, "--image-endpoint", "unix://" + cri.sock,
            "--config", cri.crictl_argv()[2], "--runtime-handler", handler,
            "-ginkgo.junit-report=" + report, "-ginkgo.no-color"]
    if focus:
        argv.append("-ginkgo.focus=" + focus)
    # its host paths (temp dirs with tmpfs mounts in them) inside the run's dir: removed with it
    tmp = os.path.join(cri.dir, "critest-tmp-" + handler)
    os.makedirs(tmp)
    t0 = time.monotonic()
    with open(os.path.join(out, f"{handler}.log"), "wb") as log:
        rc = subprocess.run(cri.run.enter(["env", "TMPDIR=" + tmp] + argv), stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, timeout=CRITEST_TIMEOUT, cwd=cri.dir).returncode
    if not os.path.exists(report):
        raise CannotRun(f"critest with {handler} wrote no report (exit {rc}): see {out}/{handler}.log")
    res = _results(report)
    print(f"cri-validation: {handler}: {_counts(res)} in {time.monotonic() - t0:.0f} s (critest exit {rc})")
    return res


def _counts(res):
    n = {s: sum(1 for v in res.values() if v == s) for s in ("passed", "failed", "skipped")}
    return f"{n['passed']} passed {n['failed']} failed {n['skipped']} skipped"


def expected_passes(path):
    with open(path) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def verdict(results, expected=None):
    """(report lines, exit status) for {handler: results}, pyrunc's first and the reference runtime's
    last: the last line is the summary; a test passing with the reference and not with pyrunc fails
    the run, and so does, with expected (the gate file), a test named there that did not pass with
    pyrunc; new passes are only reported."""
    names = list(results)
    sub, ref = names[0], names[-1]
    passed = {h: {t for t, s in r.items() if s == "passed"} for h, r in results.items()}
    only = sorted(passed[ref] - passed[sub])
    lines = [f"cri-validation: {ref}-only pass: {t}" for t in only]
    rc = 1 if only else 0
    if expected is not None:
        lines += [f"cri-validation: passing now, not yet expected: {t}" for t in sorted(passed[sub] - expected)]
        lost = sorted(expected - passed[sub])
        lines += [f"cri-validation: expected to pass, did not: {t}" for t in lost]
        rc = 1 if lost else rc
    lines.append("cri-validation: " + "; ".join(f"{h} {_counts(results[h])}" for h in names) +
                 f"; {ref}-only passes {len(only)}")
    return lines, rc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--handler", action="append", required=True, metavar="NAME=PATH",
                    help="a CRI runtime handler and its runtime binary (the first is pyrunc's)")
    ap.add_argument("--out", default=os.path.join("build", "cri-validation"))
    ap.add_argument("--focus", help="only the critest tests matching this regexp")
    ap.add_argument("--node", action="store_true", help="on a node (the node VM): the systemd cgroup driver "
                    "and AppArmor, outside sandbox.sh; critest's pods go to its test.slice")
    ap.add_argument("--expect-passes", metavar="FILE", help="the gate (for whole runs, not with --focus): exit 1 "
                    "when a test named in FILE does not pass with the first handler")
    a = ap.parse_args(argv)
    handlers = dict(h.split("=", 1) for h in a.handler)
    out = os.path.abspath(a.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    d = tempfile.mkdtemp(prefix="pcri.", dir="/tmp")
    os.chmod(d, 0o711)   # user-namespaced pods' roots (mapped ids) must reach their rootfs below it
    registry = cri = None
    node = N.Node("cri") if a.node else None
    results = {}
    rc = 0
    try:
        peer = CONTAINERD["2"]
        for name in ("containerd", "containerd-shim-runc-v2", "ctr"):
            if not os.access(peer.path(name), os.X_OK):
                raise CannotRun(f"{peer.path(name)} missing (make peers builds it)")
        registry = _registry(d)
        print(f"cri-validation: {images.push_all(REGISTRY_PORT, CACHE)} images pushed to the loopback registry")
        crictl = os.path.join(CACHE, "crictl-" + VERSIONS["CRICTL_VERSION"], "crictl")
        tar = mkimage.build(os.path.join(d, "busybox-oci.tar"))
        # critest runs in containerd's mount namespace, whose mounts are shared: the mount tests
        # mount on "the host" (critest's side) and expect the containers to see it
        cri = Containerd(peer, next(iter(handlers.values())), tar, os.path.join(d, "ctrd"), crictl=crictl,
                         handlers=handlers, prepare=_prepare, sandbox=images.SANDBOX, propagation="shared",
                         node=node).start()
        for handler in handlers:
            results[handler] = run_critest(cri, handler, out, a.focus)
            left = cri.reset()
            if left:
                print(f"cri-validation: {handler} left: {'; '.join(left)}", file=sys.stderr)
                rc = 1
    except CannotRun as e:
        print(f"cri-validation: cannot run: {e}", file=sys.stderr)
        rc = 2
    finally:
        if cri is not None:
            problems = cri.stop()
            if problems:
                print(f"cri-validation: stopping containerd: {'; '.join(problems)}", file=sys.stderr)
                rc = rc or 1
        if node is not None:
            left = node.close() + N.Slice(CRITEST_SLICE).remove()
            if left:
                print(f"cri-validation: units left: {left}", file=sys.stderr)
                rc = rc or 1
        if registry is not None:
            registry.terminate()
            registry.wait()
        shutil.rmtree(d, ignore_errors=True)
    if len(results) == len(handlers):
        lines, gate = verdict(results, expected_passes(a.expect_passes) if a.expect_passes else None)
        print("\n".join(lines))
        rc = rc or gate
    return rc


if __name__ == "__main__":
    sys.exit(main())
