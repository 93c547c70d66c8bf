"""The node VM is a node: systemd as PID 1, D-Bus, transient scopes in their slice, AppArmor enforcing, and
pyrunc running a container there (runs in the guest of `make test-node`, as v2vm-command.service).

The later node tests (the systemd cgroup driver over D-Bus, AppArmor
profiles for containers) stand on each of these.
"""
import os
import stat
import subprocess

import pytest

from tests.support.helpers import create, read, wait_for

pytestmark = pytest.mark.node

SYSTEMD = ("org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager")
# units the node tests stand on: none of them may have failed, even in a degraded boot
ESSENTIAL = {"dbus.service", "dbus.socket", "apparmor.service", "systemd-journald.service", "v2vm-command.service"}


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def manager_call(method, signature, *args):
    """A method of systemd's manager, over the system bus; busctl's reply line."""
    p = run("busctl", "call", *SYSTEMD, method, signature, *map(str, args))
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def own_cgroup():
    return read("/proc/self/cgroup").split("::", 1)[1].strip()


def test_systemd_is_pid_1_and_the_boot_finished():
    assert os.readlink("/proc/1/exe") in ("/usr/lib/systemd/systemd", "/lib/systemd/systemd")
    state = run("systemctl", "is-system-running").stdout.strip()
    failed = run("systemctl", "list-units", "--state=failed", "--no-legend", "--plain").stdout.split()
    assert state in ("running", "degraded"), (state, failed)
    assert not ESSENTIAL & set(failed), failed
    # a VM, not the container the host's files would suggest: systemd then skips securityfs and more
    assert run("systemd-detect-virt").stdout.strip() != "docker"
    # systemd's unified layout: cgroup2 alone, and this test inside the unit that runs it
    mounts = [line.split() for line in read("/proc/self/mounts").splitlines()]
    assert [m[1] for m in mounts if m[2].startswith("cgroup")] == ["/sys/fs/cgroup"]
    assert own_cgroup() == "/system.slice/v2vm-command.service/payload"


def test_dbus_system_bus_answers():
    assert stat.S_ISSOCK(os.stat("/run/dbus/system_bus_socket").st_mode)
    assert manager_call("GetUnit", "s", "dbus.service") == 'o "/org/freedesktop/systemd1/unit/dbus_2eservice"'
    p = run("busctl", "get-property", SYSTEMD[0], "/org/freedesktop/systemd1/unit/dbus_2eservice",
            "org.freedesktop.systemd1.Unit", "ActiveState")
    assert p.stdout.strip() == 's "active"', p.stderr
    # systemd knows which unit a process belongs to: the question a cgroup driver asks
    assert manager_call("GetUnitByPID", "u", os.getpid()) == \
        'o "/org/freedesktop/systemd1/unit/v2vm_2dcommand_2eservice"'


def test_transient_scope_lands_in_its_slice():
    """systemd-run --scope: a transient unit made over D-Bus, its slice name expanded at each dash."""
    unit = f"pyrunc-node-{os.getpid()}.scope"
    script = 'cg=$(sed -n "s/^0:://p" /proc/self/cgroup); echo $cg; cat /sys/fs/cgroup$cg/memory.max /sys/fs/cgroup$cg/pids.max'
    p = run("systemd-run", "--quiet", "--scope", f"--unit={unit}", "--slice=pyrunc-node.slice",
            "-p", "MemoryMax=64M", "-p", "TasksMax=16", "sh", "-c", script)
    assert p.returncode == 0, p.stderr
    cgroup, memory_max, pids_max = p.stdout.split()
    assert cgroup == f"/pyrunc.slice/pyrunc-node.slice/{unit}"
    assert (memory_max, pids_max) == (str(64 << 20), "16")
    # the scope ends with its last process
    wait_for(lambda: not os.path.exists("/sys/fs/cgroup" + cgroup), what="the scope's cgroup removed")


@pytest.fixture
def apparmor_profile(tmp_path):
    """A profile that allows everything but reading one file, loaded into the kernel; removed afterwards."""
    name = f"pyrunc-node-test-{os.getpid()}"
    secret = tmp_path / "secret"
    secret.write_text("visible\n")
    path = tmp_path / "profile"
    path.write_text(f"abi <abi/3.0>,\nprofile {name} {{\n  file,\n  deny {secret} r,\n}}\n")
    p = run("apparmor_parser", "--replace", "--skip-cache", str(path))
    assert p.returncode == 0, p.stderr
    yield name, str(secret)
    p = run("apparmor_parser", "--remove", str(path))
    assert p.returncode == 0, p.stderr


def test_apparmor_enforces_a_loaded_profile(apparmor_profile):
    name, secret = apparmor_profile
    assert read("/sys/module/apparmor/parameters/enabled").strip() == "Y"
    assert "apparmor" in read("/sys/kernel/security/lsm").split(",")
    assert f"{name} (enforce)" in read("/sys/kernel/security/apparmor/profiles").splitlines()
    assert name in run("aa-status").stdout.split()
    assert run("cat", secret).stdout == "visible\n"          # unconfined: allowed
    confined = run("aa-exec", "-p", name, "--", "cat", "/proc/self/attr/current", secret)
    assert confined.returncode == 1
    assert confined.stdout == f"{name} (enforce)\n"          # the confined process could read its own label
    assert "Permission denied" in confined.stderr             # and not the file the profile denies


def test_pyrunc_runs_a_container_with_cgroupfs(rt, bundle):
    """The default cgroupfs driver, in the subtree systemd delegated to the unit that runs the tests."""
    path = os.path.dirname(own_cgroup()) + "/pyrunc-node1"
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.config["linux"].setdefault("resources", {}).update({"memory": {"limit": 64 << 20}, "pids": {"limit": 32}})
    bundle.set_args("sleep", "300")
    create(rt, bundle, "node1")
    try:
        rt.run("start", "node1")
        pid = rt.state("node1")["pid"]
        assert read(f"/proc/{pid}/cgroup") == f"0::{path}\n"
        # exec joins that cgroup too, seen from inside as the root of the container's cgroup namespace
        assert "cgroup" in {ns["type"] for ns in bundle.config["linux"]["namespaces"]}
        assert rt.run("exec", "node1", "cat", "/proc/self/cgroup").stdout == "0::/\n"
        assert read(f"/sys/fs/cgroup{path}/memory.max").strip() == str(64 << 20)
        assert read(f"/sys/fs/cgroup{path}/pids.max").strip() == "32"
        # systemd files the container under the delegating unit: nothing of ours is foreign to it
        assert manager_call("GetUnitByPID", "u", pid) == 'o "/org/freedesktop/systemd1/unit/v2vm_2dcommand_2eservice"'
    finally:
        rt.run("delete", "--force", "node1")
    assert not os.path.exists(f"/sys/fs/cgroup{path}")
