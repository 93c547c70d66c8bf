"""Run the runtime-tools validation tests against one runtime and report each (harness, inside tests/support/sandbox.sh).

    python3 -m tests.validation.run --runtime PATH [--out DIR] [--timeout S] [TEST ...]

Must run as root inside the sandbox: a cgroup namespace rooted at a fresh
cgroup of ours with the cgroup filesystems re-mounted, and a private /run.
The tests use absolute cgroup paths (/cgrouptest, runc's default /<id>), which
then land below that cgroup; cleaning up after a test kills and removes every
cgroup below the namespace root, so it never touches one it did not create.

Each test runs in its own session and its own mount namespace (a runtime that
mounts or pivots in the namespace it was called in cannot break the harness,
and the mounts a test leaves vanish with it), with a per-test timeout, in a
work directory holding runtimetest and the rootfs tarball (the tests look for both
in their cwd) and TMPDIR for their bundles.  The runtime is reached through a
wrapper that adds a private --root, so `list -q` shows only this run's
containers.  Prints one line per test and a summary line; keeps each test's
TAP (<test>.tap), stderr (<test>.stderr) and results.tsv in --out.
Exit 0 when the suite ran, whatever the results; 2 when it could not.
"""
import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from tests.support.owncgroup import ROOT as CGROUP_ROOT
from tests.support.owncgroup import hierarchies, purge
from tests.validation import suite, tap

HARNESS_CGROUP = "harness"    # where the sandbox parks itself on a pure cgroup v2 host
RUNTIME_TIMEOUT = 30          # a cleanup command of the runtime


class CannotRun(Exception):
    """The suite cannot run here; the message says why."""


def check_sandbox():
    if os.geteuid() != 0:
        raise CannotRun("must run as root")
    if os.readlink("/proc/self/ns/cgroup") == os.readlink(f"/proc/{os.getppid()}/ns/cgroup"):
        raise CannotRun("not in a private cgroup namespace: run it through tests/support/sandbox.sh")
    with open("/proc/self/cgroup") as f:
        for line in f:
            path = line.rstrip("\n").split(":", 2)[2]
            if path not in ("/", "/" + HARNESS_CGROUP):
                raise CannotRun(f"not at the root of the cgroup namespace ({line.strip()})")
    if not hierarchies():
        raise CannotRun(f"no cgroup filesystem under {CGROUP_ROOT}")


def purge_cgroups():
    """Kill every process in the cgroups below the namespace root, then remove them."""
    tops = [os.path.join(mp, d) for mp in hierarchies() for d in os.listdir(mp)
            if d != HARNESS_CGROUP and os.path.isfile(os.path.join(mp, d, "cgroup.procs"))]
    return purge(tops, timeout=5.0)


def remove_contents(d):
    """Empty directory d without crossing into another filesystem."""
    entries = [os.path.join(d, e) for e in os.listdir(d)]
    if entries:
        subprocess.run(["rm", "-rf", "--one-file-system", "--", *entries], stderr=subprocess.DEVNULL)


