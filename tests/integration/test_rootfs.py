"""The root filesystem: mounts and their options, /dev, masked and read-only paths, pivot_root."""
import os
import re
import stat

import pytest

from tests.support.helpers import run_to_completion

pytestmark = pytest.mark.agnostic


def mountinfo_of(out, mountpoint):
    """The mountinfo line of `mountpoint` (the last one mounted there)."""
    found = None
    for line in out.splitlines():
        f = line.split()
        if len(f) > 4 and f[4] == mountpoint:
            found = line
    assert found, f"{mountpoint} not mounted"
    return found


def per_mount_options(line):
    return set(line.split()[5].split(","))


def test_readonly_root(rt, bundle):
    bundle.config["root"]["readonly"] = True
    bundle.set_args("sh", "-c", "touch /x 2>/dev/null && echo writable || echo readonly; touch /tmp/y && echo tmp-ok")
    out = run_to_completion(rt, bundle, "ro1")
    # /tmp is on the read-only root too: nothing in the default config mounts it
    assert out.split()[0] == "readonly"


def test_tmpfs_and_bind_mount_options(rt, bundle, tmp_path):
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "file").write_text("from-host")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(host), "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "noexec", "mode=1770", "size=1m"]},
        {"destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs", "options": ["noatime"]},
    ]
    bundle.set_args("sh", "-c", "cat /data/file; echo; touch /data/x 2>/dev/null || echo bind-ro;"
                    " stat -c %a /scratch; cat /proc/self/mountinfo")
    out = run_to_completion(rt, bundle, "mo1")
    lines = out.splitlines()
    assert lines[0] == "from-host"
    assert lines[1] == "bind-ro"
    assert lines[2] == "1770"
    assert {"ro", "nosuid"} <= per_mount_options(mountinfo_of(out, "/data"))
    assert {"nosuid", "nodev", "noexec"} <= per_mount_options(mountinfo_of(out, "/scratch"))
    assert "noatime" in per_mount_options(mountinfo_of(out, "/new/deep/dir"))
    assert not (host / "x").exists()


def test_bind_mount_of_a_file(rt, bundle, tmp_path):
    f = tmp_path / "hosts"
    f.write_text("127.0.0.1 injected\n")
    bundle.config["mounts"].append({"destination": "/etc/hosts", "type": "bind", "source": str(f),
                                    "options": ["bind", "ro"]})
    bundle.set_args("cat", "/etc/hosts")
    assert run_to_completion(rt, bundle, "mf1") == "127.0.0.1 injected\n"


def test_recursive_readonly(rt, bundle, tmp_path):
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    bundle.config["mounts"] += [
        {"destination": "/outer", "type": "tmpfs", "source": "tmpfs", "options": []},
        {"destination": "/outer/inner", "type": "tmpfs", "source": "tmpfs", "options": []},
        {"destination": "/r", "type": "bind", "source": "/", "options": ["rbind", "rro"]},
    ]
    bundle.set_args("sh", "-c", "touch /r/tmp/rro-probe 2>/dev/null && echo writable || echo readonly")
    assert run_to_completion(rt, bundle, "rro1").strip() == "readonly"
    assert not os.path.exists("/tmp/rro-probe")


def test_dev_setup(rt, bundle):
    bundle.set_args("sh", "-c", "for d in null zero full random urandom tty; do stat -c '%n %t %T %a' /dev/$d; done;"
                    " for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done")
    lines = run_to_completion(rt, bundle, "dev1").splitlines()
    majors = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
    for line in lines[:6]:
        name, ma, mi, mode = line.split()
        assert (int(ma, 16), int(mi, 16)) == majors[name.rsplit("/", 1)[1]], line
        assert mode == "666", line
    assert lines[6:11] == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2", "pts/ptmx"]


def test_readonly_dev_with_a_terminal(rt, bundle, tmp_path):
    """/dev turns read-only only after the pty is bound to /dev/console (runc's order)."""
    from tests.support.console import ConsoleSocket, read_all
    from tests.support.helpers import create, wait_for
    for m in bundle.config["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    bundle.config["process"]["terminal"] = True
    bundle.set_args("sh", "-c", "stat -c %t:%T /dev/console; touch /dev/x 2>/dev/null || echo dev-ro")
    cs = ConsoleSocket(tmp_path / "c.sock")
    try:
        create(rt, bundle, "devro", extra=["--console-socket", cs.path])
        _, fds, _ = cs.receive()
        rt.run("start", "devro")
        out = read_all(fds[0], until=b"dev-ro")
        os.close(fds[0])
        wait_for(lambda: rt.status("devro") == "stopped", what="exit")
        rt.run("delete", "devro")
    finally:
        cs.close()
    major = out.split(b":")[0].strip()
    assert major == b"88" and b"dev-ro" in out, out      # a /dev/pts device (Unix98 pty major 136 = 0x88)


def test_linux_devices(rt, bundle):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 1000, "gid": 1000},
        {"path": "/dev/sub/fifo", "type": "p"},
    ]
    bundle.set_args("sh", "-c", "stat -c '%F %t %T %a %u %g' /dev/mynull /dev/sub/fifo")
    lines = run_to_completion(rt, bundle, "ld1").splitlines()
    assert lines[0] == "character special file 1 3 600 1000 1000"
    assert lines[1].startswith("fifo")


def test_masked_and_readonly_paths(rt, bundle):
    bundle.config["linux"]["maskedPaths"] += ["/proc/version", "/etc"]
    bundle.set_args("sh", "-c", "wc -c < /proc/version; ls -A /etc | wc -l;"
                    " (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys-writable || echo sys-ro;"
                    " cat /proc/self/mountinfo")
    out = run_to_completion(rt, bundle, "mask1")
    lines = out.splitlines()
    assert lines[0].strip() == "0"          # a masked file shows the null device
    assert lines[1].strip() == "0"          # a masked directory is empty
    assert lines[2] == "sys-ro"
    assert "ro" in per_mount_options(mountinfo_of(out, "/proc/sys"))


