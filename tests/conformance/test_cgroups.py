"""cgroups on real kernels: limits in the files and enforced, pause, update, ps, events, kill --all, delete.

Every test runs once per cgroup version: v1 on this (hybrid) host inside the
sandbox, v2 in a pure cgroup v2 VM (-m cgroupv2).  The cgroup is always an
absolute cgroupsPath /<id>, below the sandbox's own cgroup.
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from tests.support.cgroups import DRIVERS, Cgroup, frozen_cgroup, hierarchies
from tests.support.helpers import create, read, run_to_completion, wait_for, write
from tests.support.runtime import runtime_name

pytestmark = pytest.mark.agnostic
MIB = 1 << 20


@pytest.fixture(params=DRIVERS)
def version(request):
    return request.param


def limited(bundle, cid, resources, args, out_dir=None):
    bundle.config["linux"]["cgroupsPath"] = f"/{cid}"
    bundle.config["linux"]["resources"].update(resources)
    bundle.config["process"]["args"] = list(args)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        bundle.config["mounts"].append({"destination": "/out", "type": "bind", "source": str(out_dir),
                                        "options": ["rbind", "rw"]})
    bundle.save()


def start_family(rt, bundle, version, tmp_path, cid, script):
    """A running container whose shell `script` starts children and then writes /out/up; (pid, Cgroup)."""
    out = tmp_path / "out"
    limited(bundle, cid, {}, ["sh", "-c", script], out)
    _, pid = start(rt, bundle, cid)
    wait_for(lambda: (out / "up").exists(), what="children")
    return pid, Cgroup(version, pid)


def start(rt, bundle, cid):
    p = create(rt, bundle, cid)
    rt.run("start", cid)
    return p, rt.state(cid)["pid"]


@pytest.mark.crun_differs("crun 1.8 writes blkio.weight, which the v1 blkio of kernel 6.x lacks")
def test_limits_are_written_to_the_cgroup_files(rt, bundle, version, is_pyrunc):
    res = {"memory": {"limit": 64 * MIB, "reservation": 32 * MIB, "swap": 96 * MIB},
           "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
           "pids": {"limit": 40}}
    if version == "v2" and os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        res["hugepageLimits"] = [{"pageSize": "2MB", "limit": 4 * MIB}]
    res["blockIO"] = {"weight": 500}
    if version == "v1":
        res["memory"]["kernel"] = 32 * MIB       # ignored, with runc's warning
    if version == "v2":
        res["unified"] = {"memory.high": str(48 * MIB), "cgroup.max.descendants": "5"}
    if version == "v2" and os.path.exists("/sys/dev/block/254:0"):
        res["blockIO"]["throttleReadBpsDevice"] = [{"major": 254, "minor": 0, "rate": MIB}]
    limited(bundle, "lim1", res, ["sleep", "100"])
    _, pid = start(rt, bundle, "lim1")
    cg = Cgroup(version, pid)
    assert all(p == "/lim1" for c, p in cg.paths.items() if c), cg.paths
    assert cg.value(("memory", "memory.limit_in_bytes"), "memory.max") == str(64 * MIB)
    assert cg.value(("memory", "memory.soft_limit_in_bytes"), "memory.low") == str(32 * MIB)
    assert cg.value(("pids", "pids.max"), "pids.max") == "40"
    assert cg.value(("cpuset", "cpuset.cpus"), "cpuset.cpus") == "0"
    if version == "v1":
        assert cg.read("memory", "memory.memsw.limit_in_bytes") == str(96 * MIB)
        assert cg.read("cpu", "cpu.shares") == "1024"
        assert cg.read("cpu", "cpu.cfs_quota_us") == "50000"
        # kernels with BFQ and without CFQ only have blkio.bfq.weight
        weight = "blkio.weight" if os.path.exists(os.path.join(cg.dir("blkio"), "blkio.weight")) else \
            "blkio.bfq.weight"
        assert cg.read("blkio", weight).split()[-1] == "500"
        assert cg.read("memory", "memory.kmem.limit_in_bytes") != str(32 * MIB)
    else:
        assert cg.read("", "memory.swap.max") == str(32 * MIB)   # v2 swap excludes memory
        assert cg.read("", "cpu.max") == "50000 100000"
        # runc 1.1 maps shares linearly (1024 -> 39); runc 1.3+ and pyrunc fit the curve (1024 -> 100)
        assert cg.read("", "cpu.weight") == ("100" if is_pyrunc else "39")
        if "hugepageLimits" in res:
            assert cg.read("", "hugetlb.2MB.max") == str(4 * MIB)
        if os.path.exists(os.path.join(cg.dir(), "io.bfq.weight")):
            assert cg.read("", "io.bfq.weight").split()[-1] == "500"
        else:
            assert cg.read("", "io.weight") == "default 4950"
        if "throttleReadBpsDevice" in res["blockIO"]:
            assert cg.read("", "io.max").startswith("254:0 rbps=1048576 ")
        assert cg.read("", "memory.high") == str(48 * MIB)
        assert cg.read("", "cgroup.max.descendants") == "5"
    rt.run("delete", "-f", "lim1")
    assert not any(os.path.exists(d) for d in cg.dirs())


@pytest.mark.crun_differs("crun 1.8 has no `events`")
def test_memory_hog_is_oom_killed_and_reported(rt, bundle, version, tmp_path):
    out = tmp_path / "out"
    # the hog is the init itself: the OOM kill and the container's exit are signalled at once,
    # and the OOM must still be reported
    limited(bundle, "oom1", {"memory": {"limit": 32 * MIB, "swap": 32 * MIB}},
            ["sh", "-c", "while [ ! -e /out/go ]; do sleep 0.05; done; "
                         "exec dd if=/dev/zero of=/dev/null bs=64M count=1"], out)
    _, pid = start(rt, bundle, "oom1")
    cg = Cgroup(version, pid)
    events = subprocess.Popen(rt.argv("events", "--interval", "100ms", "oom1"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, events.kill)    # a runtime that never reports must not hang the test
    watchdog.start()
    try:
        first = json.loads(events.stdout.readline())   # the OOM watch is armed before the first tick
        assert first["type"] == "stats" and first["id"] == "oom1"
        # a busy host: `events` sleeps through the OOM and the exit, then sees both at once
        os.kill(events.pid, signal.SIGSTOP)
        (out / "go").write_text("")
        wait_for(lambda: rt.status("oom1") == "stopped", what="the hog to be killed")
        if version == "v1":
            oom = cg.read("memory", "memory.oom_control")
        else:
            oom = cg.read("", "memory.events")
        assert int(dict(line.split() for line in oom.splitlines())["oom_kill"]) >= 1
        os.kill(events.pid, signal.SIGCONT)
        kinds = []
        while "oom" not in kinds:
            line = events.stdout.readline()
            if not line:
                break
            kinds.append(json.loads(line)["type"])
        assert "oom" in kinds, kinds
        rt.run("delete", "oom1")
        # events ends with the container (runc v1: once its cgroup is gone)
        events.communicate(timeout=30)
    finally:
        watchdog.cancel()
        events.kill()
        events.wait()
        rt.run("delete", "--force", "oom1", check=False)


def test_fork_loop_stops_at_the_pids_limit(rt, bundle, version, tmp_path):
    out = tmp_path / "out"
    # the inner shell forks until a fork fails (which ends it); the outer one then reports
    limited(bundle, "pid1", {"pids": {"limit": 8}},
            ["sh", "-c", "sh -c 'while :; do sleep 100 & done' 2>/out/err; echo started > /out/done; "
                         "exec sleep 100"], out)
    _, pid = start(rt, bundle, "pid1")
    wait_for(lambda: (out / "done").exists(), what="the fork loop")
    cg = Cgroup(version, pid)
    pids = json.loads(rt.run("ps", "--format", "json", "pid1").stdout)
    assert len(pids) == 7 and pid in pids      # 8 with the inner shell, which exited
    assert cg.value(("pids", "pids.current"), "pids.current") == "7"
    assert "can't fork" in read(out / "err")
    assert int(cg.value(("pids", "pids.events"), "pids.events").split()[1]) >= 1   # "max N": refused forks
    rt.run("kill", "--all", "pid1", "KILL")
    wait_for(lambda: rt.status("pid1") == "stopped", what="kill --all")
    rt.run("delete", "pid1")


def test_devices_outside_the_rules_cannot_be_opened(rt, bundle, version):
    # major 42 has no driver: a node the cgroup lets through fails with ENXIO, a refused one with EPERM
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/test-allowed", "type": "c", "major": 42, "minor": 1, "fileMode": 0o666},
        {"path": "/dev/test-denied", "type": "c", "major": 42, "minor": 2, "fileMode": 0o666}]
    limited(bundle, "dev1", {"devices": [{"allow": False, "access": "rwm"},
                                         {"allow": True, "type": "c", "major": 42, "minor": 1, "access": "rw"}]},
            ["sh", "-c", "head -c1 /dev/test-allowed; head -c1 /dev/test-denied; echo x > /dev/null && echo null-ok"])
    p = create(rt, bundle, "dev1")
    rt.run("start", "dev1")
    wait_for(lambda: rt.status("dev1") == "stopped", what="exit")
    text = read(p.out_path)
    assert "/dev/test-allowed: No such device or address" in text
    assert "/dev/test-denied: Operation not permitted" in text
    assert "null-ok" in text
    rt.run("delete", "dev1")


@pytest.mark.crun_differs("crun 1.8 resumes a running container without an error")
def test_pause_freezes_and_resume_continues(rt, bundle, version, tmp_path):
    out = tmp_path / "out"
    limited(bundle, "fz1", {}, ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /out/n; done"], out)
    _, pid = start(rt, bundle, "fz1")
    count = lambda: int(read(out / "n") or 0)  # noqa: E731
    wait_for(lambda: (out / "n").exists() and count() > 10, what="the counter")
    rt.run("pause", "fz1")
    assert rt.status("fz1") == "paused"
    cg = Cgroup(version, pid)
    assert cg.value(("freezer", "freezer.state"), "cgroup.freeze") in ("FROZEN", "1")
    frozen_at = count()
    time.sleep(0.3)
    assert count() == frozen_at                  # no progress while frozen
    assert rt.run("resume", "fz1").returncode == 0
    assert rt.status("fz1") == "running"
    wait_for(lambda: count() > frozen_at, what="progress after resume")
    assert rt.run("resume", "fz1", check=False).returncode != 0   # not paused
    rt.run("pause", "fz1")
    rt.run("delete", "-f", "fz1")                # a paused container can be force-deleted


@pytest.mark.crun_differs("crun 1.8 turns update's flags into invalid JSON")
def test_update_changes_the_files(rt, bundle, version):
    limited(bundle, "up1", {"memory": {"limit": 64 * MIB}, "pids": {"limit": 30}, "cpu": {"shares": 512}},
            ["sleep", "100"])
    _, pid = start(rt, bundle, "up1")
    cg = Cgroup(version, pid)
    rt.run("update", "--memory", "100M", "--pids-limit", "20", "--cpu-quota", "20000", "--cpu-period", "50000",
           "up1")
    assert cg.value(("memory", "memory.limit_in_bytes"), "memory.max") == str(100 * MIB)
    assert cg.value(("pids", "pids.max"), "pids.max") == "20"
    if version == "v1":
        assert (cg.read("cpu", "cpu.cfs_quota_us"), cg.read("cpu", "cpu.cfs_period_us")) == ("20000", "50000")
        assert cg.read("cpu", "cpu.shares") == "512"           # kept
    else:
        assert cg.read("", "cpu.max") == "20000 50000"
    # containerd's CRI call: LinuxResources on stdin
    rt.run("update", "--resources", "-", "up1",
           input=json.dumps({"memory": {"limit": 48 * MIB, "swap": 48 * MIB}, "cpu": {},
                             "devices": [{"allow": False, "access": "rwm"}]}))
    assert cg.value(("memory", "memory.limit_in_bytes"), "memory.max") == str(48 * MIB)
    assert cg.value(("pids", "pids.max"), "pids.max") == "20"   # not in the request: unchanged
    if version == "v2":
        assert cg.read("", "memory.swap.max") == "0"
    if version == "v1":
        # below the usage: the kernel refuses (EBUSY); the command fails and the limit stays
        assert rt.run("update", "--memory", "4096", "up1", check=False).returncode == 1
        assert cg.read("memory", "memory.limit_in_bytes") == str(48 * MIB)
    rt.run("delete", "-f", "up1")
    assert rt.run("update", "--memory", "10M", "up1", check=False).returncode != 0


@pytest.mark.crun_differs("crun 1.8's ps takes no ps options")
def test_ps_lists_the_container_processes(rt, bundle, version, tmp_path):
    pid, cg = start_family(rt, bundle, version, tmp_path, "ps1", "sleep 100 & sleep 100 & echo up > /out/up; wait")
    main = cg.dir("pids" if version == "v1" else "")
    procs = {int(x) for x in read(os.path.join(main, "cgroup.procs")).split()}
    pids = json.loads(rt.run("ps", "--format", "json", "ps1").stdout)
    assert set(pids) == procs and len(pids) == 3 and pid in pids
    table = rt.run("ps", "ps1").stdout.splitlines()
    assert table[0].split()[:3] == ["UID", "PID", "PPID"]
    assert {int(line.split()[1]) for line in table[1:]} == procs
    custom = rt.run("ps", "ps1", "-o", "pid,comm").stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"]
    assert sorted(line.split()[1] for line in custom[1:]) == ["sh", "sleep", "sleep"]
    rt.run("delete", "-f", "ps1")


@pytest.mark.crun_differs("crun 1.8 has no `events`")
def test_events_stats(rt, bundle, version):
    limited(bundle, "ev1", {"memory": {"limit": 64 * MIB}, "pids": {"limit": 30}}, ["sleep", "100"])
    start(rt, bundle, "ev1")
    lines = rt.run("events", "--stats", "ev1").stdout.splitlines()
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == "ev1"
    data = ev["data"]
    for key in ("cpu", "memory", "pids", "blkio", "hugetlb"):
        assert key in data
    assert data["pids"] == {"current": 1, "limit": 30}
    assert data["memory"]["usage"]["limit"] == 64 * MIB and data["memory"]["usage"]["usage"] > 0
    assert data["cpu"]["usage"]["total"] > 0
    rt.run("kill", "ev1", "KILL")
    wait_for(lambda: rt.status("ev1") == "stopped", what="exit")
    p = rt.run("events", "--stats", "ev1", check=False)
    assert p.returncode == 1 and "not running" in p.stderr
    rt.run("delete", "ev1")


def test_kill_all_reaches_forks_and_delete_removes_the_cgroups(rt, bundle, version, tmp_path):
    pid, cg = start_family(rt, bundle, version, tmp_path, "ka1",
                           "(sleep 100 & sleep 100 &) ; echo up > /out/up; exec sleep 100")
    pids = json.loads(rt.run("ps", "--format", "json", "ka1").stdout)
    assert len(pids) == 3
    rt.run("kill", "--all", "ka1", "KILL")
    wait_for(lambda: rt.status("ka1") == "stopped", what="kill --all")
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}/stat") and read(f"/proc/{p}/stat").split()[2] != "Z"
                             for p in pids), what="every process to die")
    rt.run("delete", "ka1")
    assert not any(os.path.exists(d) for d in cg.dirs())


def test_systemd_cgroup_driver_without_systemd_is_refused_cleanly(rt, bundle, version, tmp_path):
    """This host's PID 1 is not systemd: runc's one line (the driver itself is tested in the node VM)."""
    bundle.config["linux"]["cgroupsPath"] = "system.slice:pyrunc-test:sd1"
    bundle.save()
    with open(os.devnull) as null:
        p = rt.run("--systemd-cgroup", "create", "--bundle", bundle.path, "sd1", check=False, stdin=null)
    assert p.returncode == 1
    assert "sd1" not in rt.ids()
    assert "systemd not running on this host, cannot use systemd cgroups manager" in p.stderr
    if runtime_name() == "pyrunc":
        assert p.stderr.strip() == "create sd1: systemd not running on this host, cannot use systemd cgroups manager"


@pytest.mark.parametrize("resources,message", [
    ({"memory": {"swappiness": 101}}, "swappiness value: 101"),
    ({"memory": {"limit": 64 * MIB, "swap": 32 * MIB}}, "memory"),
    ({"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": ""}]}, "access"),
])
@pytest.mark.crun_differs("crun 1.8 accepts swappiness 101 and leaves its cgroups behind when create fails")
def test_bad_resources_fail_create_and_leave_nothing(rt, bundle, version, resources, message):
    if version == "v2" and "swappiness" in str(resources):
        pytest.skip("cgroup v2 has no swappiness: runc ignores it there")
    limited(bundle, "bad1", resources, ["true"])
    p = create(rt, bundle, "bad1", check=False)
    assert p.returncode == 1
    assert "bad1" not in rt.ids()
    if runtime_name() == "pyrunc":
        assert message in read(p.out_path)


@pytest.mark.crun_differs("crun 1.8 reports a paused created container as created")
def test_a_created_container_can_be_paused(rt, bundle, version):
    limited(bundle, "pc1", {}, ["true"])
    create(rt, bundle, "pc1")
    rt.run("pause", "pc1")
    assert rt.status("pc1") == "paused"
    assert rt.run("start", "pc1", check=False).returncode != 0
    rt.run("resume", "pc1")
    assert rt.status("pc1") == "created"
    rt.run("start", "pc1")
    wait_for(lambda: rt.status("pc1") == "stopped", what="exit")
    assert rt.run("pause", "pc1", check=False).returncode != 0
    rt.run("delete", "pc1")


# ------------------------------------------------------------ existing cgroups, device access letters, spec
@pytest.mark.crun_differs("crun 1.8 joins the frozen cgroup and hangs, as pyrunc did")
def test_an_existing_frozen_cgroup_is_refused(rt, bundle, version):
    """Its init would be frozen on joining, and create wait for it forever: runc refuses (runc 1.1+)."""
    limited(bundle, "fz2", {}, ["true"])
    with frozen_cgroup(version, "fz2") as (knob, frozen):
        p = create(rt, bundle, "fz2", check=False, timeout=30)
        assert p.returncode == 1
        assert "container's cgroup unexpectedly frozen" in read(p.out_path)
        assert "fz2" not in rt.ids()
        # nothing made, and the cgroup that was there left as it was
        assert [mp for mp in hierarchies(version) if os.path.isdir(os.path.join(mp, "fz2"))] == \
            [os.path.dirname(os.path.dirname(knob))]
        assert read(knob).strip() == frozen


@pytest.mark.crun_differs("crun 1.8 creates the container in the cgroup without a word")
def test_an_existing_cgroup_with_processes_is_refused(rt, bundle, version):
    """runc 1.1 warns "container's cgroup is not empty" and goes on (deprecated); runc 1.2 and pyrunc refuse."""
    limited(bundle, "ne1", {}, ["true"])
    dirs = [os.path.join(mp, "ne1") for mp in hierarchies(version)]
    squatter = subprocess.Popen(["sleep", "1000"])
    try:
        for d in dirs:
            os.mkdir(d)
            for f in ("cpuset.cpus", "cpuset.mems"):     # a new v1 cpuset takes no task before it has both
                if os.path.exists(os.path.join(d, f)):
                    write(os.path.join(d, f), read(os.path.join(os.path.dirname(d), f)).strip())
            write(os.path.join(d, "cgroup.procs"), str(squatter.pid))
        p = create(rt, bundle, "ne1", check=False)
        assert "container's cgroup is not empty: 1 process(es) found" in read(p.out_path)
        if p.returncode == 0:
            assert runtime_name() == "runc"
            rt.run("delete", "--force", "ne1")     # kills the squatter too
        else:
            assert p.returncode == 1 and "ne1" not in rt.ids()
            assert squatter.poll() is None and all(os.path.isdir(d) for d in dirs)
    finally:
        squatter.kill()
        squatter.wait()
        for d in dirs:
            if os.path.isdir(d):
                os.rmdir(d)


@pytest.mark.parametrize("access,allowed", [
    ("wr", True), ("rrw", True), ("mwr", True), ("mw", False),
    pytest.param("rwx", True, marks=pytest.mark.crun_differs("crun 1.8 refuses letters other than r, w, m"))])
def test_device_access_is_read_as_runc_reads_it(rt, bundle, version, access, allowed):
    """Any order, repeated letters, characters other than r, w, m ignored; the letters given still decide."""
    # major 42 has no driver: a node the cgroup lets through fails with ENXIO, a refused one with EPERM
    bundle.config["linux"]["devices"] = [{"path": "/dev/test", "type": "c", "major": 42, "minor": 1,
                                          "fileMode": 0o666}]
    limited(bundle, "acc1", {"devices": [{"allow": False, "access": "rwm"},
                                         {"allow": True, "type": "c", "major": 42, "minor": 1, "access": access}]},
            ["head", "-c1", "/dev/test"])
    text = run_to_completion(rt, bundle, "acc1")
    assert ("No such device or address" if allowed else "Operation not permitted") in text


def test_update_ignores_device_rules(rt, bundle, version):
    """runc's update applies no device rule (whatever their access letters): neither does pyrunc's."""
    limited(bundle, "acc2", {"pids": {"limit": 30}}, ["sleep", "100"])
    _, pid = start(rt, bundle, "acc2")
    rt.run("update", "--resources", "-", "acc2",
           input=json.dumps({"pids": {"limit": 25}, "devices": [{"allow": True, "access": "wr"},
                                                               {"allow": True, "access": "mmx"}]}))
    assert Cgroup(version, pid).value(("pids", "pids.max"), "pids.max") == "25"
    rt.run("delete", "-f", "acc2")


def test_spec_proposes_a_cgroup_namespace_only_on_pure_cgroup_v2(rt, version, tmp_path):
    for flags in ([], ["--rootless"]):
        d = tmp_path / f"spec{len(flags)}"
        d.mkdir()
        rt.run("spec", "--bundle", str(d), *flags)
        types = [ns["type"] for ns in json.loads((d / "config.json").read_text())["linux"]["namespaces"]]
        assert ("cgroup" in types) == (version == "v2"), (flags, types)
