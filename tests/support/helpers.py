"""Small helpers shared by integration tests."""
import os
import time


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def create(rt, bundle, cid, out=None, extra=(), check=True, stdin=None, **kw):
    """`create` with the container's stdio on files (a pipe would stay open as long as it lives).

    stdin defaults to an empty file of the test's own, not the host's /dev/null: crun 1.8
    fchowns the container's stdio to the container's user."""
    out = out or os.path.join(os.path.dirname(bundle.path), f"{cid}.out")
    empty = os.path.join(os.path.dirname(bundle.path), f"{cid}.in")
    open(empty, "w").close()
    with open(out, "w") as o, open(stdin or empty) as i:
        p = rt.run("create", "--bundle", bundle.path, *extra, cid, stdin=i, stdout=o, stderr=o,
                   check=False, **kw)
    if check and p.returncode != 0:
        with open(out) as f:
            raise AssertionError(f"create {cid} failed ({p.returncode}): {f.read().strip()}")
    p.out_path = out
    return p


def open_path_to(path):
    """Let everyone search the directories above `path`: a container's root in a user namespace
    (uid 100000 on the host) or a rootless runtime must reach its bundle (pytest's are 0700)."""
    d = os.path.dirname(path)
    while d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o005)
        d = os.path.dirname(d)


def read(path):
    with open(path) as f:
        return f.read()


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


def run_to_completion(rt, bundle, cid, timeout=20, stdin=None, check=True):
    """create + start, wait until stopped, delete; returns the container's output (None when
    `create` failed and check is False)."""
    p = create(rt, bundle, cid, stdin=stdin, check=check)
    if p.returncode != 0:
        return None
    pid = rt.state(cid)["pid"]
    rt.run("start", cid)
    wait_for(lambda: rt.status(cid) == "stopped", timeout, what=f"{cid} to stop")
    rt.run("delete", cid)
    del pid
    return read(p.out_path)


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def make_rootless(bundle, uid, own_dir):
    """The bundle's config as `spec --rootless` makes it: a user namespace mapping root to `uid`,
    no resources, /sys bound from the host, /dev/pts without gid=5 (saved by the caller); the
    bundle reachable by `uid`, and own_dir (a pathlib.Path) made as its own directory."""
    own_dir.mkdir()
    os.chown(own_dir, uid, uid)
    open_path_to(str(own_dir / "x"))
    open_path_to(bundle.rootfs + "/x")
    linux = bundle.config["linux"]
    linux["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user")]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux.pop("resources", None)
    mounts = []
    for m in bundle.config["mounts"]:
        if m["destination"] == "/sys":
            m = {"destination": "/sys", "type": "none", "source": "/sys",
                 "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
        if m["destination"] == "/dev/pts":
            m["options"] = [o for o in m["options"] if o != "gid=5"]
        mounts.append(m)
    bundle.config["mounts"] = mounts
