"""The init lands in its cgroupsPath cgroup in every hierarchy, relative paths below our own cgroup."""
import os

import pytest

from tests.support.helpers import create

pytestmark = pytest.mark.agnostic


def cgroup_lines(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return [line.strip().split(":", 2) for line in f]


def hierarchy_dirs():
    """{mountpoint: "cgroup" or "cgroup2"} of every cgroup hierarchy usable here: visible (not
    covered by a later mount) and mounted at our cgroup namespace's root (not "/..")."""
    top = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, fs = left.split(), right.split()
            if fs and fields[4].startswith("/sys/fs/cgroup"):
                top[fields[4]] = fs[0] if fields[3] == "/" else None
    return {mp: fs for mp, fs in top.items() if fs in ("cgroup", "cgroup2")}


@pytest.mark.parametrize("path,expect", [(None, "/{id}"), ("rel/{id}", "/rel/{id}"), ("/abs/{id}", "/abs/{id}")])
def test_init_is_in_its_cgroup(rt, bundle, path, expect):
    cid = "cgp"
    if path:
        bundle.config["linux"]["cgroupsPath"] = path.format(id=cid)
    bundle.set_args("sleep", "30")
    create(rt, bundle, cid)
    pid = rt.state(cid)["pid"]
    want = expect.format(id=cid)
    lines = cgroup_lines(pid)
    assert lines, "no cgroups"
    cgroup2_here = "cgroup2" in hierarchy_dirs().values()
    for hid, ctrls, p in lines:
        if hid == "0" and not cgroup2_here:
            continue        # no runtime can join a cgroup2 hierarchy it cannot see
        assert p == want, (ctrls, p)
    for mp in hierarchy_dirs():
        d = mp + want
        with open(os.path.join(d, "cgroup.procs")) as f:
            assert str(pid) in f.read().split(), d
    rt.run("delete", cid)
    for mp in hierarchy_dirs():
        assert not os.path.exists(mp + want), mp + want
        if path:
            # like runc, the parents it created for the path stay (CRI's pod cgroups live there)
            parent = os.path.dirname(mp + want)
            assert os.path.isdir(parent)
            os.rmdir(parent)
