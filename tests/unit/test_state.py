"""state.py: ids, status from live facts, atomic saves."""
import os

import pytest

from pyrunc import state
from pyrunc.errors import Error, NotExist


@pytest.mark.parametrize("cid", ["a", "A-b_c.d+1", "x" * 200])
def test_valid_ids(cid):
    state.validate_id(cid)


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "a b", "é"])
def test_invalid_ids(cid):
    with pytest.raises(Error, match="invalid container id"):
        state.validate_id(cid)


def test_status_from_live_facts(tmp_path):
    c = state.Container(str(tmp_path), "c")
    c.reserve()
    me = os.getpid()
    start = state.proc_start_time(me)[0]
    c.save({"pid": me, "pid_start": start})
    assert c.status() == "created"           # the exec fifo is still there
    os.unlink(c.fifo)
    assert c.status() == "running"
    c.save({"pid": me, "pid_start": start + 1})
    assert c.status() == "stopped"           # a recycled pid is not our init
    c.save({"pid": me, "pid_start": start, "creating": True})
    assert c.status() == "creating"
    c.remove()
    with pytest.raises(NotExist):
        state.Container(str(tmp_path), "c").load()


def test_reserve_is_exclusive(tmp_path):
    state.Container(str(tmp_path), "x").reserve()
    with pytest.raises(Error, match="already exists"):
        state.Container(str(tmp_path), "x").reserve()


def test_oci_state_of_stopped_has_pid_0(tmp_path):
    c = state.Container(str(tmp_path), "s")
    c.reserve()
    c.save({"pid": 999999, "pid_start": 1, "bundle": "/b", "rootfs": "/b/r", "created": "t",
            "annotations": {"k": "v"}})
    s = c.oci_state()
    assert s["status"] == "stopped" and s["pid"] == 0 and s["annotations"] == {"k": "v"}
