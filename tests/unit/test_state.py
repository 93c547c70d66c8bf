"""state.py: ids, status from live facts, atomic saves."""
import json
import os

import pytest

from pyrunc import frontabi, jsonlite, state, steps, transitions
from pyrunc.errors import Error, NotExist


@pytest.mark.parametrize("cid", ["a", "A-b_c.d+1", "x" * 255, ".x.1"])
def test_valid_ids(cid):
    state.validate_id(cid)


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "a b", "é"])
def test_invalid_ids(cid):
    with pytest.raises(Error, match="invalid container id"):
        state.validate_id(cid)


def test_an_id_longer_than_a_file_name_is_invalid():
    with pytest.raises(Error, match=r"^invalid container id: 256 characters long, at most 255 \(it names the state directory\)$"):
        state.validate_id("x" * 256)


def test_temporary_names_are_never_ids():
    assert not state.is_id(state.TEMPORARY + "1.ab")


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


def _created(**over):
    data = {"id": "c", "pid": 42, "pid_start": 777,
            "cgroup": {"driver": "fs1", "dirs": {"cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c",
                                                 "freezer": "/sys/fs/cgroup/freezer/c"}},
            "config": {"process": {"args": ["true"]}}}
    data.update(over)
    return data


def _start_and_delete(text):
    lines = text.splitlines()
    return lines[:min(lines.index(v) for v in ("verb pause", "verb state") if v in lines)] + ["end"]


def test_recipe_of_an_ordinary_container():
    assert _start_and_delete(steps.recipe("c", _created())) == [
        f"pyrunc-recipe {frontabi.VERSION}", "id c",
        "verb start", "if alive 42 777", "if equals THAWED /sys/fs/cgroup/freezer/c/freezer.state",
        "do fifo-start exec.fifo", "do trace-start",
        "verb delete", "if dead 42 777", "do rmdir /sys/fs/cgroup/cpu,cpuacct/c", "do rmdir /sys/fs/cgroup/freezer/c",
        "do remove-state", "end"]
    v2 = steps.recipe("c", _created(cgroup={"driver": "fs2", "dirs": {"": "/sys/fs/cgroup/c"}})).splitlines()
    assert "if equals 0 /sys/fs/cgroup/c/cgroup.freeze" in v2 and "do rmdir /sys/fs/cgroup/c" in v2
    assert _start_and_delete(steps.recipe("c", _created(cgroup={})))[2:] == [
        "verb start", "if alive 42 777", "do fifo-start exec.fifo", "do trace-start",
        "verb delete", "if dead 42 777", "do remove-state", "end"]


def test_pause_and_resume_write_the_freezer_facts_the_driver_recorded():
    v1 = _sections(steps.recipe("c", _created()), "pause")
    state_file = "/sys/fs/cgroup/freezer/c/freezer.state"
    assert v1 == [(["alive 42 777", f"equals THAWED {state_file}"],
                   [f"write FROZEN {state_file}", f"await FROZEN {state_file}"], [f"write THAWED {state_file}"])]
    v2 = steps.recipe("c", _created(cgroup={"driver": "fs2", "dirs": {"": "/sys/fs/cgroup/a b"}}))
    assert _sections(v2, "pause")[0][1:] == (["write 1 /sys/fs/cgroup/a b/cgroup.freeze",
                                              "await frozen\\s1 /sys/fs/cgroup/a b/cgroup.events"],
                                             ["write 0 /sys/fs/cgroup/a b/cgroup.freeze"])
    assert _sections(v2, "resume") == [(["alive 42 777", "differs 0 /sys/fs/cgroup/a b/cgroup.freeze"],
                                        ["write 0 /sys/fs/cgroup/a b/cgroup.freeze"], [])]
    # no freezer, or one recorded before its freezing facts were: Python's
    old = {"driver": "fs1", "dirs": {"freezer": "/x"}, "freezer": ["/x/freezer.state", "THAWED"]}
    for cgroup in ({}, old):
        text = steps.recipe("c", _created(cgroup=cgroup))
        assert "verb pause" not in text and "verb resume" not in text


def test_a_verb_with_a_step_the_front_end_lacks_gets_no_recipe():
    """Hooks are run by Python only: their verb is left out, so the front end hands it over."""
    hooks = {"process": {"args": ["true"]}, "hooks": {"poststart": [{"path": "/h"}], "poststop": [{"path": "/h"}]}}
    assert _start_and_delete(steps.recipe("c", _created(config=hooks))) == [f"pyrunc-recipe {frontabi.VERSION}", "id c", "end"]
    assert "verb start" not in steps.recipe("c", _created(config={}))      # no process to start
    assert steps.recipe("c", _created(creating=True)) is None
    assert steps.recipe("c", {}) is None
    newline = {"driver": "fs2", "dirs": {"": "/sys/fs/cgroup/a\nverb start"}}
    assert steps.recipe("c", _created(cgroup=newline)) is None


