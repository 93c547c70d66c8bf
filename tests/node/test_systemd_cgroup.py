"""--systemd-cgroup on a node, pyrunc and runc side by side: the container's transient scope, its limits, its end
(runs in the guest of `make test-node`, as v2vm-command.service).

Everything is checked from outside the container, by systemd's own tools
(systemctl show) and the cgroup files; the leak check of the rt fixture
(and `no_unit`) proves that nothing is left once a container is deleted,
or once its create failed.
"""
import os
import subprocess

import pytest

from tests.support.helpers import create, make_rootless, read, wait_for
from tests.support.runtime import Runtime, runtime_path

pytestmark = pytest.mark.node

RUNC = "/usr/sbin/runc"
MIB = 1 << 20


def show(unit, *props):
    """{property: value} as systemctl shows the unit."""
    p = subprocess.run(["systemctl", "show", unit, *[f"--property={x}" for x in props]],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)


def no_unit(unit):
    return show(unit, "LoadState")["LoadState"] == "not-found"


@pytest.fixture(params=["pyrunc", "runc"])
def sd(request, rt, tmp_path):
    """(runtime with --systemd-cgroup, name); the slices the test made are stopped before the leak check."""
    if request.param == "runc":
        os.makedirs(tmp_path / "runc-state")
        runtime = Runtime(RUNC, str(tmp_path / "runc-state"))
    else:
        runtime = Runtime(runtime_path(), rt.root)
    runtime.argv = _with_flag(runtime.argv)
    slices = []
    yield runtime, request.param, slices
    runtime.cleanup()
    for s in reversed(slices):
        subprocess.run(["systemctl", "stop", s], capture_output=True, timeout=60)


def _with_flag(argv):
    def with_flag(*args, **kw):
        a = argv(*args, **kw)
        return a[:3] + ["--systemd-cgroup"] + a[3:]
    return with_flag


def cgroup_of(pid):
    return read(f"/proc/{pid}/cgroup").strip().removeprefix("0::")