def runtime_cmd(wrapper, *args):
    try:
        return subprocess.run([wrapper, *args], capture_output=True, text=True, timeout=RUNTIME_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None


def cleanup(work, wrapper):
    """Remove what a test left behind; returns a note when something resisted."""
    notes = []
    listed = runtime_cmd(wrapper, "list", "-q")
    for cid in (listed.stdout.split() if listed else []):
        p = runtime_cmd(wrapper, "delete", "--force", cid)
        if p is None or p.returncode:
            runtime_cmd(wrapper, "kill", cid, "KILL")
            time.sleep(0.5)
            p = runtime_cmd(wrapper, "delete", "--force", cid)
            if p is None or p.returncode:
                notes.append(f"delete --force {cid} failed")
    left = purge_cgroups()
    if left:
        notes.append("cgroups left: " + " ".join(left))
    for d in ("tmp", "state"):
        remove_contents(os.path.join(work, d))
    return notes


def run_one(name, suite_dir, work, wrapper, out, timeout):
    """Run one test binary; returns (verdict, reason, report, seconds)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTIME", "TMPDIR")}
    env.update(RUNTIME=wrapper, TMPDIR=os.path.join(work, "tmp"))
    start = time.monotonic()
    timed_out = False
    with open(os.path.join(out, name + ".tap"), "wb") as so, open(os.path.join(out, name + ".stderr"), "wb") as se:
        p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--",
                              os.path.join(suite_dir, "bin", name)], cwd=work, env=env,
                             stdin=subprocess.DEVNULL, stdout=so, stderr=se, start_new_session=True)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            rc = None
        finally:   # also when interrupted: the cleanup must not race a live test
            try:
                os.killpg(p.pid, signal.SIGKILL)    # the test, or what it left in its group
            except ProcessLookupError:
                pass
            if p.returncode is None:
                p.wait()
        if rc is None:
            rc = p.returncode
    seconds = time.monotonic() - start
    with open(os.path.join(out, name + ".tap"), errors="replace") as f:
        report = tap.parse(f.read())
    with open(os.path.join(out, name + ".stderr"), errors="replace") as f:
        stderr = f.read()
    verdict, reason = tap.verdict(report, rc, timed_out, stderr)
    if timed_out:
        reason += f" after {timeout}s"
    return verdict, reason, report, seconds


def prepare(suite_dir, runtime):
    """The work directory, on the sandbox's private /run: runtimetest, the rootfs, tmp/, state/, the wrapper."""
    work = tempfile.mkdtemp(prefix="pyrunc-conformance.", dir="/run")
    # 0755: a container whose root is not host root (user namespaces) still
    # has to reach its bundle below this directory.
    os.chmod(work, 0o755)
    for d in ("tmp", "state"):
        os.mkdir(os.path.join(work, d), 0o755)
    shutil.copy2(os.path.join(suite_dir, "runtimetest"), os.path.join(work, "runtimetest"))
    for f in os.listdir(suite_dir):
        if f.startswith("rootfs-") and f.endswith(".tar.gz"):
            os.symlink(os.path.join(suite_dir, f), os.path.join(work, f))
    wrapper = os.path.join(work, "runtime")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec {shlex.quote(runtime)} --root {shlex.quote(os.path.join(work, 'state'))} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    return work, wrapper


def expected_passes(path):
    with open(path) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def _gate(path, ran, passed):
    """0, or 1 when a test expected to pass (and run this time) did not; new passes are only reported."""
    if not path:
        return 0
    expected = expected_passes(path) & set(ran)
    lost, new = sorted(expected - passed), sorted(passed - expected_passes(path))
    if new:
        print(f"conformance: passing now, not yet in {os.path.basename(path)}: {' '.join(new)}")
    if lost:
        print(f"conformance: expected to pass, did not: {' '.join(lost)}", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run the runtime-tools validation suite against a runtime.")
    ap.add_argument("--runtime", required=True, help="the runtime binary (pyrunc, runc, crun)")
    ap.add_argument("--out", help="where the TAP and stderr of each test go (default build/conformance/NAME)")
    ap.add_argument("--timeout", type=int, default=60, help="per-test timeout in seconds (default 60)")
    ap.add_argument("--expect-passes", metavar="FILE",
                    help="exit 1 when a test named in FILE (one per line, # comments) does not pass: a regression gate")
    ap.add_argument("tests", nargs="*", help="test names (default: all)")
    a = ap.parse_args(argv)
    runtime = shutil.which(a.runtime) or a.runtime
    out = os.path.abspath(a.out or os.path.join("build", "conformance", os.path.basename(runtime)))
    work = wrapper = None
    for sig in (signal.SIGTERM, signal.SIGHUP):    # unwind through the cleanup below
        signal.signal(sig, lambda signum, _: sys.exit(f"conformance: interrupted by signal {signum}"))
    try:
        if not (os.path.isfile(runtime) and os.access(runtime, os.X_OK)):
            raise CannotRun(f"runtime {a.runtime} not found or not executable")
        runtime = os.path.realpath(runtime)
        check_sandbox()
        suite_dir = suite.SUITE
        if not os.path.isfile(os.path.join(suite_dir, "VERSION")):
            raise CannotRun("the suite is not built: python3 -m tests.validation.suite")
        available = sorted(os.listdir(os.path.join(suite_dir, "bin")))
        unknown = [t for t in a.tests if t not in available]
        if unknown:
            raise CannotRun("no such test: " + " ".join(unknown))
        tests = a.tests or available
        os.makedirs(out, exist_ok=True)
        for f in os.listdir(out):
            if f.endswith((".tap", ".stderr", ".tsv")):
                os.unlink(os.path.join(out, f))
        work, wrapper = prepare(suite_dir, runtime)
        version = subprocess.run([runtime, "--version"], capture_output=True, text=True).stdout.splitlines()
        with open(os.path.join(suite_dir, "VERSION")) as f:
            print(f"runtime: {runtime} ({version[0] if version else 'no --version'})\nsuite: {f.readline().strip()}"
                  f"\nlogs: {out}", flush=True)
        counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        passed = set()
        ok = total = 0
        t0 = time.monotonic()
        with open(os.path.join(out, "results.tsv"), "w") as tsv:
            tsv.write("test\tverdict\tseconds\tok\tnot_ok\tskipped\tplan\treason\n")
            for name in tests:
                verdict, reason, report, seconds = run_one(name, suite_dir, work, wrapper, out, a.timeout)
                notes = cleanup(work, wrapper)
                if notes:
                    reason += " [cleanup: " + "; ".join(notes) + "]"
                counts[verdict] += 1
                if verdict == "PASS":
                    passed.add(name)
                ok += report.ok
                total += report.assertions
                print(f"{verdict:4}  {name:34} {seconds:5.1f}s  {reason}", flush=True)
                tsv.write(f"{name}\t{verdict}\t{seconds:.1f}\t{report.ok}\t{report.not_ok}\t{report.skipped}\t"
                          f"{'' if report.plan is None else report.plan}\t{reason}\n")
        print(f"conformance: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped "
              f"of {len(tests)} tests ({ok} of {total} assertions ok) in {time.monotonic() - t0:.0f}s")
        return _gate(a.expect_passes, tests, passed)
    except CannotRun as e:
        print(f"conformance: cannot run: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return 130
    finally:
        if work:
            cleanup(work, wrapper)
            remove_contents(work)
            try:
                os.rmdir(work)
            except OSError as e:   # on the sandbox's private /run: gone with it anyway
                print(f"conformance: warning: cannot remove {work}: {e.strerror}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
