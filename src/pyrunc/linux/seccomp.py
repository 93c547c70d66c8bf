"""linux.seccomp: the profile -> rules plan (CLI, pure), its fds (CLI) and pyrunc-init's seccomp values (init process).

The plan follows runc (libcontainer/specconv SetupSeccomp and
libcontainer/seccomp InitSeccomp): one rule per syscall name; a rule whose
action equals the default action is dropped; conditions on distinct
arguments are AND'd into one rule, but when two conditions name the same
argument each becomes a rule of its own (OR'd); KILL is KILL_THREAD;
ERRNO and TRACE default to EPERM.  seccompbpf.py turns the plan into BPF
with libseccomp; pyrunc-init loads it (csrc/pyrunc_init.c).
"""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import OCI_VERSION, jsonlite
from pyrunc.errors import BadConfig, Error, Problem

# libseccomp's action values (seccomp.h); ERRNO and TRACE carry the errno in the low 16 bits
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,           # = KILL_THREAD, as runc maps it
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
ACT_ERRNO = ACTIONS["SCMP_ACT_ERRNO"]
EPERM = 1
ENOSYS = 38
MAX_ERRNO = 4095                           # the kernel clamps larger SECCOMP_RET_ERRNO data to this
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
             "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
MAX_ARGS = 6
# runtime-spec's architectures -> libseccomp's names (seccomp_arch_resolve_name);
# whether this libseccomp knows one is checked when compiling
ARCHS = {
    "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "aarch64",
    "SCMP_ARCH_MIPS": "mips", "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_MIPS64N32": "mips64n32",
    "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPSEL64": "mipsel64", "SCMP_ARCH_MIPSEL64N32": "mipsel64n32",
    "SCMP_ARCH_PPC": "ppc", "SCMP_ARCH_PPC64": "ppc64", "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_S390": "s390", "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_PARISC": "parisc", "SCMP_ARCH_PARISC64": "parisc64",
    "SCMP_ARCH_RISCV64": "riscv64", "SCMP_ARCH_LOONGARCH64": "loongarch64",
    "SCMP_ARCH_M68K": "m68k", "SCMP_ARCH_SH": "sh", "SCMP_ARCH_SHEB": "sheb",
}
# seccomp(2) filter flags; TSYNC is accepted and ignored, as runc does: the
# filter is loaded by single-threaded pyrunc-init, and the kernel refuses
# TSYNC together with NEW_LISTENER
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 0,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 1 << 5,
}
FLAG_NEW_LISTENER = 1 << 3
# Syscalls pyrunc-init makes between loading a NOTIFY filter and handing the
# listener over: notifying them would block forever (runc refuses `write`
# for the same reason).
NOT_NOTIFIABLE = ("write", "sendmsg")
# For `exec`, pyrunc-init can send the listener only once it has forked the
# process (the message carries its pid): it makes these in between.
EXEC_NOT_NOTIFIABLE = ("prctl", "setgroups", "setresgid", "setresuid", "capset", "clone")
# More rules than this: libseccomp's binary-tree optimisation (runc's threshold)
OPTIMIZE_ABOVE = 32


def _action(name, errno_ret):
    value = ACTIONS[name]
    if name in WITH_ERRNO:
        value |= EPERM if errno_ret is None else errno_ret
    return value


