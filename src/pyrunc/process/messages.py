"""The parent/child protocol: one JSON object per SOCK_SEQPACKET packet, fds by SCM_RIGHTS.

Every message is {"type": T, ...payload}.  Stage 1 (bootstrap) starts as
early as possible so that its imports overlap the parent's work: started by
the front end beside the CLI for `create` and `run` (process/early.py), a
fork of the CLI otherwise.  For `create`, stage 2 (the container's init) is a fork of stage 1
and ends by exec'ing pyrunc-init.  For `exec` there is no Python stage 2:
stage 1 joins the container, checks the process, and after COMMIT execs
pyrunc-init, which forks the process into the container's pid namespace and
reports its pid in a memfd page (process/parent.py, wait_exec).

| type           | direction          | when                                        | payload            | fds              |
|----------------|--------------------|---------------------------------------------|--------------------|------------------|
| BOOTSTRAP      | parent -> stage 1  | the plan is ready (stage 1 started early, to import while the parent works) | fd slots | the plan (sealed memfd), then the plan's fds |
| USERNS         | stage 1 -> parent  | create: stage 1 unshared a user namespace   |                    |                  |
| USERNS_MAPPED  | parent -> stage 1  | uid_map/gid_map (and setgroups) written     |                    |                  |
| HOST_PID       | stage 1 -> stage 2 | create: right after the fork (stage 2 cannot know it inside a pid namespace) | pid |  |
| INIT_PID       | stage 1 -> parent  | create: stage 2 forked; stage 1 then exits  | pid (host)         | stage-2 channel  |
| MOUNT_SOURCE   | stage 2 -> parent  | create, in a user namespace: a bind source it may not reach, or an idmapped one (linux/mountsrc.py) | mount index | |
| MOUNT_FD       | parent -> stage 2  | the source opened in stage 2's mount namespace with the host's credentials | error, if it failed | the fd |
| RUNTIME_SETUP  | stage 2 -> parent  | create: mounts done, before pivot_root      | hook kinds to run  |                  |
| SETUP_DONE     | parent -> stage 2  | netDevices moved, prestart and createRuntime hooks succeeded |   |                  |
| READY          | stage 2 -> parent  | create: fully set up, about to exec pyrunc-init (which waits on exec.fifo); exec: stage 1 joined and checked the process |  |  |
| COMMIT         | parent -> stage 2  | state.json and the pid file are written (exec: stage 1 may exec pyrunc-init) |  |   |
| ERROR          | stage -> parent    | any failure; the stage then exits           | msg                |                  |

A stage that sees EOF before COMMIT exits at once, so a killed parent never
leaves an init behind; the parent reads EOF before READY as "init exited".
After COMMIT the stage execs pyrunc-init, which waits for `start` (create)
or forks the process (exec).
"""
from pyrunc.errors import Error

BOOTSTRAP = "BOOTSTRAP"
USERNS = "USERNS"
USERNS_MAPPED = "USERNS_MAPPED"
HOST_PID = "HOST_PID"
INIT_PID = "INIT_PID"
MOUNT_SOURCE = "MOUNT_SOURCE"
MOUNT_FD = "MOUNT_FD"
RUNTIME_SETUP = "RUNTIME_SETUP"
SETUP_DONE = "SETUP_DONE"
READY = "READY"
COMMIT = "COMMIT"
ERROR = "ERROR"


def ready_then_commit(chan, marks):
    """A stage's last exchange before its exec: READY (with its trace marks), then wait for COMMIT."""
    chan.send(READY, marks=marks)
    msg, _ = chan.recv()
    if msg["type"] != COMMIT:
        raise Error(f"unexpected message {msg['type']}")
    chan.close()