def test_no_pivot(rt, bundle):
    bundle.set_args("sh", "-c", "ls /; cat /proc/self/mountinfo | wc -l")
    from tests.support.helpers import create, read, wait_for
    p = create(rt, bundle, "np1", extra=["--no-pivot"])
    rt.run("start", "np1")
    wait_for(lambda: rt.status("np1") == "stopped", what="exit")
    rt.run("delete", "np1")
    out = read(p.out_path).split()
    assert "bin" in out and "etc" in out


@pytest.mark.crun_differs("crun 1.8 refuses a destination through an image symlink whose target is missing; runc creates it inside the rootfs")
def test_mount_through_symlink_stays_inside(rt, bundle, tmp_path):
    """An image symlink pointing outside cannot redirect a mount to the host (CVE-2021-30465 class)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), os.path.join(bundle.rootfs, "escape"))
    bundle.config["mounts"].append({"destination": "/escape/m", "type": "tmpfs", "source": "tmpfs"})
    bundle.set_args("sh", "-c", "touch /escape/m/inside && echo ok")
    assert run_to_completion(rt, bundle, "sym1").strip() == "ok"
    assert not os.listdir(outside)
    assert os.path.isdir(os.path.join(bundle.rootfs, str(outside).lstrip("/"), "m"))


def test_sysctl(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
    bundle.set_args("sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni")
    assert run_to_completion(rt, bundle, "sc1").split() == ["1", "1234"]
    with open("/proc/sys/kernel/shmmni") as f:
        assert f.read().strip() != "1234"


def root_mount_tags(rt, bundle, cid):
    """The optional fields (shared:N, master:N, unbindable) of the container's / mount."""
    bundle.set_args("awk", "$5 == \"/\"", "/proc/self/mountinfo")
    line = run_to_completion(rt, bundle, cid).splitlines()[-1]   # the topmost mount on /
    return line.split(" - ")[0].split()[6:]


def test_rootfs_propagation_private(rt, bundle):
    bundle.config["linux"]["rootfsPropagation"] = "private"
    assert root_mount_tags(rt, bundle, "pr1") == []


@pytest.mark.skipif_reference("runc < 1.4 and crun 1.8 leave the new root private")
@pytest.mark.parametrize("propagation, tag", [("shared", "shared:"), ("rshared", "shared:"),
                                              ("unbindable", "unbindable")])
def test_rootfs_propagation_on_the_new_root(rt, bundle, propagation, tag):
    bundle.config["linux"]["rootfsPropagation"] = propagation
    tags = root_mount_tags(rt, bundle, "pr2")
    assert any(t.startswith(tag) for t in tags), tags


@pytest.mark.crun_differs("crun 1.8 fchowns its stdio to the container's root: here the host's /dev/null")
def test_dev_null_stays_roots(rt, bundle):
    """The container's stdin is the host's /dev/null and its root is an unprivileged host uid:
    runtimes make the stdio usable by fchown'ing it to that uid, which must skip /dev/null
    (the fixture puts it back if it does not)."""
    from tests.integration.test_namespaces import open_path_to
    open_path_to(bundle.rootfs)
    os.chown(bundle.rootfs, 100000, 100000)
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.set_args("true")
    run_to_completion(rt, bundle, "dn1", stdin=os.devnull)
    st = os.stat("/dev/null")
    assert st.st_uid == 0 and stat.S_ISCHR(st.st_mode)


def idmapped_volume(bundle, tmp_path, options, owner=(0, 0), **mappings):
    """/vol: a host directory holding f, owned by `owner` on disk, bound with `options` (and
    mount mappings); the container prints f's owner as it sees it."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("x")
    os.chown(vol / "f", *owner)
    bundle.config["mounts"].append(dict({"destination": "/vol", "type": "bind", "source": str(vol),
                                         "options": options}, **mappings))
    bundle.set_args("stat", "-c", "%u %g", "/vol/f")
    return vol


@pytest.mark.skipif_reference("runc 1.1 has no idmapped mounts")
def test_idmapped_bind_mount(rt, bundle, tmp_path):
    vol = idmapped_volume(bundle, tmp_path, ["bind", "idmap"],
                          uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
                          gidMappings=[{"containerID": 0, "hostID": 2000, "size": 1}])
    # on-disk root is seen through the mount's user namespace as 1000:2000
    assert run_to_completion(rt, bundle, "idm1").split() == ["1000", "2000"]
    assert os.stat(vol / "f").st_uid == 0


@pytest.mark.skipif_reference("Debian's runc 1.1.5 predates the /dev fix and leaks after the /proc refusal")
@pytest.mark.parametrize("where", ["proc", "dev"])
def test_symlinked_proc_or_dev_in_the_image_is_refused(rt, bundle, where):
    """CVE-2019-16884 / CVE-2026-41579 class: the runtime must not trust a /proc or /dev the image redirects."""
    path = os.path.join(bundle.rootfs, where)
    os.rmdir(path)
    os.makedirs(os.path.join(bundle.rootfs, "fake" + where))
    os.symlink("fake" + where, path)
    from tests.support.helpers import create, read
    p = create(rt, bundle, "sl1", check=False)
    assert p.returncode != 0
    # runc's words for /proc ("must be mounted on ordinary directory"), pyrunc's for /dev
    assert re.search("symlink|ordinary directory", read(p.out_path))
    assert "sl1" not in rt.ids()