def test_scope_in_its_slice_with_limits_update_pause_exec_ps_events_delete(sd, bundle, tmp_path):
    runtime, name, slices = sd
    slices.append("machine.slice")
    cid = f"sd-{name}-{os.getpid()}"
    unit, cgroup = f"pyrunc-{cid}.scope", f"/machine.slice/pyrunc-{cid}.scope"
    bundle.config["linux"]["cgroupsPath"] = f"machine.slice:pyrunc:{cid}"
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 * MIB}, "pids": {"limit": 40},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"}}
    bundle.set_args("sleep", "300")
    create(runtime, bundle, cid)
    runtime.run("start", cid)
    pid = runtime.state(cid)["pid"]
    files = f"/sys/fs/cgroup{cgroup}/"
    props = show(unit, "ActiveState", "Slice", "Delegate", "ControlGroup", "MemoryMax", "TasksMax", "CPUWeight",
                 "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "AllowedCPUs", "AllowedMemoryNodes", "Description")
    assert props == {"ActiveState": "active", "Slice": "machine.slice", "Delegate": "yes", "ControlGroup": cgroup,
                     "MemoryMax": str(64 * MIB), "TasksMax": "40", "CPUWeight": props["CPUWeight"],
                     "CPUQuotaPerSecUSec": "200ms", "CPUQuotaPeriodUSec": "100ms", "AllowedCPUs": "0",
                     "AllowedMemoryNodes": "0", "Description": f"libcontainer container {cid}"}
    assert cgroup_of(pid) == cgroup
    assert read(files + "memory.max").strip() == str(64 * MIB) and read(files + "pids.max").strip() == "40"
    assert read(files + "cpu.max").strip() == "20000 100000" and read(files + "cpuset.cpus").strip() == "0"
    # systemd and the file agree (runc 1.1.5 converts shares linearly, pyrunc as runc 1.3: both 512 -> < 100)
    assert read(files + "cpu.weight").strip() == props["CPUWeight"] and 1 <= int(props["CPUWeight"]) < 100

    runtime.run("update", "--memory", str(128 * MIB), "--pids-limit", "50", "--cpu-quota", "30000", cid)
    props = show(unit, "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec")
    assert props == {"MemoryMax": str(128 * MIB), "TasksMax": "50", "CPUQuotaPerSecUSec": "300ms"}
    assert read(files + "memory.max").strip() == str(128 * MIB) and read(files + "pids.max").strip() == "50"
    assert read(files + "cpu.max").strip() == "30000 100000"

    runtime.run("pause", cid)
    assert runtime.status(cid) == "paused" and read(files + "cgroup.freeze").strip() == "1"
    assert "frozen 1" in read(files + "cgroup.events")
    runtime.run("resume", cid)
    assert runtime.status(cid) == "running" and "frozen 0" in read(files + "cgroup.events")

    pid_file = tmp_path / "exec.pid"
    with open(tmp_path / "exec.out", "w") as out:     # a pipe would stay open as long as the process lives
        runtime.run("exec", "-d", "--pid-file", str(pid_file), cid, "sleep", "200", stdout=out, stderr=out)
    exec_pid = int(pid_file.read_text())
    assert cgroup_of(exec_pid) == cgroup
    ps = runtime.run("ps", "--format", "json", cid).stdout
    assert sorted(int(x) for x in ps.strip("[]\n").split(",")) == sorted([pid, exec_pid])
    import json
    stats = json.loads(runtime.run("events", "--stats", cid).stdout)["data"]
    assert stats["memory"]["usage"]["usage"] > 0 and stats["pids"]["current"] == 2

    runtime.run("delete", "--force", cid)
    assert no_unit(unit) and not os.path.exists(files)


def test_dashed_slice_default_prefix_and_delete_of_a_stopped_container(sd, bundle):
    runtime, name, slices = sd
    slices += ["a-b.slice", "a.slice"]
    cid = f"sdb-{name}-{os.getpid()}"
    unit = f"pfx-{cid}.scope"
    bundle.config["linux"]["cgroupsPath"] = f"a-b.slice:pfx:{cid}"
    # extra unit properties, in GVariant text; "Sec" becomes "USec" in µs
    bundle.config["annotations"] = {"org.systemd.property.TimeoutStopSec": "uint64 15",
                                    "org.systemd.property.CollectMode": "'inactive-or-failed'"}
    bundle.set_args("sh", "-c", "cat /proc/self/cgroup; sleep 300")
    create(runtime, bundle, cid)
    pid = runtime.state(cid)["pid"]
    assert show(unit, "ActiveState", "Slice", "TimeoutStopUSec", "CollectMode") == {
        "ActiveState": "active", "Slice": "a-b.slice", "TimeoutStopUSec": "15s", "CollectMode": "inactive-or-failed"}
    assert cgroup_of(pid) == f"/a.slice/a-b.slice/{unit}"
    runtime.run("start", cid)
    runtime.run("kill", cid, "KILL")
    wait_for(lambda: runtime.status(cid) == "stopped", what="the container stopped")
    runtime.run("delete", cid)
    assert no_unit(unit) and not os.path.exists(f"/sys/fs/cgroup/a.slice/a-b.slice/{unit}")


def test_default_cgroups_path_is_system_slice_runc_id(sd, bundle):
    runtime, name, _ = sd
    cid = f"sdd-{name}-{os.getpid()}"
    bundle.config["linux"].pop("cgroupsPath", None)
    bundle.set_args("sleep", "300")
    create(runtime, bundle, cid)
    try:
        assert cgroup_of(runtime.state(cid)["pid"]) == f"/system.slice/runc-{cid}.scope"
    finally:
        runtime.run("delete", "--force", cid)
    assert no_unit(f"runc-{cid}.scope")


@pytest.mark.parametrize("path,message", [
    ("bad", 'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "bad" instead'),
    ("a--b.slice:p:x", "invalid slice name: a--b.slice"),
])
def test_a_bad_cgroups_path_is_runcs_error_and_leaves_nothing(sd, bundle, path, message):
    runtime, name, _ = sd
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.save()
    p = runtime.run("create", "--bundle", bundle.path, f"sde-{name}", check=False)
    assert p.returncode == 1 and message in p.stderr.replace('\\"', '"'), p.stderr   # runc's log escapes quotes
    assert f"sde-{name}" not in runtime.ids()


def test_create_failing_after_the_scope_started_leaves_no_unit(sd, bundle):
    """A createRuntime hook fails once the init is in its scope: the unit is stopped with the rest."""
    runtime, name, slices = sd
    slices.append("machine.slice")
    cid = f"sdf-{name}-{os.getpid()}"
    bundle.config["linux"]["cgroupsPath"] = f"machine.slice:pyrunc:{cid}"
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    bundle.set_args("sleep", "300")
    p = create(runtime, bundle, cid, check=False)
    assert p.returncode != 0
    assert cid not in runtime.ids() and no_unit(f"pyrunc-{cid}.scope")
    assert not os.path.exists(f"/sys/fs/cgroup/machine.slice/pyrunc-{cid}.scope")


def test_features_report_systemd(is_pyrunc, rt):
    import json
    for path in (runtime_path(), RUNC):
        cg = json.loads(subprocess.run([path, "features"], capture_output=True, text=True, timeout=60).stdout)
        assert cg["linux"]["cgroup"]["systemd"] is True and cg["linux"]["cgroup"]["systemdUser"] is True, path


USER, UID = "pyrunc-rl", 4321


@pytest.fixture
def user_manager(rt):
    """A user whose systemd runs (lingering) with its bus at $XDG_RUNTIME_DIR/bus; gone afterwards, with
    logind and user.slice when they were started for it."""
    started = [u for u in ("systemd-logind.service", "user.slice")
               if subprocess.run(["systemctl", "is-active", "--quiet", u]).returncode]
    if subprocess.run(["id", USER], capture_output=True).returncode:
        subprocess.run(["useradd", "--uid", str(UID), "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        USER], check=True, capture_output=True)
    p = subprocess.run(["loginctl", "enable-linger", USER], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    xdg = f"/run/user/{UID}"
    wait_for(lambda: os.path.exists(f"{xdg}/bus"), timeout=60, what="the user's bus")
    yield {"XDG_RUNTIME_DIR": xdg, "PATH": os.environ["PATH"]}
    subprocess.run(["loginctl", "disable-linger", USER], capture_output=True, timeout=60)
    subprocess.run(["systemctl", "stop", f"user@{UID}.service", f"user-runtime-dir@{UID}.service",
                    f"user-{UID}.slice", *started], capture_output=True, timeout=120)


@pytest.mark.parametrize("runtime", ["pyrunc", "runc"])
def test_rootless_goes_through_the_users_systemd(user_manager, bundle, tmp_path, runtime):
    """Rootless --systemd-cgroup: the scope is the user's manager's, below its ControlGroup, in user.slice."""
    home = tmp_path / "rl"
    make_rootless(bundle, UID, home)
    bundle.config["linux"]["resources"] = {"pids": {"limit": 20}}    # the user's systemd applies them
    bundle.config["linux"].pop("cgroupsPath", None)
    bundle.set_args("sleep", "300")
    path = runtime_path() if runtime == "pyrunc" else RUNC
    cid = f"rl-{runtime}"
    unit = f"runc-{cid}.scope"
    base = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", path, "--root", str(home / "state"),
            "--systemd-cgroup"]

    def run(*args, check=True):
        p = subprocess.run(base + list(args), env=user_manager, text=True, capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0 or not check, (args, p.stderr)
        return p

    with open(tmp_path / "out", "w") as o:
        p = subprocess.run(base + ["create", "--bundle", bundle.path, cid], env=user_manager, stdin=subprocess.DEVNULL,
                           stdout=o, stderr=o, timeout=120)
    assert p.returncode == 0, (tmp_path / "out").read_text()
    try:
        import json
        pid = json.loads(run("state", cid).stdout)["pid"]
        cgroup = f"/user.slice/user-{UID}.slice/user@{UID}.service/user.slice/{unit}"
        assert cgroup_of(pid) == cgroup
        assert read(f"/sys/fs/cgroup{cgroup}/pids.max").strip() == "20"
        user_show = subprocess.run(["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "systemctl",
                                    "--user", "show", unit, "--property=ActiveState", "--property=TasksMax",
                                    "--property=Delegate"], env=user_manager, capture_output=True, text=True,
                                   timeout=60)
        shown = dict(line.split("=", 1) for line in user_show.stdout.split())
        assert shown == {"TasksMax": "20", "Delegate": "yes", "ActiveState": "active"}, user_show.stderr
    finally:
        run("delete", "--force", cid, check=False)
    assert not os.path.exists(f"/sys/fs/cgroup/user.slice/user-{UID}.slice/user@{UID}.service/user.slice/{unit}")
