"""Mount follow-ups act on the mount made, never on its path looked up again (CVE-2021-30465 class),
and every kind of mount still gets its flags, in and out of a user namespace."""
import ctypes
import os
import subprocess
import threading

import pytest

from tests.support.helpers import create, run_to_completion

RENAMEAT2, AT_FDCWD, RENAME_EXCHANGE = 316, -100, 2


class Swapper:
    """A co-tenant of the rootfs: swaps a directory and a symlink (renameat2 RENAME_EXCHANGE) in a loop."""

    def __init__(self, path, link):
        self.a, self.b = path.encode(), link.encode()
        self.path = path
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.stop_flag = threading.Event()
        self.thread = None

    def _exchange(self):
        if self.libc.syscall(RENAMEAT2, AT_FDCWD, self.a, AT_FDCWD, self.b, RENAME_EXCHANGE) != 0:
            raise OSError(ctypes.get_errno(), "renameat2")

    def _loop(self):
        while not self.stop_flag.is_set():
            self._exchange()

    def start(self):
        self.stop_flag.clear()
        self.thread = threading.Thread(target=self._loop)
        self.thread.start()

    def stop(self):
        """Stop swapping and put the directory back in its place."""
        self.stop_flag.set()
        self.thread.join()
        if os.path.islink(self.path):
            self._exchange()


def host_mounts(mountinfo, host):
    """(mount point, per-mount options) of each mount in mountinfo showing the host directory."""
    tail = "/" + os.path.basename(os.path.dirname(host)) + "/" + os.path.basename(host)
    out = []
    for line in mountinfo.splitlines():
        f = line.split()
        if f[3].endswith(tail):
            out.append((f[4], set(f[5].split(","))))
    return out