def test_kill_all_does_nothing_itself_only_once_the_init_is_gone_and_the_cgroups_are_empty():
    assert _sections(steps.recipe("c", _created()), "kill-all") == [
        (["dead 42 777", "equals THAWED /sys/fs/cgroup/freezer/c/freezer.state", "empty /sys/fs/cgroup/freezer/c"],
         [], [])]
    assert "verb kill-all" not in steps.recipe("c", _created(cgroup={}))      # no cgroup: Python's


def test_update_writes_the_files_the_driver_names_where_that_is_the_whole_update():
    v1 = _created(cgroup={"driver": "fs1", "dirs": {"pids": "/sys/fs/cgroup/pids/c", "cpu,cpuacct": "/x"},
                          "resources": {"pids": {"limit": 5}, "cpu": {"shares": 2, "cpus": "0"}}})
    assert _sections(steps.recipe("c", v1), "update") == [
        (["alive 42 777"], ["flag pids-limit natural /sys/fs/cgroup/pids/c/pids.max"], [])]
    v2 = _created(cgroup={"driver": "fs2", "dirs": {"": "/sys/fs/cgroup/a b"}})
    assert _sections(steps.recipe("c", v2), "update")[0][1] == [
        "flag pids-limit natural /sys/fs/cgroup/a b/pids.max", "flag cpuset-cpus line /sys/fs/cgroup/a b/cpuset.cpus",
        "flag cpuset-mems line /sys/fs/cgroup/a b/cpuset.mems"]
    # Python's: a saved quota (the first update zeroes it), systemd's unit properties, no cgroup
    quota = dict(v2["cgroup"], resources={"cpu": {"quota": 1000, "period": 10000}})
    systemd = dict(v2["cgroup"], driver="systemd", systemd={"unit": "c.scope"})
    for cgroup in (quota, systemd, {}):
        assert "verb update" not in steps.recipe("c", _created(cgroup=cgroup))


def test_a_new_delete_step_is_one_change_that_the_front_end_hands_to_python(monkeypatch):
    """Adding a step to steps.operations (say, stopping a systemd unit) is the whole change for the
    front end: it loses that verb's recipe section, so it hands the verb to Python, which runs it."""
    original = steps.operations
    monkeypatch.setattr(steps, "operations", lambda verb, data: original(verb, data) + (
        [("stop-unit", "x.scope")] if verb == "delete" else []))
    text = steps.recipe("c", _created())
    assert "verb start" in text and "verb delete" not in text
    assert "stop-unit" not in text


def test_the_recipe_is_written_with_the_state(tmp_path):
    c = state.Container(str(tmp_path), "c")
    c.reserve()
    c.save(_created())
    assert open(os.path.join(c.dir, frontabi.RECIPE)).read() == steps.recipe("c", _created())
    c.save(_created(creating=True))
    assert not os.path.exists(os.path.join(c.dir, frontabi.RECIPE))
    c.unlock()


def test_every_refused_transition_has_runc_words():
    for verb, allowed in transitions.ALLOWED.items():
        assert allowed <= set(transitions.STATUSES), verb
        for status in set(transitions.STATUSES) - allowed:
            assert (verb, status) in transitions.REFUSALS, (verb, status)
    assert set(transitions.REFUSALS) <= {(v, s) for v in transitions.ALLOWED for s in transitions.STATUSES}


def test_the_front_end_conditions_mean_the_status_its_fast_path_needs(tmp_path, monkeypatch):
    """steps.conditions hold exactly when state.status() is what transitions lets the front end act in."""
    c = state.Container(str(tmp_path), "c")
    c.reserve()
    c.save(_created())
    for alive in (True, False):
        monkeypatch.setattr(state, "alive", lambda pid, start, a=alive: a)
        for frozen in (True, False):
            monkeypatch.setattr(state.Container, "frozen", lambda self, f=frozen: f)
            status = c.status()
            start_ok = alive and not frozen     # with the fifo present, as here
            assert (status == "created") == start_ok, (alive, frozen, status)
            assert (status == "stopped") == (not alive), (alive, frozen, status)
            facts = {"alive": alive, "equals": not frozen, "differs": frozen}
            for verb in ("pause", "resume"):
                held = all(facts[cond[0]] for cond in steps.conditions(verb, c.data))
                assert held == transitions.allowed(verb, status), (verb, alive, frozen, status)
    c.unlock()


def _sections(text, verb):
    """[(conditions, steps, undo steps)] of a verb in a recipe text, as the front end reads them."""
    out = []
    for line in text.splitlines():
        if line.startswith("verb "):
            current = None
            if line == f"verb {verb}":
                current = ([], [], [])
                out.append(current)
        elif line.startswith(("if ", "do ", "undo ")) and current is not None:
            kind, rest = line.split(" ", 1)
            current[("if", "do", "undo").index(kind)].append(rest)
    return out


