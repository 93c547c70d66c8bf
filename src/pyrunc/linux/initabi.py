"""pyrunc-init's command line, defined once: Python builds it, the build generates csrc's header from it.

pyrunc-init (csrc/pyrunc_init.c) is exec'd as

    pyrunc-init key=value ... -- PROGRAM ARG...

with one `key=value` per entry of KEYS that is not at its default.  The
header the build writes for the C side (`header()`) holds the same keys as
an enum and string table and the same flag bits, so the two cannot drift.
This module is pure data: setup.py runs it without importing pyrunc.
"""

# key: meaning (numbers are decimal unless said; fds are pyrunc-init's own)
KEYS = {
    "mode": "init (the container's PID 1) or exec (fork the process of `exec` into the pid namespace)",
    "fifo": "fd of the exec fifo to wait on for `start` (init), -1 for none",
    "cloexec_from": "first fd that the program must not inherit",
    "flags": "sum of FLAGS",
    "uid": "uid", "gid": "gid",
    "groups": "additional gids, comma-separated (may be empty)",
    "caps": "bounding,effective,permitted,inheritable,ambient masks in hex",
    "seccomp": "fd,bpf_length,filter_flags: the BPF (then the listener message) in a sealed memfd",
    "notify": "fd,message_length,pid_offset: the listener socket; the message gets the pid at pid_offset",
    "self_pid": "init: our pid as the host sees it (for the listener message)",
    "hooks": "fd of a sealed memfd: startContainer hooks, then their state (see hooks_blob)",
    "report": "exec: fd of a memfd page where the forked process's pid or an error is written",
    "apparmor": "AppArmor profile the program is exec'd into (change-on-exec)",
    "selinux": "SELinux label the program is exec'd with",
}
FLAGS = {"NNP": 1, "USER": 2, "CAPS": 4, "SECCOMP_EARLY": 8, "SETGROUPS": 16, "TTY": 32}
REPORT_SIZE = 4096          # the report page: int32 pid, then a NUL-terminated error message
HOOK_OUTPUT_MAX = 16 << 10  # the tail of a failing hook's output kept for its error


def argv(fields, program=None, args=()):
    """pyrunc-init's argv: only the fields given, validated against KEYS; no program: wait until killed."""
    out = ["pyrunc-init"]
    for key, value in fields.items():
        if key not in KEYS:
            raise KeyError(f"pyrunc-init has no argument {key!r}")
        out.append(f"{key}={value}")
    return out + ["--"] + ([program, *args] if program else [])


def hooks_blob(hooks, state_json):
    """startContainer hooks for pyrunc-init: NUL-terminated strings, all decimal counts.

    count, then per hook: path, timeout (0: none), argc, args..., envc (-1:
    the program's environment, as runc gives hooks without env), env...;
    then the state JSON the hooks read on stdin."""
    parts = [str(len(hooks))]
    for h in hooks:
        args = h.get("args") or [h["path"]]
        env = h.get("env")
        parts += [h["path"], str(h.get("timeout") or 0), str(len(args)), *args]
        parts += ["-1"] if env is None else [str(len(env)), *env]
    return ("\0".join(parts) + "\0").encode() + state_json.encode()


def header():
    """csrc's view of this module (written by setup.py as pyrunc_init_abi.h)."""
    names = list(KEYS)
    lines = ["/* Generated from src/pyrunc/linux/initabi.py by setup.py: do not edit. */",
             "#ifndef PYRUNC_INIT_ABI_H", "#define PYRUNC_INIT_ABI_H"]
    lines += [f"#define F_{k} {v}" for k, v in FLAGS.items()]
    lines += [f"#define REPORT_SIZE {REPORT_SIZE}", f"#define HOOK_OUTPUT_MAX {HOOK_OUTPUT_MAX}"]
    lines.append("enum abi_key { " + ", ".join(f"K_{n.upper()}" for n in names) + ", K_COUNT };")
    lines.append("static const char *const abi_keys[] = { " + ", ".join(f'"{n}"' for n in names) + " };")
    lines.append("static const char *const errno_texts[] = { " + ", ".join(
        f"[{n}] = {_c_string(text)}" for n, text in errno_texts().items()) + " };")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def errno_texts():
    """{errno: its text}, as glibc words it: the words Go (runc) prints, lowercased.

    pyrunc-init reports an errno in these words, not its libc's: it is linked
    against musl (setup.py says why), whose words differ for some ("Symbolic
    link loop" for ELOOP, where runc says "too many levels of symbolic links")."""
    import errno
    import posix
    return {n: posix.strerror(n) for n in sorted(errno.errorcode)}


def _c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    import sys
    with open(sys.argv[1], "w") as f:
        f.write(header())
