"""The lifecycle trace: --debug writes one JSON line per stage; `pyrunc trace ID` prints create and start."""
import json

import pytest

from tests.support.helpers import create, wait_for
from tests.support.runtime import uses_front_end

# stage 1: the one the front end started, or (the Python CLI alone) a fork of the CLI
CREATE_ORDER = ["cli start", "adopt bootstrap" if uses_front_end() else "fork bootstrap", "parse", "validate",
                "reserve id", "cgroup", "join cgroup", "namespaces", "fork init", "mounts", "devices", "pivot_root",
                "masked and read-only paths", "process checked", "init ready", "state saved"]


def test_debug_log_has_every_stage_in_order(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own trace")
    log = tmp_path / "log.json"
    bundle.set_args("true")
    with open(tmp_path / "out", "w") as o:
        rt.run("create", "--bundle", bundle.path, "tr1", log=str(log), log_format="json", stdout=o,
               stderr=o, debug=True)
    stages = [json.loads(line) for line in open(log) if '"stage"' in line]
    names = [s["stage"] for s in stages]
    assert [n for n in names if n in CREATE_ORDER] == CREATE_ORDER, names
    for s in stages:
        assert s["level"] == "debug" and s["ms"] >= 0 and s["msg"] == f"create: {s['stage']}"
    rt.run("start", "tr1")
    wait_for(lambda: rt.status("tr1") == "stopped", what="exit")
    out = rt.run("trace", "tr1").stdout
    assert out.startswith("create:\n")
    create_part, start_part = out.split("start:\n")
    got = [line.split(")", 1)[1].strip() for line in create_part.splitlines() if line.startswith("  ")]
    assert [n for n in got if n in CREATE_ORDER] == CREATE_ORDER[:-1]       # saved just before "state saved"
    # the front end starts an ordinary container itself; the Python CLI alone also loads the state
    expected = ["cli start", "exec"] if uses_front_end() else ["cli start", "state loaded", "exec"]
    assert [line.split(")", 1)[1].strip() for line in start_part.splitlines() if line.startswith("  ")] == expected
    assert "waiting for start:" in out
    rt.run("delete", "tr1")
    assert rt.run("trace", "tr1", check=False).returncode == 1
