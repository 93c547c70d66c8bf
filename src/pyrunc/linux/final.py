"""The hand-over to pyrunc-init (init process, exec's stage 1): its identity fields, then execveat through the sealed fd.

pyrunc-init (csrc/pyrunc_init.c) applies the identity and seccomp and
execs the container's program, so that no Python runs once the filter is
loaded and no process in the container has the host's Python as its exe.
Its argv keys are defined in initabi.
"""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc._native import ffi, lib
from pyrunc.linux import initabi
from pyrunc.linux.syscalls import AT_EMPTY_PATH, check

CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def identity_fields(p, cloexec_from, setgroups=True, seccomp=False):
    """pyrunc-init's fields for process p's identity; seccomp: a filter comes with it."""
    flags = initabi.FLAGS["USER"]
    if p["nnp"]:
        flags |= initabi.FLAGS["NNP"]
    caps = p["caps"]
    if caps is not None:
        flags |= initabi.FLAGS["CAPS"]
    if seccomp and not p["nnp"]:
        flags |= initabi.FLAGS["SECCOMP_EARLY"]
    if setgroups:
        flags |= initabi.FLAGS["SETGROUPS"]
    fields = {"cloexec_from": cloexec_from, "flags": flags, "uid": p["uid"], "gid": p["gid"],
              "groups": ",".join(str(g) for g in p["groups"])}
    if caps is not None:
        fields["caps"] = ",".join(format(caps[s], "x") for s in CAP_SETS)
    return fields


def label_fields(p):
    """pyrunc-init's fields for the LSM labels it writes, change-on-exec, before the program's execve."""
    return {k: v for k, v in (("apparmor", p["apparmor_profile"]), ("selinux", p["selinux_label"])) if v}


def exec_init(sealed_fd, argv, env, pass_fds=()):
    """Replace this process with pyrunc-init; returns only by raising OSError.

    execveat directly: os.execve wants the environment as a mapping, which
    would lose the order and duplicates of process.env."""
    for fd in pass_fds:
        if fd >= 0:
            oslite.set_inheritable(fd, True)
    keep = [ffi.new("char[]", s.encode()) for s in argv + env]
    c_argv = ffi.new("char *[]", keep[:len(argv)] + [ffi.NULL])
    c_envp = ffi.new("char *[]", keep[len(argv):] + [ffi.NULL])
    check(lib.pr_execveat(sealed_fd, b"", c_argv, c_envp, AT_EMPTY_PATH), "execveat pyrunc-init")