def check(sc, where="/linux/seccomp"):
    """Every problem of a typed linux.seccomp object, as Problems (pure)."""
    problems = []
    if not sc.get("defaultAction") and not sc.get("syscalls"):
        return problems                    # runc: no default action and no rules = no seccomp
    default = sc.get("defaultAction", "")
    if default not in ACTIONS:
        problems.append(Problem(f"{where}/defaultAction", f"unknown action {default!r}" if default else "required"))
    elif default == "SCMP_ACT_NOTIFY":
        problems.append(Problem(f"{where}/defaultAction", "SCMP_ACT_NOTIFY cannot be the default action"))
    _check_errno(sc, "defaultErrnoRet", default, f"{where}/defaultErrnoRet", problems)
    for i, arch in enumerate(sc.get("architectures", ())):
        if arch not in ARCHS:
            problems.append(Problem(f"{where}/architectures/{i}", f"unknown architecture {arch!r}"))
    for i, flag in enumerate(sc.get("flags", ())):
        if flag not in FLAGS:
            problems.append(Problem(f"{where}/flags/{i}", f"unknown seccomp flag {flag!r}"))
    notify = False
    for i, rule in enumerate(sc.get("syscalls", ())):
        at = f"{where}/syscalls/{i}"
        action = rule.get("action", "")
        if action not in ACTIONS:
            problems.append(Problem(f"{at}/action", f"unknown action {action!r}" if action else "required"))
        _check_errno(rule, "errnoRet", action, f"{at}/errnoRet", problems)
        names = rule.get("names", ())
        if not names:
            problems.append(Problem(f"{at}/names", "must name at least one syscall"))
        for j, name in enumerate(names):
            if not name:
                problems.append(Problem(f"{at}/names/{j}", "empty syscall name"))
        if action == "SCMP_ACT_NOTIFY":
            notify = True
            for name in names:
                if name in NOT_NOTIFIABLE:
                    problems.append(Problem(at, f"SCMP_ACT_NOTIFY cannot be used for the {name} syscall"))
        for j, arg in enumerate(rule.get("args", ())):
            if "index" not in arg:
                problems.append(Problem(f"{at}/args/{j}/index", "required"))
            elif arg["index"] >= MAX_ARGS:
                problems.append(Problem(f"{at}/args/{j}/index", f"{arg['index']} is not an argument index (0-5)"))
            if "value" not in arg:
                problems.append(Problem(f"{at}/args/{j}/value", "required"))
            op = arg.get("op", "")
            if op not in OPERATORS:
                problems.append(Problem(f"{at}/args/{j}/op", f"unknown operator {op!r}" if op else "required"))
    if notify and not sc.get("listenerPath"):
        problems.append(Problem(f"{where}/listenerPath", "required by SCMP_ACT_NOTIFY"))
    if sc.get("listenerPath") and not sc["listenerPath"].startswith("/"):
        problems.append(Problem(f"{where}/listenerPath", f"{sc['listenerPath']!r} is not an absolute path"))
    if sc.get("listenerMetadata") and not sc.get("listenerPath"):
        problems.append(Problem(f"{where}/listenerMetadata", "given without listenerPath"))
    if "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" in sc.get("flags", ()) and not notify:
        problems.append(Problem(f"{where}/flags",
                                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule"))
    return problems


def compile_problems(sc):
    """What libseccomp or this kernel refuses of a checked profile: create's compiler, without its cache."""
    p = plan(sc)
    if p is None:
        return []
    from pyrunc.linux import seccompbpf
    try:
        seccompbpf.filter_flags(p)
        seccompbpf.compile_program(p)
    except BadConfig as e:
        return list(e.problems) or [Problem("/linux/seccomp", str(e))]
    except Error as e:
        return [Problem("/linux/seccomp", str(e))]
    return []


def exec_problems(sc):
    """Why `exec` cannot load this (checked) profile, or []: it notifies what pyrunc-init does before the hand-over."""
    return [f"the seccomp profile notifies {name}, which pyrunc-init calls before the listener reaches the agent"
            for rule in (sc or {}).get("syscalls", ()) if rule.get("action") == "SCMP_ACT_NOTIFY"
            for name in rule.get("names", ()) if name in EXEC_NOT_NOTIFIABLE]


def _check_errno(obj, key, action, at, problems):
    if key not in obj:
        return
    if action in ACTIONS and action not in WITH_ERRNO:
        # runtime-spec: "When the action doesn't support an errno, the runtime MUST print an error and fail."
        problems.append(Problem(at, f"{action} takes no errno"))
    elif obj[key] > MAX_ERRNO:
        problems.append(Problem(at, f"{obj[key]} is not an errno (0-{MAX_ERRNO})"))


def plan(sc):
    """The filter to build from a checked linux.seccomp object (pure), or None for no filter.

    flags is None when the profile has no "flags": the compiler then adds
    SPEC_ALLOW if the kernel supports it (runc >= 1.2)."""
    if not sc or (not sc.get("defaultAction") and not sc.get("syscalls")):
        return None
    default = _action(sc["defaultAction"], sc.get("defaultErrnoRet"))
    rules, names = [], []
    for entry in sc.get("syscalls", ()):
        action = _action(entry["action"], entry.get("errnoRet"))
        conds = [[a["index"], OPERATORS[a["op"]], a["value"], a.get("valueTwo", 0)] for a in entry.get("args", ())]
        indexes = [c[0] for c in conds]
        if len(set(indexes)) < len(indexes):
            groups = [[c] for c in conds]  # runc: a repeated argument makes each condition its own rule
        else:
            groups = [conds]
        for name in entry["names"]:
            names.append(name)
            if action != default:          # runc skips rules that change nothing
                rules.append([name, action, groups])
    notify = any(e["action"] == "SCMP_ACT_NOTIFY" for e in sc.get("syscalls", ()))
    flags = None
    if "flags" in sc:
        flags = sorted(set(f for f in sc["flags"] if FLAGS[f]), key=list(FLAGS).index)
    return {
        "default": default,
        "archs": [ARCHS[a] for a in sc.get("architectures", ())],
        "flags": flags,
        "rules": rules,
        "optimize": len(names) > OPTIMIZE_ABOVE,
        # runc's -ENOSYS stub: unless the default action lets calls through (or already gives ENOSYS)
        "enosys_stub": (default & 0xFFFF0000) not in (ACTIONS["SCMP_ACT_ALLOW"], ACTIONS["SCMP_ACT_LOG"],
                                                      ACTIONS["SCMP_ACT_TRACE"]) and default != ACT_ERRNO | ENOSYS,
        "stub_names": sorted(set(names)),
        "notify": notify,
        "listener": sc.get("listenerPath", "") if notify else "",
        "metadata": sc.get("listenerMetadata", ""),
    }


def features():
    """What `features` reports under linux.seccomp, and its libseccomp annotation."""
    from pyrunc.linux import seccompbpf
    return ({"enabled": True,
             "actions": sorted(ACTIONS),
             "operators": sorted(OPERATORS),
             "archs": sorted(a for a, name in ARCHS.items() if seccompbpf.arch_known(name)),
             "knownFlags": list(FLAGS),
             "supportedFlags": [f for f in FLAGS if seccompbpf.flag_supported(f)]},
            {"io.github.seccomp.libseccomp.version": seccompbpf.libseccomp_version()})


# ------------------------------------------------------------------ CLI: create and exec

def prepare(profile, root):
    """The filter of a process: (the plan's "seccomp" entry, BPF bytes), or (None, b"") without one.

    Compiles (or takes from the cache under root) before anything is
    opened; raises BadConfig for what libseccomp or the kernel refuses.
    libseccomp is loaded only here, for configs that have a filter."""
    p = plan(profile)
    if p is None:
        return None, b""
    from pyrunc.linux import seccompbpf
    return seccompbpf.prepare(p, root)


def attach(proc_plan, entry, bpf, keep_fds):
    """Put the filter into a plan whose "fds" exist: a sealed memfd of the BPF and, for
    SCMP_ACT_NOTIFY, a socket connected to listenerPath now (a missing listener fails here,
    not when the process starts).  New fds are appended to keep_fds, which the caller closes."""
    proc_plan["seccomp"] = entry
    fds = proc_plan["fds"]
    fds["seccomp"] = fds["seccomp_notify"] = -1
    if entry is None:
        return
    from pyrunc.linux import memfd
    fds["seccomp"] = memfd.sealed(bpf, "pyrunc-seccomp")
    keep_fds.append(fds["seccomp"])
    if entry["listener"]:
        try:
            from pyrunc import unixsock
            fds["seccomp_notify"] = unixsock.connect(entry["listener"])
        except Error as e:
            raise Error(f"failed to connect with seccomp agent specified in the seccomp profile: {e}") from None
        keep_fds.append(fds["seccomp_notify"])


# ------------------------------------------------------------------ init process

def handover(proc_plan, state=None):
    """pyrunc-init's seccomp fields (initabi: seccomp, notify) and the fds it must inherit.

    state: the container's state for a listener (SCMP_ACT_NOTIFY only).
    With a listener the blob becomes a new sealed memfd holding the BPF
    followed by runtime-spec's container process state message
    (config-linux.md) without its pid: pyrunc-init writes the pid of the
    process the filter is for at `pid_offset` when it sends the message
    with the listener fd (exec's process is forked only then)."""
    from pyrunc.linux import memfd
    entry = proc_plan.get("seccomp")
    if entry is None:
        return {}, []
    blob, notify = proc_plan["fds"]["seccomp"], proc_plan["fds"]["seccomp_notify"]
    if notify < 0:
        return {"seccomp": f"{blob},{entry['bpf_len']},{entry['flags']}"}, [blob]
    if state is None:
        raise Error("internal error: a seccomp listener without the container's state")
    msg = {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": 0}
    if entry["metadata"]:
        msg["metadata"] = entry["metadata"]
    msg["state"] = state
    text = jsonlite.dumps(msg)
    pid_offset = text.index('"pid":0') + len('"pid":')
    data = (text[:pid_offset] + text[pid_offset + 1:]).encode()
    blob = memfd.sealed(oslite.pread(blob, entry["bpf_len"], 0) + data, "pyrunc-seccomp")
    return ({"seccomp": f"{blob},{entry['bpf_len']},{entry['flags']}",
             "notify": f"{notify},{len(data)},{pid_offset}"}, [blob, notify])
