"""The steps of `start`, `delete`, `pause` and `resume` (CLI process): one definition, run by Python and by the front end.

Python decides, C only interprets.  `operations` lists what a verb does to a
container whose status is what the front end's fast path expects; Python's
lifecycle runs exactly these steps (lifecycle.run_step), and
state.Container.save writes them, with the preconditions that make them
valid (`conditions`), into the recipe the installed front end
(csrc/pyrunc_front.c) interprets: see frontabi for the format.  A verb gets
a recipe only if the front end knows every one of its steps
(frontabi.FRONT_STEPS); so a new step (say, stopping a systemd unit at
delete) added here is run by Python at once, and by the front end only once
it learns it: until then the front end hands that verb to Python.

A step is a tuple (name, args...):
  fifo-start NAME   open the exec fifo (O_WRONLY|O_NONBLOCK), unlink it, write one byte
  wait-exec         (Python) wait until the init has exec'd the program (the fifo's last reader gone)
  hooks KIND        (Python) run the config's hooks of that kind
  trace-start       record the start's timestamps in trace.start
  stop-unit UNIT    (Python) stop the container's systemd unit and wait for it (--systemd-cgroup):
                    the cgroup driver's destroy, which the rmdir steps then complete
  rmdir DIR         remove a cgroup directory (Python kills what is left in it first)
  remove-state      remove the state directory
  print TEXT        write TEXT (frontabi.escape'd) to stdout: an answer Python computed
  pids DIR          print the pids in the cgroup DIR and below, as `ps --format json` does (null for none)
  signal PID START  send the call's signal to the init through a pidfd, if it is still that process;
                    SIGKILL: wait (at most 5 s) for its exit
  write TEXT PATH   write TEXT to the file PATH (a cgroup file)
  await LINE PATH   wait (at most frontabi.AWAIT_MS) until the file PATH has the line LINE
  flag NAME KIND PATH
                    `update`: if the call gave --NAME, write its value to the file PATH (a cgroup
                    file); the front end hands the call to Python unless it gave only flags named
                    by the section's flag steps, each once, with a value of their KIND

`pause` and `resume` are the freezer's: `pause` writes the text that
freezes and awaits the line that says every task is frozen, undoing the
write if that fails (frontabi's `undo`); `resume` writes the thawed text.
The cgroup driver recorded those facts (its freezer(): steps do not load a
driver); Python runs them as the driver's freeze() and thaw(), with runc's
fuller handling where the front end would hand over (v1's rewrite-and-thaw
loop for a cgroup whose tasks fork while it freezes, a 10 s wait).

`update` of the flags cgroups.resources.FRONT_UPDATE lists (update_sections)
writes their values, as they are, into the files the driver names; Python's
update writes the same values (a unit test holds plan() to it) plus every other
saved limit again, as runc does, which changes nothing unless something outside
changed a cgroup file since.

`state`, `kill`, `kill --all` and `ps --format json` are answered from sections of their
own (state_sections, kill_sections, kill_all_sections, ps_sections): Python computes the same
answers directly (state.oci_state, lifecycle.kill_init,
cgroups.fscommon.procs_below).
"""
from pyrunc import frontabi


def operations(verb, data):
    """The steps `verb` ("start" or "delete") takes on a container whose state is `data`."""
    hooks = (data.get("config") or {}).get("hooks", {})
    if verb == "start":
        ops = [("fifo-start", frontabi.FIFO)]
        if hooks.get("poststart"):
            # runtime-spec: poststart runs once the program is executed
            ops += [("wait-exec",), ("hooks", "poststart")]
        return ops + [("trace-start",)]
    if verb == "delete":
        cg = data.get("cgroup") or {}
        unit = (cg.get("systemd") or {}).get("unit")
        ops = [("stop-unit", unit)] if unit else []
        ops += [("rmdir", d) for d in cg.get("dirs", {}).values()]
        ops.append(("remove-state",))
        if hooks.get("poststop") and not data.get("creating"):
            ops.append(("hooks", "poststop"))
        return ops
    raise ValueError(verb)


def conditions(verb, data):
    """What the front end checks before it runs `verb`'s steps: the live facts that make the
    status the one transitions.ALLOWED lets its fast path act in ("created" for start, "stopped"
    for delete, "created" or "running" for pause, "paused" for resume; every other status goes to
    Python, which words the refusal or does more)."""
    if verb in ("start", "pause"):
        return [_init("alive", data), *_thawed(data)]     # start: and the fifo exists (fifo-start fails without it)
    if verb == "delete":
        return [_init("dead", data)]
    if verb == "resume":
        return [_init("alive", data), *_thawed(data, "differs")]
    raise ValueError(verb)


