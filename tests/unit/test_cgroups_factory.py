"""The cgroup driver factory (pyrunc.cgroups) and the driver interface (cgroups.driver): names, state round trips."""
import inspect

import pytest

from pyrunc import cgroups, state, steps
from pyrunc.cgroups import detect
from pyrunc.cgroups.driver import Driver
from pyrunc.errors import Error

HYBRID = (detect.HYBRID, [("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/", "/"),
                          ("freezer", "/sys/fs/cgroup/freezer", "/", "/"),
                          ("", "/sys/fs/cgroup/unified", "/", "/")])
UNIFIED = (detect.UNIFIED, [("", "/sys/fs/cgroup", "/", "/")])
NONE = (detect.NONE, [])
RES = {"pids": {"limit": 10}}


def test_the_layout_picks_the_driver_by_name():
    assert cgroups.new("/c", "c", HYBRID).name == "fs1"
    assert cgroups.new("", "c", (detect.LEGACY, HYBRID[1][:2])).name == "fs1"
    assert cgroups.new("/c", "c", UNIFIED).name == "fs2"
    assert cgroups.new("/c", "c", NONE).name == "none"
    assert set(cgroups.BY_LAYOUT.values()) == set(cgroups.DRIVERS)


def test_an_unknown_driver_in_the_state_is_an_error_naming_it():
    """A state.json from another runtime (or a future driver) never turns into a driver that does nothing."""
    for name in ("systemd", None, "base"):
        with pytest.raises(Error, match=f"unknown cgroup driver {name!r}"):
            cgroups.from_state({"driver": name, "dirs": {"": "/sys/fs/cgroup/c"}})


def test_systemd_is_refused_with_runcs_words():
    with pytest.raises(Error, match='format "slice:prefix:name"'):
        cgroups.new("/c", "c", UNIFIED, systemd=True)
    with pytest.raises(Error, match="systemd cgroup driver is not supported"):
        cgroups.new("system.slice:pyrunc:c", "c", UNIFIED, systemd=True)


@pytest.mark.parametrize("layout,cgroupns", [(HYBRID, False), (HYBRID, True), (UNIFIED, False), (NONE, False)])
def test_state_round_trip(layout, cgroupns):
    mgr = cgroups.new("/a/c", "c", layout, resources=RES, cgroupns=cgroupns)
    saved = mgr.to_state()
    back = cgroups.from_state(saved)
    assert type(back) is type(mgr) and back.to_state() == saved
    assert back.join_files() == mgr.join_files() and back.resources == RES


def test_the_driver_records_its_freezer_for_state_and_the_front_end():
    v1 = cgroups.new("/a/c", "c", HYBRID).to_state()
    assert v1["freezer"] == ["/sys/fs/cgroup/freezer/a/c/freezer.state", "THAWED"]
    assert cgroups.new("/a/c", "c", UNIFIED).to_state()["freezer"] == ["/sys/fs/cgroup/a/c/cgroup.freeze", "0"]
    assert cgroups.new("/a/c", "c", NONE).to_state()["freezer"] is None
    no_freezer = (detect.LEGACY, HYBRID[1][:1])
    assert cgroups.new("/a/c", "c", no_freezer).to_state()["freezer"] is None


def test_state_reads_the_recorded_freezer_and_derives_it_for_old_state_files():
    recorded = {"driver": "fs1", "dirs": {"freezer": "/x"}, "freezer": ["/elsewhere/freezer.state", "THAWED"]}
    data = {"pid": 1, "pid_start": 2, "cgroup": recorded, "config": {"process": {"args": ["true"]}}}
    assert "if equals THAWED /elsewhere/freezer.state" in steps.recipe("c", data).splitlines()
    old = {"driver": "fs1", "dirs": {"freezer": "/x"}}      # written before drivers recorded it
    assert "if equals THAWED /x/freezer.state" in steps.recipe("c", dict(data, cgroup=old)).splitlines()


def test_every_driver_implements_the_whole_interface():
    abstract = Driver.__abstractmethods__
    assert {"new", "from_state", "to_state", "create", "problems", "join_files", "destroy", "apply", "dir_of",
            "pids", "signal_all", "kill_all", "freeze", "thaw", "freezer", "stats", "oom_kills",
            "oom_watch"} <= abstract
    for name in abstract:
        assert inspect.getdoc(getattr(Driver, name)), f"Driver.{name} is not documented"
    with pytest.raises(TypeError):
        Driver({})
    for name in cgroups.DRIVERS:
        cls = cgroups.driver_class(name)
        assert issubclass(cls, Driver) and not cls.__abstractmethods__ and cls.name == name


def test_the_null_driver_has_nothing_to_do():
    mgr = cgroups.new("", "c", NONE, resources=RES)
    assert mgr.join_files() == [] and mgr.pids() == [] and mgr.problems() == [] and mgr.freezer() is None
    assert mgr.freeze(quiet=True) is False
    with pytest.raises(Error, match="cannot toggle freezer"):
        mgr.freeze()
