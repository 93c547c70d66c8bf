"""Obtain and build the runtime-tools validation suite, cached by commit (host side, `make conformance`).

    python3 -m tests.validation.suite        # prints the suite directory, building it if needed

The suite is the opencontainers/runtime-tools Go module at a pinned commit,
fetched through the Go module proxy (whatever `go env GOPROXY` says; no
toolchain download: GOTOOLCHAIN=local).  It builds `runtimetest` (static:
CGO_ENABLED=0, netgo/osusergo, because it runs inside the container's
rootfs), every `validation/<name>` program into bin/<name>, and the rootfs
tarball the tests unpack into their bundles.  The result lives in
$PYRUNC_CONFORMANCE_CACHE/suite-<commit>/ and is made under a lock, in a
temporary directory renamed into place once complete, so concurrent runs are
safe and a killed build leaves nothing half-made.  The module's source is
kept next to it (src/) to read what a test checks.
"""
import fcntl
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

MODULE = "github.com/opencontainers/runtime-tools"
COMMIT = "5e639034dcdc2422164e3d7d76a737e2fb451a67"
# The pseudo-version naming COMMIT (v0.9.0-141-g5e63903, committed 2025-12-05 00:49:11 UTC).  A
# proxy serves a pseudo-version from its cache; a bare hash needs it to query GitHub, which a
# mirror or a proxy with GOPROXY=...,off may refuse ("403 This module version is not available").
PSEUDO_VERSION = "v0.9.1-0.20251205004911-" + COMMIT[:12]
MODULE_VERSION_FILE = "0.9.0"    # the VERSION file at COMMIT, for runtimetest --version
GO = os.environ.get("GO", "/usr/local/go/bin/go")
GO_MIN = (1, 21)                 # COMMIT's go.mod; its dependencies use the "slices" package
FORMAT = 2                       # bump when the layout or the rootfs changes: cached suites are remade
CACHE = os.environ.get("PYRUNC_CONFORMANCE_CACHE", "/var/cache/pyrunc-conformance")
SUITE = os.path.join(CACHE, f"suite-{COMMIT[:12]}-v{FORMAT}")
BUSYBOX = "/bin/busybox"
LOCK_WAIT = 1800


class SuiteError(Exception):
    """The suite cannot be obtained or built; the message says why."""


