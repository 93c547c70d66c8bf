"""The hand-over to pyrunc-init (init process): its argv, then execveat through the sealed fd.

pyrunc-init (csrc/pyrunc_init.c) documents the argv layout; it applies the
identity and seccomp and execs the container's program, so that no Python
runs once the filter is loaded and /proc/self/exe is never the host's Python.
"""
import os

from pyrunc._native import ffi, lib
from pyrunc.linux.syscalls import AT_EMPTY_PATH, check

F_NNP = 1
F_USER = 2
F_CAPS = 4
F_SECCOMP_EARLY = 8
F_SETGROUPS = 16
CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def init_argv(p, path, first_cloexec, fifo_fd=-1, setgroups=True, blob_fd=-1, bpf_len=0,
              seccomp_flags=0, notify_fd=-1, notify_len=0):
    caps = p["caps"]
    flags = F_USER
    if p["nnp"]:
        flags |= F_NNP
    if caps is not None:
        flags |= F_CAPS
    if blob_fd >= 0 and not p["nnp"]:
        flags |= F_SECCOMP_EARLY
    if setgroups:
        flags |= F_SETGROUPS
    masks = [caps[s] for s in CAP_SETS] if caps is not None else [0] * 5
    return (["pyrunc-init", str(fifo_fd), str(first_cloexec), str(flags), str(p["uid"]), str(p["gid"]),
             ",".join(str(g) for g in p["groups"])] + [format(m, "x") for m in masks]
            + [str(blob_fd), str(bpf_len), str(seccomp_flags), str(notify_fd), str(notify_len), path]
            + list(p["args"]))


def exec_init(sealed_fd, argv, env, pass_fds=()):
    """Replace this process with pyrunc-init; returns only by raising OSError.

    execveat directly: os.execve wants the environment as a mapping, which
    would lose the order and duplicates of process.env."""
    for fd in pass_fds:
        if fd >= 0:
            os.set_inheritable(fd, True)
    keep = [ffi.new("char[]", s.encode()) for s in argv + env]
    c_argv = ffi.new("char *[]", keep[:len(argv)] + [ffi.NULL])
    c_envp = ffi.new("char *[]", keep[len(argv):] + [ffi.NULL])
    check(lib.pr_execveat(sealed_fd, b"", c_argv, c_envp, AT_EMPTY_PATH), "execveat pyrunc-init")