def check_ro_bind_race(rt, bundle, host, rounds=60):
    """A read-only bind of a host directory at /data/m while /data is swapped with a symlink to
    /other (whose m is a mount point, so a read-only step sent there succeeds): after every
    create, every mount of the host directory must be read-only and take no write.

    Returns (holes, failed creates)."""
    rootfs = bundle.rootfs
    for d in ("data/m", "other/m"):
        os.makedirs(os.path.join(rootfs, d))
    data = os.path.join(rootfs, "data")
    os.symlink("/other", data + ".link")
    bundle.config["mounts"] += [
        {"destination": "/other/m", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        {"destination": "/data/m", "type": "bind", "source": str(host), "options": ["rbind", "ro"]},
    ]
    bundle.set_args("true")
    racer = Swapper(data, data + ".link")
    holes, failed = [], 0
    for i in range(rounds):
        cid = f"race{i}"
        racer.start()
        try:
            p = create(rt, bundle, cid, check=False)
        finally:
            racer.stop()
        if p.returncode != 0:
            failed += 1
            continue
        try:
            pid = rt.state(cid)["pid"]
            with open(f"/proc/{pid}/mountinfo") as f:
                seen = host_mounts(f.read(), str(host))
            if not seen:
                holes.append(f"round {i}: the host directory is not mounted at all")
            holes += [f"round {i}: {mp} is {sorted(opts)}" for mp, opts in seen if "ro" not in opts]
            # the attacker's gain: write through the container's mounts (the racer is stopped,
            # /data is back; the bind sits at /data/m or, if created mid-swap, at /other/m)
            for where in ("data/m", "other/m"):
                try:
                    with open(f"/proc/{pid}/root/{where}/written-{i}", "w") as f:
                        f.write("x")
                except OSError:
                    pass
            holes += [f"round {i}: the container wrote {name} into the host directory"
                      for name in os.listdir(host)]
            for name in os.listdir(host):
                os.remove(os.path.join(host, name))
        finally:
            rt.run("delete", "--force", cid)
    return holes, failed


def test_ro_bind_stays_ro_while_a_path_component_is_swapped(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's mount executor")
    host = tmp_path / "host"
    host.mkdir()
    holes, failed = check_ro_bind_race(rt, bundle, host)
    assert holes == []
    # nothing is looked up again, so the race cannot fail a create either (a re-resolved
    # path that is not the mount any more made the old remount fail with EINVAL)
    assert failed == 0


# ------------------------------------------------------------------ flags of every mount kind

def mounts_by_point(mountinfo):
    """{mount point: (per-mount options, optional fields, super options, root)} of the topmost mounts."""
    out = {}
    for line in mountinfo.splitlines():
        pre, _, post = line.partition(" - ")
        f, r = pre.split(), post.split()
        out[f[4]] = (set(f[5].split(",")), f[6:], set(r[2].split(",")), f[3])
    return out


@pytest.mark.parametrize("userns", [False, True], ids=["host-userns", "own-userns"])
def test_each_mount_kind_gets_its_flags(rt, bundle, tmp_path, userns, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's mount executor (runc 1.1 leaves a tmpfs's superblock rw and /sys/fs/cgroup rw)")
    host = tmp_path / "host"
    (host / "sub").mkdir(parents=True)
    (host / "file").write_text("host")
    host.chmod(0o777)       # writable by the container's root in a user namespace too
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "sub", str(host / "sub")], check=True)
    seed = os.path.join(bundle.rootfs, "seed")
    os.mkdir(seed)
    with open(os.path.join(seed, "from-image"), "w") as f:
        f.write("seeded")
    with open(os.path.join(bundle.rootfs, "masked-file"), "w") as f:
        f.write("secret")
    linux = bundle.config["linux"]
    if userns:
        from tests.integration.test_namespaces import open_path_to
        open_path_to(bundle.rootfs)
        subprocess.run(["chown", "-R", "100000:100000", bundle.rootfs], check=True)
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    for m in bundle.config["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    bundle.config["mounts"] += [
        {"destination": "/b/ro", "type": "bind", "source": str(host), "options": ["rbind", "ro"]},
        {"destination": "/b/flags", "type": "bind", "source": str(host), "options": ["rbind", "nosuid", "nodev", "noexec"]},
        {"destination": "/b/rro", "type": "bind", "source": str(host), "options": ["rbind", "rro"]},
        {"destination": "/b/shared", "type": "bind", "source": str(host), "options": ["rbind", "rshared"]},
        {"destination": "/b/file", "type": "bind", "source": str(host / "file"), "options": ["bind", "ro", "nosuid"]},
        {"destination": "/b/plain", "type": "bind", "source": str(host), "options": ["rbind"]},
        {"destination": "/t/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "size=1m"]},
        {"destination": "/t/flags", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "noexec", "noatime", "mode=1770", "size=1m"]},
        {"destination": "/t/strict", "type": "tmpfs", "source": "tmpfs", "options": ["strictatime", "nodiratime"]},
        {"destination": "/t/masked", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        {"destination": "/seed", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "ro", "nosuid"]},
        {"destination": "/q", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]
    if not userns:
        # the atime of a mount from the host is locked in a user namespace: only outside
        bundle.config["mounts"].append({"destination": "/b/atime", "type": "bind", "source": str(host),
                                        "options": ["rbind", "noatime"]})
    bundle.config["root"]["readonly"] = True
    linux["readonlyPaths"] = linux.get("readonlyPaths", []) + ["/b/plain"]
    linux["maskedPaths"] = linux.get("maskedPaths", []) + ["/t/masked", "/masked-file"]
    bundle.set_args("sh", "-c", "cat /seed/from-image; echo; stat -c %t:%T /dev/null;"
                    " touch /b/flags/w && echo bind-rw; touch /b/ro/x 2>/dev/null || echo bind-ro; cat /proc/self/mountinfo")
    try:
        out = run_to_completion(rt, bundle, "flags1")
    finally:
        subprocess.run(["umount", str(host / "sub")], check=True)
    lines = out.splitlines()
    assert lines[:4] == ["seeded", "1:3", "bind-rw", "bind-ro"], lines[:4]
    mi = mounts_by_point("\n".join(lines[4:]))

    def opts(mp):
        return mi[mp][0]

    assert "ro" in opts("/")
    assert {"ro", "nosuid"} <= opts("/dev") and "rw" in mi["/dev"][2]            # ro deferred, per mount
    assert not {"relatime", "noatime"} & opts("/dev")                               # strictatime
    assert {"ro"} <= opts("/b/ro") and {"rw"} <= opts("/b/ro/sub")                   # ro: the top mount only
    assert {"rw", "nosuid", "nodev", "noexec"} <= opts("/b/flags")
    assert {"ro"} <= opts("/b/rro") and {"ro"} <= opts("/b/rro/sub")                # rro: the whole tree
    assert any(t.startswith("shared:") for t in mi["/b/shared"][1])
    assert any(t.startswith("shared:") for t in mi["/b/shared/sub"][1])
    assert {"ro"} <= opts("/b/plain") and {"ro"} <= opts("/b/plain/sub")            # readonlyPaths: recursive
    assert {"ro"} <= opts("/t/ro") and "ro" in mi["/t/ro"][2]
    assert {"rw", "nosuid", "nodev", "noexec", "noatime"} <= opts("/t/flags") and "mode=1770" in mi["/t/flags"][2]
    assert "nodiratime" in opts("/t/strict") and not {"relatime", "noatime"} & opts("/t/strict")
    assert "ro" in opts("/t/masked") and "ro" in mi["/t/masked"][2]                 # masked: a read-only tmpfs
    assert mi["/masked-file"][3] == "/null"                                         # masked: the null device
    assert {"ro", "nosuid"} <= opts("/b/file")
    assert {"ro"} <= opts("/seed") and "ro" in mi["/seed"][2] and "nosuid" in opts("/seed")
    assert {"ro", "nosuid", "nodev", "noexec"} <= opts("/q")
    assert {"ro", "nosuid", "nodev", "noexec"} <= opts("/sys")
    for mp, (o, *_) in mi.items():
        if mp.startswith("/sys/fs/cgroup"):
            assert {"ro", "nosuid", "nodev", "noexec"} <= o, mp
    if not userns:
        assert {"rw", "noatime"} <= opts("/b/atime")
    assert sorted(os.listdir(host)) == ["file", "sub", "w"]
