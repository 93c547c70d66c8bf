"""cgroups/stats.py and the duration parser of `events`: runc 1.1's stats JSON from cgroup files."""
import pytest

from pyrunc import jsonlite
from pyrunc.cgroups import stats as S
from pyrunc.cgroupcli import parse_duration
from pyrunc.errors import BadConfig

TOP_KEYS = ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]

V1_FILES = {
    ("memory", "memory.stat"): "cache 4096\nrss 8192\ntotal_rss 8192\n",
    ("memory", "memory.usage_in_bytes"): "12288\n", ("memory", "memory.limit_in_bytes"): "67108864\n",
    ("memory", "memory.max_usage_in_bytes"): "20480\n", ("memory", "memory.failcnt"): "0\n",
    ("memory", "memory.memsw.usage_in_bytes"): "12288\n", ("memory", "memory.memsw.limit_in_bytes"): "-1\n",
    ("memory", "memory.memsw.max_usage_in_bytes"): "20480\n", ("memory", "memory.memsw.failcnt"): "0\n",
    ("pids", "pids.current"): "3\n", ("pids", "pids.max"): "max\n",
    ("cpu", "cpu.stat"): "nr_periods 5\nnr_throttled 2\nthrottled_time 1000\n",
    ("cpuacct", "cpuacct.usage"): "3000\n", ("cpuacct", "cpuacct.usage_percpu"): "1000 2000 \n",
    ("cpuacct", "cpuacct.usage_all"): "cpu user system\n0 700 300\n1 1500 500\n",
    ("cpuacct", "cpuacct.stat"): "user 2\nsystem 1\n",
    ("cpuset", "cpuset.cpus"): "0-1,3\n", ("cpuset", "cpuset.mems"): "0\n",
    ("cpuset", "cpuset.sched_load_balance"): "1\n", ("cpuset", "cpuset.sched_relax_domain_level"): "-1\n",
    ("blkio", "blkio.bfq.io_serviced_recursive"): "8:0 Read 4\n8:0 Write 2\nTotal 6\n",
    ("blkio", "blkio.bfq.io_service_bytes_recursive"): "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
}


def test_v1_stats_have_runcs_shape_and_values():
    s = S.v1(lambda c, f: V1_FILES.get((c, f)), lambda c: c != "hugetlb", ["2MB"])
    assert list(s) == TOP_KEYS and s["network_interfaces"] is None and s["hugetlb"] == {}
    assert s["cpu"]["usage"] == {"total": 3000, "percpu": [1000, 2000], "percpu_kernel": [300, 500],
                                 "percpu_user": [700, 1500], "kernel": 10_000_000, "user": 20_000_000}
    assert s["cpu"]["throttling"] == {"periods": 5, "throttledPeriods": 2, "throttledTime": 1000}
    assert s["cpuset"]["cpus"] == [0, 1, 3] and s["cpuset"]["sched_relax_domain_level"] == -1
    assert s["memory"]["cache"] == 4096
    assert s["memory"]["usage"] == {"limit": 67108864, "usage": 12288, "max": 20480, "failcnt": 0}
    assert s["memory"]["swap"]["limit"] == 0        # -1 reads as 0, as fscommon.ParseUint does
    assert s["memory"]["kernel"] == {"limit": 0, "failcnt": 0}
    assert list(s["memory"]["raw"]) == ["cache", "rss", "total_rss"]
    assert s["pids"] == {"current": 3}               # "max" is reported as no limit
    assert s["blkio"] == {"ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096},
                                                      {"major": 8, "op": "Write"}],
                          "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 4},
                                                  {"major": 8, "op": "Write", "value": 2}]}


def test_v2_stats():
    files = {"pids.current": "1\n", "pids.max": "10\n",
             "memory.stat": "anon 100\nfile 50\n", "memory.current": "150\n", "memory.max": "max\n",
             "memory.swap.current": "0\n", "memory.swap.max": "max\n",
             "cpu.stat": "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 0\n",
             "io.stat": "254:0 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
             "hugetlb.2MB.current": "0\n", "hugetlb.2MB.events": "max 2\n"}
    s = S.v2(lambda _c, f: files.get(f), ["2MB"])
    assert list(s) == TOP_KEYS
    assert s["pids"] == {"current": 1, "limit": 10}
    assert s["memory"]["cache"] == 50 and s["memory"]["usage"] == {"limit": S.U64_MAX, "usage": 150, "failcnt": 0}
    assert s["memory"]["swap"] == {"limit": S.U64_MAX, "usage": 150, "failcnt": 0}
    assert s["cpu"] == {"usage": {"total": 10000, "kernel": 4000, "user": 6000}, "throttling": {}}
    assert s["blkio"]["ioServiceBytesRecursive"][0] == {"major": 254, "op": "Read", "value": 512}
    assert s["hugetlb"] == {"2MB": {"failcnt": 2}}
    assert jsonlite.dumps(s).startswith('{"cpu":{"usage":{"total":10000,"kernel":4000,"user":6000}')


def test_v2_swap_limit_adds_the_memory_limit():
    files = {"memory.stat": "file 0\n", "memory.current": "10\n", "memory.max": "100\n",
             "memory.swap.current": "5\n", "memory.swap.max": "50\n"}
    assert S.v2(lambda _c, f: files.get(f), [])["memory"]["swap"] == {"limit": 150, "usage": 15, "failcnt": 0}


def test_pids_without_the_controller_count_cgroup_procs():
    assert S.v2(lambda _c, f: {"cgroup.procs": "5\n6\n"}.get(f), [])["pids"] == {"current": 2}


def test_small_parsers():
    assert S.hugepage_sizes(["hugepages-2048kB", "hugepages-1048576kB", "hugepages-64kB", "x"]) == \
        ["2MB", "1GB", "64KB"]
    assert S.cpu_list("0-2,5\n") == [0, 1, 2, 5] and S.cpu_list("") == []
    assert S.oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3
    assert S.oom_kills("low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\noom_group_kill 0\n") == 1


@pytest.mark.parametrize("text,seconds", [("5s", 5), ("100ms", 0.1), ("1m30s", 90), ("1.5h", 5400),
                                          ("250us", 0.00025), ("0", 0)])
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "s", "1x", "", "1..5s"])
def test_bad_durations(text):
    with pytest.raises(BadConfig, match="invalid duration"):
        parse_duration(text)