def _unescape(text):
    out, chars = [], iter(text)
    for ch in chars:
        out.append({"n": "\n"}.get(next(chars), "\\") if ch == "\\" else ch)
    return "".join(out)


def test_the_front_ends_state_answer_is_pythons_in_every_status(tmp_path, monkeypatch):
    """The first state section whose conditions hold prints what Python's `state` prints, in every
    status."""
    data = _created(annotations={"a": "x\\y\nz"}, bundle="/b", created="2026-12-02T00:00:00Z")
    c = state.Container(str(tmp_path), "c")
    c.reserve()
    c.save(data)
    text = steps.recipe("c", data)
    for alive in (True, False):
        monkeypatch.setattr(state, "alive", lambda pid, start, a=alive: a)
        for frozen in (True, False):
            monkeypatch.setattr(state.Container, "frozen", lambda self, f=frozen: f)
            for fifo in (True, False):
                if os.path.exists(c.fifo):
                    os.unlink(c.fifo)
                if fifo:
                    os.mkfifo(c.fifo)
                facts = {"alive": alive, "dead": not alive, "equals": not frozen, "differs": frozen,
                         "exists": fifo, "absent": not fifo}
                answer = next((steps for conds, steps, _ in _sections(text, "state")
                               if all(facts[cond.split()[0]] for cond in conds)), None)
                status = c.status()
                assert [s.split(" ", 1)[0] for s in answer] == ["print"]
                assert _unescape(answer[0].split(" ", 1)[1]) == jsonlite.pretty(c.oci_state()) + "\n"
                assert json.loads(_unescape(answer[0].split(" ", 1)[1]))["status"] == status
            # the front end kills where Python may, but for a paused container (lifecycle.kill_init thaws it)
            kill = [conds for conds, _, _ in _sections(text, "kill")]
            assert any(all(facts[x.split()[0]] for x in conds) for conds in kill) == \
                (transitions.allowed("kill", c.status()) and c.status() != "paused")
    c.unlock()


def test_create_sweeps_only_its_own_temporaries(tmp_path):
    """A container named like an old-style temporary (".x.<dead pid>") is never swept; a dead create's is."""
    lookalike = tmp_path / ".x.99999999"          # above any pid_max: its "creator" is dead
    lookalike.mkdir()
    (lookalike / "state.json").write_text("{}")
    dead = tmp_path / f"{state.TEMPORARY}99999999.00"
    dead.mkdir()
    (dead / state.FIFO).write_text("")
    live = tmp_path / f"{state.TEMPORARY}{os.getpid()}.00"  # a create of ours between mkdir and flock
    live.mkdir()
    c = state.Container(str(tmp_path), "x").reserve()
    c.unlock()
    assert sorted(os.listdir(tmp_path)) == sorted([".x.99999999", "x", live.name])
    assert (lookalike / "state.json").exists()


def test_reserve_leaves_no_temporary(tmp_path):
    state.Container(str(tmp_path), "y").reserve().unlock()
    assert os.listdir(tmp_path) == ["y"]


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757, 0o1777], ids=oct)
def test_a_root_others_can_write_is_refused(tmp_path, mode):
    root = tmp_path / "root"
    root.mkdir()
    root.chmod(mode)
    with pytest.raises(Error, match=rf"^state root {root} is writable by its group or others \(mode {mode:04o}\): refusing"):
        state.Container(str(root), "c")
    with pytest.raises(Error, match="writable by its group or others"):
        state.list_ids(str(root))


def test_a_root_of_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    root = tmp_path / "root"
    root.mkdir(mode=0o711)
    os.chown(root, 65534, 65534)
    with pytest.raises(Error, match=rf"^state root {root} is owned by uid 65534, not by uid 0 \(the caller\)"):
        state.Container(str(root), "c")


def test_a_private_or_missing_root_is_fine(tmp_path):
    (tmp_path / "root").mkdir(mode=0o711)
    state.Container(str(tmp_path / "root"), "c")
    state.Container(str(tmp_path / "missing"), "c")
    (tmp_path / "file").write_text("")
    with pytest.raises(Error, match="is not a directory"):
        state.Container(str(tmp_path / "file"), "c")


def test_reading_a_state_json_too_deep_to_parse_is_an_error(tmp_path):
    c = state.Container(str(tmp_path), "deep")
    c.reserve()
    with open(os.path.join(c.dir, state.STATE_FILE), "w") as f:
        f.write("[" * 100000 + "]" * 100000)
    with pytest.raises(Error, match="invalid JSON"):
        c.load()
    c.remove()