def freezer_steps(verb, data):
    """`pause` or `resume`'s steps and undo steps on a container whose driver recorded its freezer's
    facts, or None (no freezer, or a state.json from before drivers recorded them: Python's)."""
    freezer = freezer_of(data.get("cgroup") or {})
    if not freezer or len(freezer) < 5:
        return None
    path, thawed, frozen, check_path, check_line = freezer
    if verb == "pause":
        return [("write", frontabi.word(frozen), path), ("await", frontabi.word(check_line), check_path)], \
            [("write", frontabi.word(thawed), path)]
    return [("write", frontabi.word(thawed), path)], []


def _init(fact, data):
    """The condition (or the signal step) naming the container's init: its pid and start time."""
    return (fact, data["pid"], data["pid_start"])


def _thawed(data, fact="equals"):
    """The condition that the container's freezer is thawed ("differs": is not; none without a freezer)."""
    freezer = freezer_of(data.get("cgroup") or {})
    return [(fact, frontabi.word(freezer[1]), freezer[0])] if freezer else []


def state_sections(cid, data):
    """`state`: for each status the front end can tell from live facts, its conditions and the JSON
    Python's `state` prints in it (state.status's order: stopped, paused, created, running)."""
    from pyrunc import jsonlite, state
    alive = [_init("alive", data), *_thawed(data)]

    def answer(status):
        return [("print", frontabi.escape(jsonlite.pretty(state.oci_state(cid, data, status)) + "\n"))]
    paused = _thawed(data, "differs")
    sections = [([_init("dead", data)], answer("stopped"))]
    if paused:
        sections.append(([_init("alive", data), *paused], answer("paused")))
    return sections + [(alive + [("exists", frontabi.FIFO)], answer("created")),
                       (alive + [("absent", frontabi.FIFO)], answer("running"))]


def kill_sections(data):
    """`kill` of the init: in every status transitions.ALLOWED lets it act in (its init alive) but
    paused, whose SIGKILL also thaws the freezer (lifecycle.kill_init): that is Python's."""
    return [([_init("alive", data), *_thawed(data)], [_init("signal", data)])]


def kill_all_sections(data, driver):
    """`kill --all` of a container whose init is gone and whose cgroups hold nothing (containerd's
    shim sends it after every stop): then Python's kill_all (freeze, signal no one, thaw) and
    kill_init (no init) change nothing either, if the freezer is thawed.  Anything else is Python's."""
    return [([_init("dead", data), *_thawed(data), ("empty", driver.main_dir())], [])]


def ps_sections(driver):
    """`ps --format json`, in every status (runc lists what is left in a stopped container's cgroup):
    the pids below the directory the driver says holds them all."""
    return [([], [("pids", driver.main_dir())])]


def update_sections(data, driver):
    """`update` of FRONT_UPDATE's flags alone, where that is the whole update: the driver writes
    nothing but files (not systemd) and the saved resources stay right as they are
    (resources.front_update_exact); one `flag` step per flag the driver has a file for."""
    from pyrunc.cgroups import resources
    if not resources.front_update_exact(driver.resources):
        return []
    ops = [("flag", flag, resources.FRONT_UPDATE[flag][-1], path) for flag, path in driver.update_files().items()]
    return [([_init("alive", data)], ops)] if ops else []


def freezer_of(cg):
    """[freezer file, its content when thawed] that the cgroup driver recorded in a container's
    cgroup state, or None (no freezer)."""
    if "freezer" in cg or not cg:
        return cg.get("freezer")
    # a state.json from before drivers recorded it: ask the driver (only then loaded)
    from pyrunc import cgroups
    return cgroups.from_state(cg).freezer()


def recipe(cid, data):
    """The recipe text of a container (frontabi's format), or None when the front end has nothing to do.

    Written by state.Container.save, the one writer, each time the state is."""
    if not data or data.get("creating") or not data.get("pid"):
        return None
    sections = []
    for verb in ("start", "delete"):
        if verb == "start" and not (data.get("config") or {}).get("process"):
            continue
        ops = operations(verb, data)
        if any(op[0] not in frontabi.FRONT_STEPS for op in ops):
            continue
        sections.append((verb, conditions(verb, data), ops))
    for verb in ("pause", "resume"):
        steps_and_undo = freezer_steps(verb, data)
        if steps_and_undo:
            sections.append((verb, conditions(verb, data), *steps_and_undo))
    sections += [("state", conds, ops) for conds, ops in state_sections(cid, data)]
    sections += [("kill", conds, ops) for conds, ops in kill_sections(data)]
    cg = data.get("cgroup") or {}
    if cg.get("dirs"):          # no cgroup: `kill --all`, `ps` and `update` are Python's, which says so
        from pyrunc import cgroups
        driver = cgroups.from_state(cg)       # once, for the three verbs that ask it
        sections += [("kill-all", conds, ops) for conds, ops in kill_all_sections(data, driver)]
        sections += [("ps", conds, ops) for conds, ops in ps_sections(driver)]
        sections += [("update", conds, ops) for conds, ops in update_sections(data, driver)]
    return frontabi.format_recipe(cid, sections)
