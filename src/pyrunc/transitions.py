"""Which verb may act on a container in which status, and runc's words when it may not (CLI process).

The one table of the lifecycle's allowed transitions (youki's
container/state.rs is the model): every verb asks `require` before it acts,
and the front end's recipes (steps.py) are derived from it, so a rule
changed here changes both.  Statuses are state.Container.status()'s:
creating, created, running, paused, stopped.
"""
from pyrunc.errors import WrongState

STATUSES = ("creating", "created", "running", "paused", "stopped")

# verb -> the statuses it may act in
ALLOWED = {
    "start": {"created"},
    "kill": {"created", "running", "paused"},
    "kill --all": set(STATUSES),
    "delete": {"creating", "created", "stopped"},      # a created init is killed, as runc does
    "delete --force": set(STATUSES),
    "exec": {"created", "running"},
    "exec --ignore-paused": {"created", "running", "paused"},
    "pause": {"created", "running"},
    "resume": {"paused"},
    "update": {"creating", "created", "running", "paused"},
    "ps": set(STATUSES),        # runc lists what is left in a stopped container's cgroup
    "events": {"creating", "created", "running", "paused"},     # and events --stats
}

# (verb, status) -> the refusal, in runc's words ({id} and {status} are filled in)
REFUSALS = {
    ("start", "creating"): "cannot start a container that is still being created",
    ("start", "running"): "cannot start an already running container",
    ("start", "paused"): "cannot start a paused container",
    ("start", "stopped"): "cannot start a container that has stopped",
    ("kill", "creating"): "container not running",
    ("kill", "stopped"): "container not running",
    ("delete", "running"): "cannot delete container {id} that is not stopped: {status}",
    ("delete", "paused"): "cannot delete container {id} that is not stopped: {status}",
    ("exec", "creating"): "cannot exec in a container that is still being created",
    ("exec", "stopped"): "cannot exec in a stopped container",
    ("exec", "paused"): "cannot exec in a paused container (use --ignore-paused to override)",
    ("exec --ignore-paused", "creating"): "cannot exec in a container that is still being created",
    ("exec --ignore-paused", "stopped"): "cannot exec in a stopped container",
    ("pause", "creating"): "container not running",
    ("pause", "paused"): "container not running",
    ("pause", "stopped"): "container not running",
    ("resume", "creating"): "container not paused",
    ("resume", "created"): "container not paused",
    ("resume", "running"): "container not paused",
    ("resume", "stopped"): "container not paused",
    ("update", "stopped"): "container not running",
    ("events", "stopped"): "container with id {id} is not running",
}


def allowed(verb, status):
    return status in ALLOWED[verb]


def require(verb, status, cid):
    """Raise WrongState with runc's words unless `verb` may act on a container in `status`."""
    if status not in ALLOWED[verb]:
        raise WrongState(REFUSALS[(verb, status)].format(id=cid, status=status))
