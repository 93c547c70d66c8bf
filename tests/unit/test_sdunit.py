"""The systemd driver's pure part (cgroups.sdunit): runc's cgroupsPath parser, ExpandSlice, unit properties.

The expected values are runc's: its own tests' tables (systemd_test.go,
cpuset_test.go of runc 1.2, which fixed the byte order) or computed by
hand from its code (common.go, v2.go).
"""
import pytest

from pyrunc.cgroups import resources, sdunit
from pyrunc.errors import BadConfig, Error

MAX = (1 << 64) - 1


def test_cgroups_path_is_slice_prefix_name_or_runcs_default():
    assert sdunit.parse_path("machine.slice:pyrunc:c1", "id") == ("machine.slice", "pyrunc", "c1")
    assert sdunit.parse_path(":cri-containerd:abc", "id") == ("", "cri-containerd", "abc")
    assert sdunit.parse_path("", "id") == ("", "runc", "id")
    for bad in ("/a/b", "a:b", "a:b:c:d"):
        with pytest.raises(BadConfig, match=f'^expected cgroupsPath to be of format "slice:prefix:name" for '
                                            f'systemd cgroups, got "{bad}" instead$'):
            sdunit.parse_path(bad, "id")


@pytest.mark.parametrize("name,path", [
    ("system.slice", "/system.slice"),
    ("a-b.slice", "/a.slice/a-b.slice"),
    ("test-a-b.slice", "/test.slice/test-a.slice/test-a-b.slice"),
    ("kubepods-besteffort-pod1.slice", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice"),
    ("-.slice", "/"),
])
def test_expand_slice(name, path):
    assert sdunit.expand_slice(name) == path


@pytest.mark.parametrize("name", ["", ".slice", "a", "a.scope", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice"])
def test_expand_slice_refuses_what_is_not_a_slice(name):
    with pytest.raises(Error, match=f"^invalid slice name: {name}$"):
        sdunit.expand_slice(name)


def test_unit_names_and_start_properties():
    assert sdunit.unit_name("pfx", "c1") == "pfx-c1.scope"
    assert sdunit.unit_name("pfx", "pod.slice") == "pod.slice"
    props = dict(sdunit.start_properties("pfx-c1.scope", "c1", "machine.slice", False, 4242))
    assert props == {"Description": ("s", "libcontainer container c1"), "Slice": ("s", "machine.slice"),
                     "Delegate": ("b", True), "PIDs": ("au", [4242]), "MemoryAccounting": ("b", True),
                     "CPUAccounting": ("b", True), "IOAccounting": ("b", True), "TasksAccounting": ("b", True),
                     "DefaultDependencies": ("b", False)}
    assert dict(sdunit.start_properties("x.scope", "x", "", False, 1))["Slice"] == ("s", "system.slice")
    assert dict(sdunit.start_properties("x.scope", "x", "", True, 1))["Slice"] == ("s", "user.slice")
    sliced = dict(sdunit.start_properties("pod.slice", "pod.slice", "kubepods.slice", False, None))
    assert sliced["Wants"] == ("as", ["kubepods.slice"]) and "Slice" not in sliced and "Delegate" not in sliced
    assert "PIDs" not in sliced


@pytest.mark.parametrize("text,out", [
    ("0", b"\x01"), ("1", b"\x02"), ("0-1", b"\x03"), (",0,1,", b"\x03"), ("0-3", b"\x0f"), ("4-7", b"\xf0"),
    ("0-15", b"\xff\xff"), ("16", b"\x00\x00\x01"), ("0-3,32-33", b"\x0f\x00\x00\x00\x03"),
    ("1, 2, 1-2", b"\x06"), ("    , 1   , 3  ,  5-7,\t", b"\xea"), ("128-130,1", b"\x02" + b"\x00" * 15 + b"\x07"),
])
def test_range_to_bits(text, out):
    assert sdunit.range_to_bits(text) == out


@pytest.mark.parametrize("text", ["", "-", "1-", "-3", "54-53", "1 - 2", "x"])
def test_range_to_bits_refuses(text):
    with pytest.raises(ValueError):
        sdunit.range_to_bits(text)


@pytest.mark.parametrize("text,version", [('"219"', 219), ("v245.4-1.fc32", 245), ("241-1", 241),
                                          ("252.33-1~deb12u1", 252), ("NaN", -1), ("", -1)])
def test_systemd_version(text, version):
    assert sdunit.version_number(text) == version


def test_cpu_quota_rounds_up_to_whole_percents():
    # runc's addCpuQuota: quota*1e6/period µs per second, rounded up to 10 ms
    assert sdunit.cpu_quota(50000, 100000, 252) == [("CPUQuotaPeriodUSec", ("t", 100000)),
                                                    ("CPUQuotaPerSecUSec", ("t", 500000))]
    assert sdunit.cpu_quota(12345, 0, 252) == [("CPUQuotaPerSecUSec", ("t", 130000))]   # 123450 -> 130000
    assert sdunit.cpu_quota(-1, 50000, 252)[-1] == ("CPUQuotaPerSecUSec", ("t", MAX))
    assert sdunit.cpu_quota(20000, 50000, 241) == [("CPUQuotaPerSecUSec", ("t", 400000))]   # no period before v242
    assert sdunit.cpu_quota(0, 0, 252) == []


def test_resource_properties_in_runcs_order():
    res = {"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20},
           "cpu": {"shares": 1024, "quota": 25000, "period": 50000, "cpus": "0-1", "mems": "0"},
           "pids": {"limit": 42}, "unified": {"memory.high": "max", "pids.max": "7", "io.weight": "50"}}
    props = sdunit.resources(res, 252, skip_devices=True)
    assert props == [("MemoryMax", ("t", 64 << 20)), ("MemoryLow", ("t", 32 << 20)),
                     ("MemorySwapMax", ("t", 32 << 20)), ("CPUWeight", ("t", 100)),
                     ("CPUQuotaPeriodUSec", ("t", 50000)), ("CPUQuotaPerSecUSec", ("t", 500000)),
                     ("TasksMax", ("t", 42)), ("AllowedCPUs", ("ay", b"\x03")), ("AllowedMemoryNodes", ("ay", b"\x01")),
                     ("MemoryHigh", ("t", MAX)), ("TasksMax", ("t", 7))]    # io.weight: only in the file
    assert sdunit.resources({"memory": {"limit": -1}, "pids": {"limit": -1}}, 252, skip_devices=True) == [
        ("MemoryMax", ("t", MAX)), ("MemorySwapMax", ("t", MAX)), ("TasksMax", ("t", MAX))]
    assert sdunit.resources({"cpu": {"cpus": "1"}}, 243, skip_devices=True) == []     # AllowedCPUs: v244
    assert sdunit.resources({"cpu": {"idle": 1, "shares": 512}}, 252, skip_devices=True) == [("CPUWeight", ("t", 0))]
    with pytest.raises(BadConfig, match="unable to set swap limit without memory limit"):
        sdunit.resources({"memory": {"swap": 100}}, 252, skip_devices=True)


@pytest.mark.parametrize("shares", [2, 512, 1024, 4096, 262144])
def test_cpu_weight_is_the_weight_the_cgroup_file_gets(shares):
    """systemd and the cgroup file must agree, or each write would undo the other."""
    res = {"cpu": {"shares": shares}}
    file = [w for w in resources.plan(res, "fs2").writes if w[1] == "cpu.weight"]
    prop = dict(sdunit.resources(res, 252, skip_devices=True))["CPUWeight"]
    assert file[0][2] == str(prop[1]) and prop[1] == resources.shares_to_weight(shares)
    assert resources.shares_to_weight(1024) == 100


def test_unified_entries_runc_translates():
    props = sdunit.unified({"cpu.max": "max 50000", "cpu.weight": "300", "cpuset.cpus": "2",
                            "memory.swap.max": "1024", "memory.oom.group": "1"}, 252)
    assert props == [("CPUQuotaPeriodUSec", ("t", 50000)), ("CPUQuotaPerSecUSec", ("t", MAX)),
                     ("CPUWeight", ("t", 300)), ("AllowedCPUs", ("ay", b"\x04")), ("MemorySwapMax", ("t", 1024))]
    with pytest.raises(BadConfig, match='^unified resource "a/b" must be a file name'):
        sdunit.unified({"a/b": "1"}, 252)
    with pytest.raises(BadConfig, match='^unified resource "cpu.max" value invalid: "1 2 3"$'):
        sdunit.unified({"cpu.max": "1 2 3"}, 252)
    with pytest.raises(BadConfig, match='^unified resource "pids.max" value conversion error'):
        sdunit.unified({"pids.max": "lots"}, 252)


PROC_DEVICES = """Character devices:
  1 mem
  5 /dev/tty
136 pts
180 usb

Block devices:
  8 sd
"""


def test_device_properties_from_runcs_default_rules():
    warnings = []
    props = sdunit.device_properties([{"allow": False, "access": "rwm"}], (), PROC_DEVICES,
                                     lambda p: p != "/dev/char/10:200" and p != "/sys/dev/char/10:200",
                                     warnings.append)
    assert props[:2] == [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    allow = props[2][1][1]
    assert sorted(allow[:2]) == [("block-*", "m"), ("char-*", "m")]
    assert ("char-pts", "rwm") in allow and ("/dev/char/1:3", "rwm") in allow and ("/dev/char/5:2", "rwm") in allow
    assert warnings == ["skipping device /dev/char/10:200 for systemd: no such file or directory"]


def test_device_properties_allow_all_and_deny_lists():
    everything = sdunit.device_properties([{"allow": True, "access": "rwm"}], (), "", lambda p: True, print)
    assert everything == [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
    warnings = []
    deny = sdunit.device_properties([{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 4,
                                     "minor": 4, "access": "w"}], (), "", lambda p: True, warnings.append)
    assert deny == [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    assert "blacklist" in warnings[0]
    warnings = []
    wild_major = sdunit.device_properties([{"allow": False, "access": "rwm"},
                                           {"allow": True, "type": "c", "minor": 7, "access": "r"}],
                                          (), PROC_DEVICES, lambda p: True, warnings.append)
    assert "'*:n' device rules" in warnings[0] and ("char-*", "m") in wild_major[2][1][1]


def test_the_error_shows_properties_as_runc():
    assert sdunit.show([("Slice", ("s", "a.slice")), ("Delegate", ("b", True)), ("MemoryMax", ("t", 5))]) == \
        '[{Name:Slice Value:"a.slice"} {Name:Delegate Value:true} {Name:MemoryMax Value:uint64 5}]'


def test_annotations_become_unit_properties_as_runcs_initSystemdProps():
    props = sdunit.annotation_properties({
        "org.systemd.property.TimeoutStopSec": "uint64 15", "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.After": "['a.service', \"b.service\"]", "org.systemd.property.Wants": "@as []",
        "org.systemd.property.DefaultDependencies": "true", "org.systemd.property.CPUQuotaPeriodUSec": "uint64 50000",
        "org.systemd.property.RuntimeMaxSec": "double 1.5", "org.systemd.property.Nice": "5",
        "io.kubernetes.pod.name": "p"})
    assert props == [("After", ("as", ["a.service", "b.service"])), ("CPUQuotaPeriodUSec", ("t", 50000)),
                     ("CollectMode", ("s", "inactive-or-failed")), ("DefaultDependencies", ("b", True)),
                     ("Nice", ("i", 5)), ("RuntimeMaxUSec", ("t", 1500000)),    # Sec -> USec, in µs
                     ("TimeoutStopUSec", ("t", 15000000)), ("Wants", ("as", []))]
    start = sdunit.start_properties("x.scope", "x", "", False, 1, props)
    assert start[-len(props):] == props        # after runc's own, as runc appends c.SystemdProps


@pytest.mark.parametrize("key,value,message", [
    ("Ab", "1", "name incorrect: too short"),
    ("Time_out", "1", "name incorrect: contains non-alphabetic character"),
    ("TimeoutStopSec", "'15'", "value parse error: not a number"),
    ("Foo", "nope", "value parse error: cannot read"),
    ("Foo", "'it's'", "value parse error: cannot read"),
])
def test_bad_annotations_are_refused_with_runcs_words(key, value, message):
    with pytest.raises(BadConfig, match=f"^annotation org.systemd.property.{key}"):
        sdunit.annotation_properties({f"org.systemd.property.{key}": value})
    with pytest.raises(BadConfig, match=message):
        sdunit.annotation_properties({f"org.systemd.property.{key}": value})

