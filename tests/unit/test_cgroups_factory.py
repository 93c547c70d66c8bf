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
    assert set(cgroups.BY_LAYOUT.values()) | {"systemd"} == set(cgroups.DRIVERS)   # systemd: by the flag


def test_an_unknown_driver_in_the_state_is_an_error_naming_it():
    """A state.json from another runtime (or a future driver) never turns into a driver that does nothing."""
    for name in ("cgroupfs", None, "base"):
        with pytest.raises(Error, match=f"unknown cgroup driver {name!r}"):
            cgroups.from_state({"driver": name, "dirs": {"": "/sys/fs/cgroup/c"}})


def test_systemd_is_refused_with_runcs_words(tmp_path, monkeypatch):
    """runc's order: the cgroupsPath's format, then systemd as the host's init, then (pyrunc) cgroup v2."""
    from pyrunc.cgroups import systemd
    with pytest.raises(Error, match='^expected cgroupsPath to be of format "slice:prefix:name" for systemd '
                                    'cgroups, got "/c" instead$'):
        cgroups.new("/c", "c", UNIFIED, systemd=True)
    monkeypatch.setattr(systemd, "RUN_SYSTEMD", str(tmp_path / "none"))
    with pytest.raises(Error, match="^systemd not running on this host, cannot use systemd cgroups manager$"):
        cgroups.new("system.slice:pyrunc:c", "c", UNIFIED, systemd=True)
    monkeypatch.setattr(systemd, "RUN_SYSTEMD", str(tmp_path))
    with pytest.raises(Error, match="^invalid slice name: a--b.slice$"):
        cgroups.new("a--b.slice:pyrunc:c", "c", UNIFIED, systemd=True)
    with pytest.raises(Error, match="needs a cgroup v2 .unified. host; this one is hybrid"):
        cgroups.new("system.slice:pyrunc:c", "c", HYBRID, systemd=True)
    with pytest.raises(Error, match="^annotation org.systemd.property.Collect-Mode name incorrect: contains "
                                    "non-alphabetic character$"):
        cgroups.new("", "c", UNIFIED, systemd=True, annotations={"org.systemd.property.Collect-Mode": "'x'"})
    mgr = cgroups.new("", "c", UNIFIED, systemd=True, annotations={"org.systemd.property.CollectMode": "'x'"})
    assert mgr.extra == [("CollectMode", ("s", "x"))]


def test_the_systemd_driver_places_its_scope_and_keeps_its_unit_in_the_state(tmp_path, monkeypatch):
    from pyrunc.cgroups import systemd
    monkeypatch.setattr(systemd, "RUN_SYSTEMD", str(tmp_path))
    mgr = cgroups.new("a-b.slice:pfx:c1", "c", UNIFIED, systemd=True, resources=RES)
    assert mgr.dirs == {"": "/sys/fs/cgroup/a.slice/a-b.slice/pfx-c1.scope"} and mgr.unit == "pfx-c1.scope"
    default = cgroups.new("", "c9", UNIFIED, systemd=True)
    assert (default.unit, default.dir) == ("runc-c9.scope", "/sys/fs/cgroup/system.slice/runc-c9.scope")
    saved = mgr.to_state()
    assert saved["systemd"] == {"unit": "pfx-c1.scope", "parent": "a-b.slice", "name": "c1", "rootless": False}
    back = cgroups.from_state(saved)
    assert type(back) is systemd.SystemdManager and back.to_state() == saved and back.unit == mgr.unit
    scope = "/sys/fs/cgroup/a.slice/a-b.slice/pfx-c1.scope"
    assert back.freezer() == (f"{scope}/cgroup.freeze", "0", "1", f"{scope}/cgroup.events", "frozen 1")
    # delete stops the unit: a step the front end does not know, so it hands delete over to Python
    data = {"pid": 1, "pid_start": 2, "cgroup": saved, "config": {"process": {"args": ["true"]}}}
    assert steps.operations("delete", data)[0] == ("stop-unit", "pfx-c1.scope")
    recipe = steps.recipe("c1", data)
    assert "verb start" in recipe and "verb delete" not in recipe and "stop-unit" not in recipe


@pytest.mark.parametrize("layout,cgroupns", [(HYBRID, False), (HYBRID, True), (UNIFIED, False), (NONE, False)])
def test_state_round_trip(layout, cgroupns):
    mgr = cgroups.new("/a/c", "c", layout, resources=RES, cgroupns=cgroupns)
    saved = mgr.to_state()
    back = cgroups.from_state(saved)
    assert type(back) is type(mgr) and back.to_state() == saved
    assert back.join_files() == mgr.join_files() and back.resources == RES


def test_the_driver_records_its_freezer_for_state_and_the_front_end():
    v1 = cgroups.new("/a/c", "c", HYBRID).to_state()
    v1_file = "/sys/fs/cgroup/freezer/a/c/freezer.state"
    assert v1["freezer"] == [v1_file, "THAWED", "FROZEN", v1_file, "FROZEN"]
    assert cgroups.new("/a/c", "c", UNIFIED).to_state()["freezer"] == [
        "/sys/fs/cgroup/a/c/cgroup.freeze", "0", "1", "/sys/fs/cgroup/a/c/cgroup.events", "frozen 1"]
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
