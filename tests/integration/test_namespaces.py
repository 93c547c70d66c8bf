"""Namespaces seen from inside and outside: new ones, joined ones, user and time namespaces."""
import os
import subprocess

import pytest

from tests.support.helpers import create, open_path_to, read, run_to_completion, wait_for

pytestmark = pytest.mark.agnostic


def ns_inode(pid, name):
    return os.readlink(f"/proc/{pid}/ns/{name}")


def test_new_namespaces_differ_from_host(rt, bundle):
    bundle.set_args("sleep", "30")
    create(rt, bundle, "n1")
    pid = rt.state("n1")["pid"]
    for name in ("pid", "net", "ipc", "uts", "mnt", "cgroup"):
        assert ns_inode(pid, name) != ns_inode("self", name), name
    assert ns_inode(pid, "user") == ns_inode("self", "user")
    rt.run("delete", "n1")


def test_hostname_and_loopback(rt, bundle):
    bundle.config["hostname"] = "box-one"
    bundle.set_args("sh", "-c", "hostname; cat /sys/class/net/lo/flags; ls /sys/class/net")
    out = run_to_completion(rt, bundle, "h1").split()
    assert out[0] == "box-one"
    assert int(out[1], 16) & 1, "lo is up"
    assert out[2:] == ["lo"]


def test_empty_hostname_keeps_the_callers(rt, bundle):
    """"hostname": "" with a UTS namespace sets nothing: the name CLONE_NEWUTS copied stays (runc's
    `!= ""`; sethostname("") made `hostname` print `?`)."""
    import socket
    bundle.config["hostname"] = ""
    bundle.set_args("hostname")
    assert run_to_completion(rt, bundle, "h0").strip() == socket.gethostname()


@pytest.mark.skipif_reference("runc 1.1 has no domainname")
def test_domainname(rt, bundle):
    bundle.config["domainname"] = "example.test"
    bundle.set_args("cat", "/proc/sys/kernel/domainname")
    assert run_to_completion(rt, bundle, "dn1").strip() == "example.test"


def test_mount_namespace_root_is_the_rootfs(rt, bundle):
    bundle.set_args("sh", "-c", "head -1 /proc/self/mountinfo; ls /")
    out = run_to_completion(rt, bundle, "m1").splitlines()
    fields = out[0].split()
    assert fields[4] == "/"   # the first mount is the container's root
    assert "busybox" not in out[1:] and "bin" in out[1:]


def test_cgroup_namespace_root(rt, bundle):
    bundle.set_args("cat", "/proc/self/cgroup")
    out = run_to_completion(rt, bundle, "cg1")
    for line in out.splitlines():
        assert line.rsplit(":", 1)[1] == "/", line


def test_join_network_namespace_by_path(rt, bundle, bundle_template, tmp_path):
    from tests.support.bundle import new_bundle
    bundle.set_args("sleep", "30")
    create(rt, bundle, "sandbox")
    spid = rt.state("sandbox")["pid"]
    other = new_bundle(bundle_template, tmp_path / "other")
    nss = [ns for ns in other.config["linux"]["namespaces"] if ns["type"] not in ("network", "ipc")]
    nss += [{"type": "network", "path": f"/proc/{spid}/ns/net"}, {"type": "ipc", "path": f"/proc/{spid}/ns/ipc"}]
    other.config["linux"]["namespaces"] = nss
    other.set_args("sleep", "30")
    create(rt, other, "member")
    mpid = rt.state("member")["pid"]
    assert ns_inode(mpid, "net") == ns_inode(spid, "net")
    assert ns_inode(mpid, "ipc") == ns_inode(spid, "ipc")
    assert ns_inode(mpid, "uts") != ns_inode(spid, "uts")
    rt.run("delete", "member")
    rt.run("delete", "sandbox")


def test_user_namespace_mappings(rt, bundle, tmp_path):
    open_path_to(bundle.rootfs)
    os.chown(bundle.rootfs, 100000, 100000)
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # sysfs cannot be mounted by a user namespace that does not own the network namespace... it does here
    bundle.set_args("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u")
    p = create(rt, bundle, "u1")
    host_pid = rt.state("u1")["pid"]
    with open(f"/proc/{host_pid}/uid_map") as f:
        assert f.read().split() == ["0", "100000", "65536"]
    rt.run("start", "u1")
    wait_for(lambda: rt.status("u1") == "stopped", what="exit")
    rt.run("delete", "u1")
    out = read(p.out_path).split()
    assert out[:3] == ["0", "100000", "65536"] and out[3:6] == ["0", "100000", "65536"]
    assert out[6] == "0"


@pytest.mark.skipif_reference("runc 1.1 has no time namespaces")
def test_time_namespace_offsets(rt, bundle):
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("no time namespaces on this kernel")
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 0}}
    bundle.set_args("cat", "/proc/self/timens_offsets")
    out = run_to_completion(rt, bundle, "t1")
    assert "monotonic" in out and "86400" in out.split("monotonic")[1].split()[0]


@pytest.mark.skipif_reference("runc 1.1 has no linux.netDevices")
def test_net_devices_move_with_rename_and_addresses(rt, bundle):
    """The runtime runs in a private network namespace of the test, so the host's links are never touched."""
    import subprocess
    bundle.config["linux"]["netDevices"] = {"pyr0": {"name": "eth7"}}
    bundle.set_args("sh", "-c", "ls /sys/class/net; ip -o -4 addr show dev eth7")
    # no dummy driver on this kernel: one end of a veth pair plays the device
    script = ('ip link add pyr0 type veth peer name pyr1 && ip addr add 10.9.8.7/24 dev pyr0 && "$@";'
              ' rc=$?; ip link show pyr0 >/dev/null 2>&1 && echo still-on-host; exit $rc')
    p = subprocess.run(["unshare", "--net", "--", "sh", "-c", script, "_",
                        *rt.argv("run", "--bundle", bundle.path, "nd1")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.split()[:2] == ["eth7", "lo"]
    assert "10.9.8.7/24" in out
    assert "still-on-host" not in out


def test_no_mount_namespace_chroots_and_leaves_the_callers_root(rt, bundle, tmp_path):
    """Without a mount namespace the container shares the caller's: the runtime must chroot (runc),
    never pivot_root, which would swap, then detach, the root of every process sharing it."""
    bundle.config["linux"]["namespaces"] = [ns for ns in bundle.config["linux"]["namespaces"]
                                            if ns["type"] != "mount"]
    bundle.config["linux"].pop("maskedPaths", None)
    bundle.config["linux"].pop("readonlyPaths", None)
    bundle.set_args("sh", "-c", "readlink /proc/self/ns/mnt; ls /")
    # The runtime's mounts land in the caller's namespace: give it a throwaway one.
    script = ('readlink /proc/self/ns/mnt; stat -c %d:%i /; "$@" >"$OUT" 2>&1; echo "rc=$?"; '
              'stat -c %d:%i /; test -d "$PROBE" && echo probe-ok')
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                        *rt.argv("run", "--bundle", bundle.path, "nomnt")],
                       env=dict(os.environ, OUT=str(tmp_path / "out"), PROBE=str(tmp_path)),
                       capture_output=True, text=True, timeout=60)
    caller_ns, root_before, rc, root_after, *probe = p.stdout.split()
    container = read(tmp_path / "out").split()
    assert rc == "rc=0", container
    assert container[0] == caller_ns, "the container shares the caller's mount namespace"
    assert "bin" in container[1:] and "config.json" not in container[1:], "its root is the rootfs"
    assert root_after == root_before and probe == ["probe-ok"], "the caller's root is untouched"
