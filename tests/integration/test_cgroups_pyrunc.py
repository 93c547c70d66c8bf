"""pyrunc's own cgroup choices on real kernels: the eBPF device filter, the hybrid cgroup2 join, update's state."""
import errno
import json
import os
import subprocess
import sys

import pytest

from pyrunc.cgroups import devices, ebpf
from tests.support.cgroups import V1, Cgroup
from tests.support.helpers import create
from tests.unit.test_cgroups_devices import run as interpret


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mp, fstype = line.split()[:3]
            if fstype == "cgroup2" and mp.startswith("/sys/fs/cgroup"):
                return mp
    return None


@pytest.fixture
def cgroup2_dir():
    mp = cgroup2_mount()
    if mp is None:
        pytest.skip("no cgroup2 hierarchy is mounted")
    d = os.path.join(mp, "pyrunc-ebpf-test")
    os.mkdir(d)
    fd = os.open(d, os.O_DIRECTORY | os.O_RDONLY)
    try:
        yield d, fd
    finally:
        os.close(fd)
        os.rmdir(d)


def opens_in(d, requests):
    """errno (0 = opened) of each (path, flags) request, made by a child inside cgroup d."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write("0")
            out = []
            for path, flags in requests:
                try:
                    os.close(os.open(path, flags | os.O_NONBLOCK))
                    out.append(0)
                except OSError as e:
                    out.append(e.errno)
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 65536)
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


NODES = {"c42-1": ("c", 42, 1), "c42-2": ("c", 42, 2), "b42-3": ("b", 42, 3), "null": ("c", 1, 3),
         "zero": ("c", 1, 5)}
MODES = {os.O_RDONLY: "r", os.O_WRONLY: "w", os.O_RDWR: "rw"}


@pytest.mark.parametrize("rules", [
    [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 42, "minor": 1, "access": "r"},
     {"allow": True, "type": "b", "major": 42, "minor": -1, "access": "rw"}],
    [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 42, "minor": 2, "access": "w"},
     {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rwm"}],
], ids=["allow-list", "deny-list"])
def test_ebpf_device_filter_decides_like_the_emulator(cgroup2_dir, tmp_path, rules):
    d, fd = cgroup2_dir
    for name, (t, major, minor) in NODES.items():
        os.mknod(tmp_path / name, 0o666 | (0o020000 if t == "c" else 0o060000), os.makedev(major, minor))
    prog = devices.program(devices.rules(rules))
    ebpf.install(fd, devices.encode(prog))
    ebpf.install(fd, devices.encode(prog))          # again: the old filter is replaced, not stacked
    assert len(ebpf.attached(fd)) == 1
    requests = [(str(tmp_path / n), m) for n in NODES for m in MODES]
    got = opens_in(d, requests)
    if all(e == errno.EACCES for e in got):
        pytest.skip("the temporary directory is mounted nodev")
    for (path, mode), err in zip(requests, got):
        t, major, minor = NODES[os.path.basename(path)]
        allowed = interpret(prog, t, major, minor, MODES[mode]) == 1
        assert (err != errno.EPERM) == allowed, (path, MODES[mode], os.strerror(err))


@pytest.mark.skipif(not (V1 and cgroup2_mount()), reason="needs a hybrid host (v1 hierarchies and cgroup2)")
@pytest.mark.parametrize("cgroupns", [True, False])
def test_hybrid_joins_cgroup2_only_with_a_cgroup_namespace(rt, bundle, cgroupns):
    linux = bundle.config["linux"]
    linux["cgroupsPath"] = "/hy1"
    if not cgroupns:
        linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] != "cgroup"]
    bundle.set_args("sleep", "100")
    create(rt, bundle, "hy1")
    cg = Cgroup("v1", rt.state("hy1")["pid"])
    assert cg.paths["memory"] == "/hy1"
    assert (cg.paths[""] == "/hy1") == cgroupns
    assert os.path.isdir(cg.mounts["memory"].replace("memory", "unified") + "/hy1")
    rt.run("delete", "-f", "hy1")


def test_update_keeps_the_merged_resources_in_the_state(rt, bundle, tmp_path):
    bundle.config["linux"]["cgroupsPath"] = "/st1"
    bundle.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    bundle.set_args("sleep", "100")
    create(rt, bundle, "st1")
    rt.run("update", "--pids-limit", "9", "st1")
    rt.run("update", "--cpu-share", "256", "st1")
    with open(os.path.join(rt.root, "st1", "state.json")) as f:
        res = json.load(f)["cgroup"]["resources"]
    assert res["memory"]["limit"] == 64 << 20 and res["cpu"]["shares"] == 256
    assert res["pids"] == {}     # runc: pids.limit is replaced by each update (absent = unset)
    assert res["devices"] == [{"allow": False, "access": "rwm"}]
    rt.run("update", "--resources", "-", "st1", input="null")     # runc: an empty update
    rt.run("delete", "-f", "st1")


def test_update_errors_are_one_line(rt, bundle, tmp_path):
    from tests.integration.test_errors import check_failure
    bundle.config["linux"]["cgroupsPath"] = "/ue1"
    bundle.set_args("sleep", "100")
    create(rt, bundle, "ue1")
    check_failure(rt, tmp_path, ["update", "--memory", "lots", "ue1"], r"^update ue1: invalid size: 'lots'$")
    check_failure(rt, tmp_path, ["update", "--resources", "-", "ue1"], r"^update ue1: --resources: invalid JSON")
    check_failure(rt, tmp_path, ["update", "--resources", str(tmp_path / "nope"), "ue1"],
                  r"^update ue1: cannot read .*nope: No such file or directory$")
    check_failure(rt, tmp_path, ["events", "--interval", "0s", "ue1"],
                  r"^events ue1: duration interval must be greater than 0$")
    check_failure(rt, tmp_path, ["ps", "--format", "yaml", "ue1"], r"^ps ue1: invalid format option")
    check_failure(rt, tmp_path, ["resume", "ue1"], r"^resume ue1: container not paused$")
    check_failure(rt, tmp_path, ["--systemd-cgroup", "create", "--bundle", bundle.path, "sd3"],
                  r'^create sd3: expected cgroupsPath to be of format "slice:prefix:name"', "sd3")
    bundle.config["linux"]["cgroupsPath"] = "system.slice:pyrunc:sd2"
    bundle.save()
    check_failure(rt, tmp_path, ["--systemd-cgroup", "create", "--bundle", bundle.path, "sd2"],
                  r"^create sd2: systemd not running on this host, cannot use systemd cgroups manager$", "sd2")
    rt.run("delete", "-f", "ue1")
    check_failure(rt, tmp_path, ["pause", "ue1"], r"^pause ue1: container ue1 does not exist$")


def edit_state(rt, cid, edit):
    path = os.path.join(rt.root, cid, "state.json")
    with open(path) as f:
        data = json.load(f)
    edit(data["cgroup"])
    with open(path, "w") as f:
        json.dump(data, f)
    if os.path.exists(os.path.join(rt.root, cid, "recipe")):
        os.unlink(os.path.join(rt.root, cid, "recipe"))   # written from the old state: let the Python CLI decide


def test_an_unknown_cgroup_driver_in_the_state_is_an_error(rt, bundle):
    """Never silently the null driver: delete would leave the cgroups, kill --all would signal nothing."""
    bundle.config["linux"]["cgroupsPath"] = "/ud1"
    bundle.set_args("sleep", "100")
    create(rt, bundle, "ud1")
    edit_state(rt, "ud1", lambda cg: cg.update(driver="cgroupfs"))
    for args in (["kill", "--all", "ud1", "KILL"], ["pause", "ud1"], ["delete", "--force", "ud1"]):
        p = rt.run(*args, check=False)
        assert p.returncode == 1 and "unknown cgroup driver 'cgroupfs'" in p.stderr, (args, p.stderr)
    assert "ud1" in rt.ids()     # the cgroups are still there: so is the state that names them
    edit_state(rt, "ud1", lambda cg: cg.update(driver="fs2" if "" in cg["dirs"] and len(cg["dirs"]) == 1 else "fs1"))
    rt.run("delete", "--force", "ud1")


def test_a_state_without_the_recorded_freezer_still_pauses(rt, bundle):
    """state.json files written before drivers recorded their freezer: the driver derives it."""
    bundle.config["linux"]["cgroupsPath"] = "/of1"
    bundle.set_args("sleep", "100")
    create(rt, bundle, "of1")
    edit_state(rt, "of1", lambda cg: cg.pop("freezer"))
    rt.run("pause", "of1")
    assert rt.status("of1") == "paused"
    rt.run("resume", "of1")
    assert rt.status("of1") == "created"
    rt.run("delete", "--force", "of1")


HIDE_AND_STACK = """
import json, sys
from pyrunc.cgroups import detect
from pyrunc.linux import syscalls as S
seen = [detect.host_layout()]
point = sys.argv[1]
S.mount("hide", point, "tmpfs", 0)
seen.append(detect.host_layout())
S.mount("cgroup2", point, "cgroup2", 0)
seen.append(detect.host_layout())
print(json.dumps(seen))
"""


def test_the_layout_is_where_lookups_land():
    """A tmpfs over the cgroup2 mount hides it from the layout (the kernel's statx says where a
    lookup of its point lands, not mountinfo's list); cgroup2 mounted again over the tmpfs is seen."""
    from pyrunc.cgroups import detect
    mode, hierarchies = detect.host_layout()
    point = next((h[1] for h in hierarchies if h[0] == ""), None)
    if point is None:
        pytest.skip("no cgroup2 hierarchy is mounted")
    p = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        sys.executable, "-c", HIDE_AND_STACK, point],
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    before, hidden, stacked = (([k for k, *_ in hs], m) for m, hs in json.loads(p.stdout))
    assert before == ([h[0] for h in hierarchies], mode)
    assert "" not in hidden[0] and hidden[1] == {detect.HYBRID: detect.LEGACY,
                                                  detect.UNIFIED: detect.NONE}[mode]
    assert stacked == before
