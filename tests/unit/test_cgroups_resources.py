"""cgroups/resources.py: LinuxResources -> cgroup writes, runc's conversions, order, checks and update merge."""
import pytest

from pyrunc.cgroups import resources as R
from pyrunc.errors import BadConfig

V1_ALL = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"}
OPEN_LIST = {("devices", "devices.list"): "a *:* rwm\n"}


def v1(res, facts=None, controllers=V1_ALL, **kw):
    return R.plan(res, "fs1", {**OPEN_LIST, **(facts or {})}, controllers, **kw)


def v2(res, facts=None, **kw):
    return R.plan(res, "fs2", facts or {}, **kw)


def files(p, ctrl=None):
    return [(w[1], w[2]) for w in p.writes if ctrl is None or w[0] == ctrl]


def test_shares_to_weight_is_runcs_quadratic_fit():
    assert [R.shares_to_weight(s) for s in (0, 2, 1024, 262144, 10 ** 6)] == [0, 1, 100, 10000, 10000]
    assert R.shares_to_weight(512) == 59 and R.shares_to_weight(2048) == 174


def test_blkio_weight_to_io_weight_is_linear():
    assert [R.blkio_to_io_weight(w) for w in (0, 10, 500, 1000)] == [0, 1, 4950, 10000]


@pytest.mark.parametrize("swap,memory,want", [(0, -1, -1), (-1, 100, -1), (0, 100, 0), (300, -1, 300),
                                              (300, 100, 200), (100, 100, 0)])
def test_swap_v2_is_the_total_minus_memory(swap, memory, want):
    assert R.swap_v2(swap, memory) == want


@pytest.mark.parametrize("swap,memory,msg", [(100, 0, "without memory limit"), (50, 100, ">= memory limit"),
                                             (100, -5, "invalid memory value")])
def test_swap_v2_errors(swap, memory, msg):
    with pytest.raises(BadConfig, match=msg):
        R.swap_v2(swap, memory)


def test_v1_memory_cpu_pids_files():
    p = v1({"memory": {"limit": 64 << 20, "reservation": 32 << 20, "disableOOMKiller": True, "swappiness": 0},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0", "idle": 1},
            "pids": {"limit": 50}})
    assert files(p, "memory") == [("memory.limit_in_bytes", str(64 << 20)),
                                  ("memory.soft_limit_in_bytes", str(32 << 20)),
                                  ("memory.oom_control", "1"), ("memory.swappiness", "0")]
    assert files(p, "cpu") == [("cpu.shares", "512"), ("cpu.cfs_period_us", "100000"),
                               ("cpu.cfs_quota_us", "50000"), ("cpu.idle", "1")]
    assert files(p, "cpuset") == [("cpuset.cpus", "0-1"), ("cpuset.mems", "0")]
    assert files(p, "pids") == [("pids.max", "50")]
    # runc's subsystem order: cpuset, devices, memory, cpu, pids
    order = [w[0] for w in p.writes]
    assert order.index("cpuset") < order.index("devices") < order.index("memory") < order.index("cpu")


def test_v1_flags_retry_readback_and_missing_ok():
    p = v1({"cpu": {"shares": 2, "period": 10000, "quota": 5000, "burst": 1000,
                    "realtimePeriod": 1000000, "realtimeRuntime": 950000}})
    flags = {w[1]: w[3] for w in p.writes}
    assert flags["cpu.shares"] == R.READBACK
    assert flags["cpu.cfs_period_us"] == R.RETRY           # may need the new quota first
    assert flags["cpu.cfs_burst_us"] == R.RETRY | R.MISSING_OK
    assert flags["cpu.rt_period_us"] == R.RETRY and flags["cpu.rt_runtime_us"] == 0
    p = v1({"cpu": {"period": 10000}})
    assert p.writes[0][3] == 0                               # no quota: a refusal is final