def go_env(gopath):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(CGO_ENABLED="0", GO111MODULE="on", GOFLAGS="-mod=mod", GOTOOLCHAIN="local", GOWORK="off",
               GOPATH=gopath, GOMODCACHE=os.path.join(gopath, "pkg", "mod"),
               GOCACHE=os.path.join(gopath, "cache"))
    for k in ("GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def parse_go_version(text):
    """(major, minor) from `go version` output, or None."""
    m = re.search(r"\bgo(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_go():
    if not os.access(GO, os.X_OK):
        raise SuiteError(f"no Go toolchain at {GO} (set GO=/path/to/go)")
    out = subprocess.run([GO, "version"], env=dict(os.environ, GOTOOLCHAIN="local"),
                         capture_output=True, text=True).stdout
    v = parse_go_version(out)
    if v is None or v < GO_MIN:
        raise SuiteError(f"Go >= {GO_MIN[0]}.{GO_MIN[1]} is needed to build runtime-tools {COMMIT[:12]}, "
                         f"but {GO} is {out.strip() or 'unusable'}")
    return out.strip()


def go(args, cwd, env, what, timeout=1800):
    try:
        p = subprocess.run([GO] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SuiteError(f"{what}: timed out after {timeout}s (is the Go module proxy reachable? go env GOPROXY)")
    if p.returncode:
        lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith("go: downloading")]
        raise SuiteError(f"{what} failed: {lines[-1] if lines else 'exit %d' % p.returncode}")
    return p.stdout


def main_packages(moddir):
    """The validation/<name> directories that hold a main package (util/ is a library)."""
    vdir = os.path.join(moddir, "validation")
    names = []
    for name in sorted(os.listdir(vdir)):
        d = os.path.join(vdir, name)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if f.endswith(".go") and not f.endswith("_test.go"):
                with open(os.path.join(d, f)) as fh:
                    if re.search(r"^package main$", fh.read(), re.M):
                        names.append(name)
                        break
    return names


def static_busybox():
    """Debian's busybox-static binary (the dynamic busybox cannot run in an empty rootfs)."""
    owner = subprocess.run(["dpkg-query", "-S", BUSYBOX], capture_output=True, text=True).stdout
    if not owner.startswith("busybox-static:"):
        raise SuiteError(f"{BUSYBOX} is not from busybox-static (make deps installs it)")
    return BUSYBOX


def rootfs_tarball(busybox, out):
    """A busybox rootfs as the tests expect it: ./bin (applet links), ./dev, ./etc, ./proc, ./sys.

    The "./" entry is 0755: the tests unpack the tarball into the bundle
    directory, which ioutil.TempDir created 0700, and tar gives it this
    entry's mode.  A 0700 rootfs cannot be entered by a container process
    that is not uid 0 (process_user, the userns tests...).
    """
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        def entry(name, type_=tarfile.DIRTYPE, mode=0o755, data=b"", link=""):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime, ti.linkname = type_, mode, 0, link
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.size = len(data) if type_ == tarfile.REGTYPE else 0
            tar.addfile(ti, io.BytesIO(data) if type_ == tarfile.REGTYPE else None)
        for d in ("./", "./bin", "./dev", "./etc", "./proc", "./sys"):
            entry(d)
        with open(busybox, "rb") as f:
            entry("./bin/busybox", tarfile.REGTYPE, 0o755, f.read())
        for a in sorted(set(applets) - {"busybox"}):
            entry("./bin/" + a, tarfile.SYMTYPE, 0o777, link="busybox")
        entry("./etc/passwd", tarfile.REGTYPE, 0o644,
              b"root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/bin/false\n"
              b"daemon:x:2:2:daemon:/sbin:/bin/false\nnobody:x:65534:65534:nobody:/var/empty:/bin/false\n")
        entry("./etc/group", tarfile.REGTYPE, 0o644,
              b"root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\n"
              b"nogroup:x:65533:\nnobody:x:65534:\n")
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue())


def build(dest, log):
    """Fetch the module at COMMIT and build everything into the (new, empty) directory dest."""
    goversion = check_go()
    busybox = static_busybox()
    gopath = os.path.join(dest, ".gopath")
    mod = os.path.join(dest, ".mod")
    os.makedirs(mod)
    env = go_env(gopath)
    go(["mod", "init", "pyrunc-conformance"], mod, env, "go mod init")
    log(f"fetching {MODULE}@{PSEUDO_VERSION} through the Go module proxy")
    go(["get", f"{MODULE}@{PSEUDO_VERSION}"], mod, env, f"go get {MODULE}@{PSEUDO_VERSION}", timeout=600)
    version, moddir = go(["list", "-m", "-f", "{{.Version}} {{.Dir}}", MODULE], mod, env, "go list").split()
    if version != PSEUDO_VERSION:
        raise SuiteError(f"go resolved {MODULE} to {version}, not {COMMIT[:12]}")
    tests = main_packages(moddir)
    if not tests or not os.path.isdir(os.path.join(moddir, "cmd", "runtimetest")):
        raise SuiteError(f"{MODULE} {version} has no validation tests or no cmd/runtimetest")
    log(f"building runtimetest and {len(tests)} tests with {goversion}")
    # -s -w: no symbol tables or DWARF; linking 59 programs is most of the build
    ld = f"-s -w -X main.version={MODULE_VERSION_FILE} -X main.gitCommit={COMMIT[:12]}"
    go(["build", "-trimpath", "-tags", "netgo osusergo", "-ldflags", ld,
        "-o", os.path.join(dest, "runtimetest"), MODULE + "/cmd/runtimetest"], mod, env, "go build runtimetest")
    os.makedirs(os.path.join(dest, "bin"))
    go(["build", "-trimpath", "-ldflags", ld, "-o", os.path.join(dest, "bin") + "/"]
       + [f"{MODULE}/validation/{t}" for t in tests], mod, env, "go build validation tests")
    missing = [t for t in tests if not os.access(os.path.join(dest, "bin", t), os.X_OK)]
    if missing:
        raise SuiteError("go build made no binary for " + " ".join(missing))
    shutil.copytree(moddir, os.path.join(dest, "src"))
    arch = go(["env", "GOARCH"], mod, env, "go env").strip()
    rootfs_tarball(busybox, os.path.join(dest, f"rootfs-{arch}.tar.gz"))
    bbversion = subprocess.run([busybox], capture_output=True, text=True).stdout.splitlines()[:1]
    with open(os.path.join(dest, "VERSION"), "w") as f:
        f.write(f"runtime-tools {MODULE} {version} (commit {COMMIT})\n{goversion}\n{''.join(bbversion)}\n")


def remove_tree(path):
    """rm -rf, including Go's read-only module cache."""
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:
            try:
                os.chmod(os.path.join(dirpath, d), 0o755)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=True)


def ensure(log=lambda msg: print("[conformance] " + msg, file=sys.stderr)):
    """The built suite's directory; builds it first when the cache has none."""
    if os.path.isfile(os.path.join(SUITE, "VERSION")):
        return SUITE
    os.makedirs(CACHE, exist_ok=True)
    with open(SUITE + ".lock", "w") as lock:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SuiteError(f"timed out waiting for {SUITE}.lock (another build?)")
                time.sleep(1)
        if os.path.isfile(os.path.join(SUITE, "VERSION")):    # built while we waited
            return SUITE
        for stale in os.listdir(CACHE):                         # builds killed before they finished
            if stale.startswith(os.path.basename(SUITE) + ".tmp"):
                remove_tree(os.path.join(CACHE, stale))
        tmp = tempfile.mkdtemp(prefix=os.path.basename(SUITE) + ".tmp", dir=CACHE)
        log(f"building the validation suite into {SUITE}")
        try:
            build(tmp, log)
            remove_tree(os.path.join(tmp, ".gopath"))
            remove_tree(os.path.join(tmp, ".mod"))
            os.chmod(tmp, 0o755)
            os.rename(tmp, SUITE)
        finally:
            remove_tree(tmp)
    return SUITE


def main():
    try:
        print(ensure())
    except SuiteError as e:
        print(f"conformance: cannot build the suite: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
