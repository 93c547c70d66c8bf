"""The steps of `start` and `delete` (CLI process): one definition, run by Python and by the front end.

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
    for delete; every other status goes to Python, which words the refusal or does more)."""
    alive = ("alive", data["pid"], data["pid_start"])
    if verb == "start":
        conds = [alive]
        freezer = freezer_of(data.get("cgroup") or {})
        if freezer:
            conds.append(("equals", freezer[1], freezer[0]))
        return conds        # and the fifo exists: fifo-start fails without it
    if verb == "delete":
        return [("dead", data["pid"], data["pid_start"])]
    raise ValueError(verb)


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
    for verb in frontabi.VERBS:
        if verb == "start" and not (data.get("config") or {}).get("process"):
            continue
        ops = operations(verb, data)
        if any(op[0] not in frontabi.FRONT_STEPS for op in ops):
            continue
        sections.append((verb, conditions(verb, data), ops))
    return frontabi.format_recipe(cid, sections)