@pytest.mark.parametrize("current,order", [(10 << 20, ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]),
                                           (1 << 30, ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"])])
def test_v1_memory_and_swap_order_keeps_memsw_above_the_limit(current, order):
    res = {"memory": {"limit": 64 << 20, "swap": 128 << 20}}
    assert R.probes(res, "fs1")[0] == ("memory", "memory.limit_in_bytes")
    p = v1(res, {("memory", "memory.limit_in_bytes"): f"{current}\n"})
    assert [f for f, _ in files(p, "memory")] == order


def test_v1_unlimited_memory_unlimits_swap_when_memsw_exists():
    res = {"memory": {"limit": -1}}
    p = v1(res, {("memory", "memory.memsw.limit_in_bytes"): "9\n"})
    assert ("memory.memsw.limit_in_bytes", "-1") in files(p) and ("memory.limit_in_bytes", "-1") in files(p)
    assert files(v1(res), "memory") == [("memory.limit_in_bytes", "-1")]


def test_v1_blkio_uses_bfq_files_without_cfq():
    res = {"blockIO": {"weight": 500, "leafWeight": 300,
                       "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                       "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                       "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]}}
    assert ("blkio", "blkio.weight") in R.probes(res, "fs1")
    bfq = files(v1(res), "blkio")
    assert bfq[0] == ("blkio.bfq.weight", "500") and ("blkio.bfq.weight_device", "8:0 600") in bfq
    assert ("blkio.throttle.read_bps_device", "8:0 1048576") in bfq
    assert ("blkio.throttle.write_iops_device", "8:0 100") in bfq
    cfq = files(v1(res, {("blkio", "blkio.weight"): "500\n"}), "blkio")
    assert cfq[0] == ("blkio.weight", "500") and ("blkio.leaf_weight", "300") in cfq


def test_v1_missing_hierarchy_is_an_error_only_when_used():
    v1({"pids": {"limit": 5}}, controllers=V1_ALL)
    with pytest.raises(BadConfig, match="cannot set hugetlb limit"):
        v1({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]})
    with pytest.raises(BadConfig, match="cannot set net_cls limit"):
        v1({"network": {"classID": 0x100001}})


def test_v1_hugetlb_with_rsvd_optional():
    p = v1({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}, controllers=V1_ALL | {"hugetlb"})
    assert [(w[1], w[3]) for w in p.writes if w[0] == "hugetlb"] == [
        ("hugetlb.2MB.limit_in_bytes", 0), ("hugetlb.2MB.rsvd.limit_in_bytes", R.MISSING_OK)]


def test_v1_refuses_unified_and_bad_swappiness():
    with pytest.raises(BadConfig, match="cannot use unified on cgroup v1"):
        v1({"unified": {"memory.high": "1"}})
    with pytest.raises(BadConfig, match="swappiness value: 101"):
        v1({"memory": {"swappiness": 101}})


def test_kernel_memory_is_ignored_with_runcs_warning():
    assert R.KMEM_WARNING in v1({"memory": {"kernel": 1 << 20}}).warnings
    assert not [w for w in v1({"memory": {"kernel": 1 << 20}}).writes if "kmem" in w[1]]


def test_v1_devices_from_the_current_list():
    p = v1({"devices": [{"allow": False, "access": "rwm"}]})
    dev = files(p, "devices")
    assert dev[0] == ("devices.deny", "a *:* rwm")
    assert ("devices.allow", "c 1:3 rwm") in dev and ("devices.allow", "c 136:* rwm") in dev
    assert p.devices is not None and not p.devices.default_allow
    assert not files(v1({}, skip_devices=True), "devices")


def test_v2_files_and_order():
    p = v2({"pids": {"limit": -1},
            "memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 16 << 20},
            "cpu": {"shares": 1024, "quota": -1, "period": 50000, "cpus": "1", "burst": 10},
            "blockIO": {"weight": 500, "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 1 << 20}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}],
            "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}}})
    assert files(p) == [
        ("pids.max", "max"),
        ("memory.swap.max", str(32 << 20)), ("memory.max", str(64 << 20)), ("memory.low", str(16 << 20)),
        ("io.weight", "4950"), ("io.max", "254:0 wbps=1048576"),
        ("cpu.weight", "100"), ("cpu.max.burst", "10"), ("cpu.max", "max 50000"),
        ("cpuset.cpus", "1"),
        ("hugetlb.2MB.max", str(4 << 20)), ("hugetlb.2MB.rsvd.max", str(4 << 20)),
        ("rdma.max", "mlx5_0 hca_handle=3 hca_object=100")]
    assert p.devices and p.devices[-1] == (0x95, 0, 0, 0, 0)   # an eBPF program ending in exit


def test_v2_swap_equal_to_memory_disables_swap_and_max_is_optional():
    p = v2({"memory": {"limit": 100, "swap": 100}})
    assert p.writes[0][1:4] == ("memory.swap.max", "0", R.MISSING_OK)
    p = v2({"memory": {"limit": -1}})
    assert p.writes[0][1:4] == ("memory.swap.max", "max", R.MISSING_OK)
    assert v2({"memory": {"limit": 100, "swap": 300}}).writes[0][3] == 0
    with pytest.raises(BadConfig, match="/linux/resources/memory/swap: .*>= memory limit"):
        v2({"memory": {"limit": 100, "swap": 50}})


def test_v2_cpu_max_defaults_the_period_and_retries_burst():
    p = v2({"cpu": {"quota": 20000, "burst": 5000}})
    assert files(p) == [("cpu.max.burst", "5000"), ("cpu.max", "20000 100000")]
    assert p.writes[0][3] == R.RETRY


def test_v2_ignores_what_cgroup2_lacks_with_warnings():
    p = v2({"cpu": {"realtimeRuntime": 1000}, "memory": {"disableOOMKiller": True, "swappiness": 10},
            "network": {"classID": 1}, "blockIO": {"leafWeight": 10}})
    assert not p.writes
    text = " ".join(p.warnings)
    for what in ("realtime", "disableOOMKiller", "swappiness", "network", "leaf"):
        assert what in text


def test_v2_bfq_weight_and_per_device_weights():
    res = {"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 300}]}}
    assert ("", "io.bfq.weight") in R.probes(res, "fs2")
    p = v2(res, {("", "io.bfq.weight"): "default 100\n"})
    assert files(p) == [("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 300")]
    p = v2(res, {("", "io.bfq.weight"): "100\n"})        # an old bfq: no per-device weights
    assert files(p) == [("io.bfq.weight", "500")] and p.warnings


def test_v2_unified_map_is_validated():
    facts = {("", "cgroup.controllers"): "cpu memory pids\n"}
    p = v2({"unified": {"memory.high": "1000", "cgroup.max.depth": "3", "io.max": "8:0 rbps=1\n8:16 rbps=2",
                        "nocontroller": "1", "misc.max": "x 1"}}, facts)
    w = {x[1]: x for x in p.writes}
    assert w["memory.high"][3] == R.BY_LINE and w["memory.high"][4] is None
    assert w["cgroup.max.depth"][4] is None
    assert "must be in the form CONTROLLER.PARAMETER" in w["nocontroller"][4]
    assert "controller 'misc' not available" in w["misc.max"][4]
    with pytest.raises(BadConfig, match="no slashes"):
        v2({"unified": {"../memory.max": "1"}})


def test_v2_check_before_update_compares_with_usage():
    res = {"memory": {"limit": 1000, "checkBeforeUpdate": True}}
    assert ("", "memory.current") in R.probes(res, "fs2")
    with pytest.raises(BadConfig, match="rejecting memory limit 1000 <= usage 5000"):
        v2(res, {("", "memory.current"): "5000\n"})
    v2(res, {("", "memory.current"): "500\n"})


def test_pids_zero_is_unset():
    assert not v2({"pids": {"limit": 0}}).writes


# ------------------------------------------------------------ update
SAVED = {"memory": {"limit": 100, "swap": 200}, "cpu": {"shares": 512, "quota": 1000, "period": 10000,
                                                        "cpus": "0"},
         "pids": {"limit": 10}, "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
         "devices": [{"allow": False, "access": "rwm"}]}


def test_update_keeps_what_is_not_given():
    new = R.update(SAVED, {"memory": {"limit": 300}})
    assert new["memory"] == {"limit": 300, "swap": 200, "checkBeforeUpdate": False}
    assert new["cpu"]["shares"] == 512 and new["hugepageLimits"] == SAVED["hugepageLimits"]
    # like runc: cpus/mems/pids/unified are replaced, absent meaning unset (nothing written)
    assert "cpus" not in new["cpu"] and new["pids"] == {}
    assert SAVED["memory"] == {"limit": 100, "swap": 200}      # not modified in place


def test_update_drops_kernel_memory():
    new = R.update({"memory": {"limit": 1, "kernel": 5}}, {"memory": {"kernelTCP": 7}})
    assert new["memory"] == {"limit": 1, "checkBeforeUpdate": False}


def test_update_quota_and_period_pairing():
    assert R.update(SAVED, {"cpu": {"quota": 2000}})["cpu"]["period"] == 10000
    assert R.update(SAVED, {"cpu": {"period": 20000}})["cpu"]["quota"] == 1000
    both = R.update(SAVED, {"cpu": {"quota": 5, "period": 50}})["cpu"]
    assert (both["quota"], both["period"]) == (5, 50)
    none = R.update(SAVED, {})["cpu"]
    assert (none["quota"], none["period"]) == (0, 0)


def test_update_fixups_and_device_upserts():
    new = R.update({}, {"memory": {"limit": -1}, "cpu": {"idle": 1}})
    assert new["memory"]["swap"] == 0 and new["cpu"]["shares"] == 0
    saved = {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1},
                                                   {"major": 8, "minor": 16, "rate": 2}]}}
    new = R.update(saved, {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 9}]}})
    assert new["blockIO"]["throttleReadBpsDevice"] == [{"major": 8, "minor": 16, "rate": 2},
                                                       {"major": 8, "minor": 0, "rate": 9}]


def test_update_flags_become_a_request():
    req = R.request_from_flags({"memory": "100M", "memory-swap": "-1", "cpu-quota": "-1", "cpu-share": "512",
                                "cpuset-cpus": "0", "pids-limit": "-1", "blkio-weight": "0", "cpu-period": ""})
    assert req == {"memory": {"limit": 100 << 20, "swap": -1}, "cpu": {"quota": -1, "shares": 512, "cpus": "0"},
                   "pids": {"limit": -1}}
    with pytest.raises(BadConfig, match="--cpu-share"):
        R.request_from_flags({"cpu-share": "-5"})
    with pytest.raises(BadConfig, match="invalid size"):
        R.request_from_flags({"memory": "12X"})


@pytest.mark.parametrize("text,value", [("100", 100), ("100b", 100), ("64k", 64 << 10), ("10 M", 10 << 20),
                                        ("1.5g", 3 << 29), ("2GiB", 2 << 30), ("1t", 1 << 40)])
def test_ram_in_bytes(text, value):
    assert R.ram_in_bytes(text) == value


# ------------------------------------------------------------ the front end's update
def _plan(res, driver):
    return v1(res, controllers=V1_ALL | {"hugetlb"}) if driver == "fs1" else v2(res)


def _writes(res, driver):
    return set(files(_plan(res, driver)))


@pytest.mark.parametrize("driver", ["fs1", "fs2"])
@pytest.mark.parametrize("flag", sorted(R.FRONT_UPDATE))
def test_a_front_end_flag_is_one_write_of_its_value_as_given(flag, driver):
    """The front end writes a FRONT_UPDATE flag's value as it is into one file: Python's plan of that
    update writes exactly that, beside what an update without the flag writes."""
    section, key, ctrl, file, kind = R.FRONT_UPDATE[flag]
    saved = {k: v for k, v in SAVED.items() if k != "cpu"}
    value = "7" if kind == "natural" else "0-1,3"
    with_flag = _writes(R.update(saved, R.request_from_flags({flag: value})), driver)
    assert with_flag - _writes(R.update(saved, {}), driver) == {(file, value)}
    ops = _plan(R.update(saved, R.request_from_flags({flag: value})), driver).writes
    assert [op[0] for op in ops if op[1] == file] == [ctrl if driver == "fs1" else ""]
    assert [op[3] for op in ops if op[1] == file] == [0]     # no retry, readback or missing-file rule


LATER = [{}, {"cpu": {"quota": 2000}}, {"cpu": {"period": 20000}}, {"cpu": {"shares": 3}},
         {"memory": {"limit": 150}}, {"memory": {"reservation": 50}}, {"pids": {"limit": 4}},
         {"cpu": {"cpus": "1", "idle": 1}}, {"blockIO": {"weight": 100}}, {"unified": {"pids.max": "9"}}]


@pytest.mark.parametrize("saved", [{}, {k: v for k, v in SAVED.items() if k != "cpu"},
                                   dict(SAVED, cpu={"shares": 512, "cpus": "0", "burst": 5}),
                                   {"cpu": {"quota": 0, "period": 0, "idle": 1}, "unified": {"a.b": "1"}}])
def test_where_the_front_end_updates_the_saved_state_needs_no_change(saved):
    """After the front end's update (the saved resources as they were) every later update plans what
    it would after Python's (the saved resources merged with the request)."""
    assert R.front_update_exact(saved)
    request = R.request_from_flags({"pids-limit": "7", "cpuset-cpus": "1", "cpuset-mems": "0"})
    for later in LATER:
        for driver in ("fs1", "fs2")[1 if "unified" in later else 0:]:     # unified: v2 only
            assert _writes(R.update(saved, later), driver) == _writes(R.update(R.update(saved, request), later),
                                                                        driver), later


def test_a_saved_quota_or_period_needs_pythons_update_first():
    for cpu in ({"quota": 1000}, {"period": 10000}, {"quota": 1000, "period": 10000}):
        assert not R.front_update_exact({"cpu": cpu})
    # and that is why: the next update giving only a period keeps the saved quota, or not
    saved, later = {"cpu": {"quota": 1000, "period": 10000}}, {"cpu": {"period": 20000}}
    request = R.request_from_flags({"pids-limit": "7"})
    assert _writes(R.update(saved, later), "fs1") != _writes(R.update(R.update(saved, request), later), "fs1")
