"""The front end's interface, defined once (CLI process; the build generates csrc's header from it).

The installed `pyrunc` (csrc/pyrunc_front.c) does the verbs of VERBS on a
container itself when the container's recipe says how, and hands every
other call to the Python CLI.  Python writes the recipe (steps.recipe, from
state.Container.save); the front end only interprets it.

Where it is: <root>/<id>/recipe, root being --root or DEFAULT_ROOT.  Before
it reads the recipe, the front end takes the container's lock as Python
does: flock(LOCK_EX) on an fd of the state directory, opened with
O_NOFOLLOW; the lock fd is close-on-exec, so handing over releases it.

Format, version VERSION, one item per line, fields separated by one space,
the last field running to the end of the line (paths may hold spaces; a
state with a newline in a field gets no recipe):

    pyrunc-recipe VERSION
    id ID
    verb VERB                (a section: one of VERBS)
    if CONDITION ARGS...     every one must hold, else the next section of the verb
    do STEP ARGS...          run in order; a failure hands over (steps.py says what each does)
    undo STEP ARGS...        only `write`: run (failures ignored) when a step fails, before handing over
    end

A verb may have several sections: the front end runs the first whose
conditions all hold, and hands over if none does.  Conditions: `alive PID
START` (the process PID exists, is not a zombie, and started at START clock
ticks), `dead PID START` (not so), `equals TEXT PATH` (the file holds TEXT,
trailing whitespace aside), `differs TEXT PATH` (the file can be read and
does not hold TEXT), `exists NAME` / `absent NAME` (a file of the state
directory), `empty DIR` (the cgroup DIR exists and neither it nor a cgroup
below it holds a process).  `state` reads the recipe without the lock, as Python's
`state` reads state.json (both are replaced by rename, never rewritten).
`delete --force` of an id that has no directory succeeds at once, as
Python's lifecycle.delete, unless the root holds a create's temporary
(TEMPORARY...), which Python sweeps.  `kill ID [SIGNAL]` is the front end's only when SIGNAL is absent (SIGTERM) or
a number from 0 to SIGNAL_MAX, which parse_signal takes as itself; any
other spelling goes to Python; `kill --all ID [SIGNAL]` (or `-a`) runs the
sections of `kill-all` (a name no call can give: the front end hands a
verb `kill-all` to Python), and of an id that has no directory succeeds at
once, as Python's; `ps` is the front end's only as `ps --format
json ID` (or `-f json`); `pause ID` and `resume ID` take no flags;
`update ID` only flags `--NAME VALUE` or `--NAME=VALUE`, at least one, each
once, before or after the id, each named by a `flag NAME KIND PATH` step of
the section whose conditions hold and with a value of its KIND: `natural`, 1
to 18 decimal digits without a leading zero, or `line`, a non-empty line.  A
`print` step's text escapes backslash and newline as \\\\ and \\n (see
escape); the TEXT and LINE of `write`, `equals`, `differs` and `await`, which
are not last on their line, also escape space as \\s (see word).  The front end refuses
(hands over) a recipe of another version, an id other than the one it was
called with, an unknown condition or step, or anything it cannot parse.
For `create` and `run`, the front end also starts the bootstrap process
(lib/pyrunc/BOOTSTRAP_SCRIPT PARENT_PID FD) before it execs the CLI, and
tells the CLI in EARLY_BOOTSTRAP_ENV ("PID,FD", its end of their socket
pair): process/early.py.
This module is pure data: setup.py runs it without importing pyrunc.
"""
import _signal

VERSION = 4
RECIPE = "recipe"
FIFO = "exec.fifo"
START_TRACE = "trace.start"      # the marks of a start, written by whoever ran it
DEFAULT_ROOT = "/run/pyrunc"
TEMPORARY = "@creating."
BOOTSTRAP_SCRIPT = "pyrunc-bootstrap"
EARLY_BOOTSTRAP_ENV = "PYRUNC_EARLY_BOOTSTRAP"         # a create's directory before its rename to the id (state.reserve)
VERBS = ("start", "delete", "state", "kill", "ps", "pause", "resume", "update", "kill-all")   # kill-all: `kill --all`'s sections
CONDITIONS = ("alive", "dead", "equals", "differs", "exists", "absent", "empty")
FRONT_STEPS = ("fifo-start", "trace-start", "rmdir", "remove-state", "print", "signal", "pids", "write", "await",
               "flag")
FLAG_KINDS = ("natural", "line")   # a `flag` step's values: cgroups.resources.FRONT_UPDATE says which
AWAIT_MS = 1000          # the front end's `await`: then it undoes and hands over (Python waits 10 s)
SIGNAL_MAX = _signal.SIGRTMAX
DEFAULT_SIGNAL = _signal.SIGTERM


def escape(text):
    """A text as one recipe field (the front end's unescape is its inverse)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def word(text):
    """A text as a recipe field that is not the last of its line."""
    return escape(text).replace(" ", "\\s")


def format_recipe(cid, sections):
    """The recipe text: sections are (verb, conditions, steps[, undo steps]); None if a field holds
    a newline."""
    lines = [f"pyrunc-recipe {VERSION}", f"id {cid}"]
    for verb, conds, ops, *undo in sections:
        lines.append(f"verb {verb}")
        lines += ["if " + " ".join(str(x) for x in c) for c in conds]
        lines += ["do " + " ".join(str(x) for x in op) for op in ops]
        lines += ["undo " + " ".join(str(x) for x in op) for op in (undo[0] if undo else ())]
    lines.append("end")
    if any("\n" in line for line in lines):
        return None
    return "".join(line + "\n" for line in lines)


def header():
    """csrc's view of this module (written by setup.py as pyrunc_front_abi.h)."""
    def cstr(s):
        return '"' + s + '"'
    lines = ["/* Generated from src/pyrunc/frontabi.py by setup.py: do not edit. */",
             "#ifndef PYRUNC_FRONT_ABI_H", "#define PYRUNC_FRONT_ABI_H",
             f"#define RECIPE_VERSION {VERSION}", f"#define RECIPE_FILE {cstr(RECIPE)}",
             f"#define START_TRACE_FILE {cstr(START_TRACE)}", f"#define DEFAULT_ROOT {cstr(DEFAULT_ROOT)}",
             f"#define TEMPORARY {cstr(TEMPORARY)}", f"#define BOOTSTRAP_SCRIPT {cstr(BOOTSTRAP_SCRIPT)}",
             f"#define EARLY_BOOTSTRAP_ENV {cstr(EARLY_BOOTSTRAP_ENV)}",
             f"#define SIGNAL_MAX {SIGNAL_MAX}", f"#define DEFAULT_SIGNAL {DEFAULT_SIGNAL}",
             f"#define AWAIT_MS {AWAIT_MS}"]
    for group, names in (("COND", CONDITIONS), ("STEP", FRONT_STEPS), ("VERB", VERBS), ("KIND", FLAG_KINDS)):
        ids = [f"{group}_{n.upper().replace('-', '_')}" for n in names]
        lines.append(f"enum {group.lower()} {{ " + ", ".join(ids) + f", {group}_COUNT }};")
        lines.append(f"static const char *const {group.lower()}_names[] = {{ "
                     + ", ".join(cstr(n) for n in names) + " };")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys
    with open(sys.argv[1], "w") as f:
        f.write(header())
