"""linux/seccomp.py and seccompbpf.py: checks, runc's rule semantics, the compiled program (run in a BPF
interpreter), runc's -ENOSYS stub, the cache and the listener message; libseccomp is needed, root is not."""
import json
import os

import pytest

from pyrunc.errors import BadConfig, Error
from pyrunc.linux import seccomp, seccompbpf
from tests.support import cbpf
from tests.support.bundle import real_profile

X86_64, I386, AARCH64 = 0xC000003E, 0x40000003, 0xC00000B7
X32_BIT = 1 << 30
ALLOW, LOG, NOTIFY, TRAP = 0x7FFF0000, 0x7FFC0000, 0x7FC00000, 0x00030000
KILL_THREAD, KILL_PROCESS = 0, 0x80000000
NR = {"read": 0, "write": 1, "getcwd": 79, "mkdir": 83, "personality": 135, "clone": 56, "mkdirat": 258,
      "clone3": 435, "fchmodat2": 452, "socket": 41, "chmod": 90}


def errno(n):
    return 0x50000 | n


def compiled(profile):
    problems = seccomp.check(profile)
    assert problems == []
    return seccompbpf.compile_program(seccomp.plan(profile))


def allow_but(*rules, **extra):
    return dict({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                 "syscalls": list(rules)}, **extra)


# ------------------------------------------------------------------ check: bad input

@pytest.mark.parametrize("profile,expect", [
    ({"defaultAction": "SCMP_ACT_BOGUS"}, "/linux/seccomp/defaultAction: unknown action 'SCMP_ACT_BOGUS'"),
    ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, "/linux/seccomp/defaultAction: required"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}, "SCMP_ACT_NOTIFY cannot be the default"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]},
     "/linux/seccomp/architectures/0: unknown architecture 'SCMP_ARCH_VAX'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FOO"]},
     "/linux/seccomp/flags/0: unknown seccomp flag"),
    (allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}),
     "/linux/seccomp/syscalls/0/args/0/op: unknown operator 'SCMP_CMP_XX'"),
    (allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}),
     "/linux/seccomp/syscalls/0/args/0/index: 6 is not an argument index"),
    (allow_but({"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 5}),
     "/linux/seccomp/syscalls/0/errnoRet: SCMP_ACT_KILL takes no errno"),
    (allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}),
     "/linux/seccomp/syscalls/0/errnoRet: 5000 is not an errno"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 3}, "/linux/seccomp/defaultErrnoRet: SCMP_ACT_ALLOW takes no errno"),
    (allow_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}), "/linux/seccomp/listenerPath: required by SCMP_ACT_NOTIFY"),
    (allow_but({"names": ["write"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="/run/l.sock"),
     "SCMP_ACT_NOTIFY cannot be used for the write syscall"),
    (allow_but({"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="/run/l.sock"),
     "SCMP_ACT_NOTIFY cannot be used for the sendmsg syscall"),
    (allow_but(listenerMetadata="x"), "/linux/seccomp/listenerMetadata: given without listenerPath"),
    (allow_but({"names": [], "action": "SCMP_ACT_ERRNO"}), "/linux/seccomp/syscalls/0/names: must name at least one"),
    (allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}, flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]),
     "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule"),
])
def test_bad_profiles(profile, expect):
    problems = seccomp.check(profile)
    assert any(expect in p for p in problems), problems


def test_all_problems_at_once():
    p = seccomp.check(allow_but({"names": ["a"], "action": "X"}, {"names": ["b"], "action": "SCMP_ACT_ERRNO",
                                                                   "args": [{"index": 9, "value": 0, "op": "Y"}]}))
    assert len(p) == 3


def test_empty_profile_is_no_filter(tmp_path):
    assert seccomp.check({}) == [] and seccomp.plan({}) is None and seccomp.plan(None) is None
    assert seccomp.prepare({"architectures": ["SCMP_ARCH_X86_64"]}, str(tmp_path)) == (None, b"")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ plan: runc's semantics

def test_plan_rules():
    p = seccomp.plan({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},                          # = default: dropped
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},          # = default too
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_NE"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_TRACE"},
        ]})
    assert p["default"] == errno(1)
    rules = {name: (action, groups) for name, action, groups in p["rules"]}
    assert set(rules) == {"read", "write", "getcwd", "socket", "personality", "clone"}
    assert rules["getcwd"] == (errno(5), [[]])
    assert rules["socket"] == (ALLOW, [[[0, 4, 1, 0], [1, 1, 2, 0]]])              # AND: one rule
    assert rules["personality"] == (ALLOW, [[[0, 4, 0, 0]], [[0, 4, 8, 0]]])     # same arg: OR
    assert rules["clone"] == (0x7FF00000 | 1, [[]])                                # TRACE defaults to EPERM
    assert p["stub_names"] == sorted(["read", "write", "mkdir", "chmod", "getcwd", "socket", "personality", "clone"])
    assert p["enosys_stub"] and not p["optimize"] and p["flags"] is None and not p["notify"]


def test_plan_flags_and_stub_choice():
    assert seccomp.plan(allow_but(flags=[]))["flags"] == []
    assert seccomp.plan(allow_but(flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"]))["flags"] == \
        ["SECCOMP_FILTER_FLAG_LOG"]
    for default, stub in (("SCMP_ACT_ALLOW", False), ("SCMP_ACT_LOG", False), ("SCMP_ACT_TRACE", False),
                          ("SCMP_ACT_KILL", True), ("SCMP_ACT_ERRNO", True)):
        assert seccomp.plan({"defaultAction": default})["enosys_stub"] is stub
    assert seccomp.plan({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38})["enosys_stub"] is False
    many = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [f"n{i}" for i in range(33)], "action": "SCMP_ACT_ALLOW"}]}
    assert seccomp.plan(many)["optimize"]


def test_filter_flags():
    assert seccompbpf.filter_flags(seccomp.plan(allow_but())) == 4          # SPEC_ALLOW when "flags" is absent
    assert seccompbpf.filter_flags(seccomp.plan(allow_but(flags=[]))) == 0
    assert seccompbpf.filter_flags(seccomp.plan(allow_but(flags=["SECCOMP_FILTER_FLAG_LOG"]))) == 2
    notify = allow_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="/l",
                       flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"])
    assert seccompbpf.filter_flags(seccomp.plan(notify)) == 8 | 32


# ------------------------------------------------------------------ the compiled program

def test_errno_and_actions():
    prog = compiled(allow_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100},
                              {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
                              {"names": ["chmod"], "action": "SCMP_ACT_KILL"},
                              {"names": ["socket"], "action": "SCMP_ACT_KILL_PROCESS"},
                              {"names": ["clone"], "action": "SCMP_ACT_TRAP"},
                              {"names": ["personality"], "action": "SCMP_ACT_LOG"},
                              {"names": ["no_such_syscall_here"], "action": "SCMP_ACT_ERRNO"}))
    assert cbpf.run(prog, NR["mkdir"], X86_64) == errno(100)
    assert cbpf.run(prog, NR["mkdirat"], X86_64) == errno(100)
    assert cbpf.run(prog, NR["getcwd"], X86_64) == errno(1)
    assert cbpf.run(prog, NR["chmod"], X86_64) == KILL_THREAD
    assert cbpf.run(prog, NR["socket"], X86_64) == KILL_PROCESS
    assert cbpf.run(prog, NR["clone"], X86_64) == TRAP
    assert cbpf.run(prog, NR["personality"], X86_64) == LOG
    assert cbpf.run(prog, NR["read"], X86_64) == ALLOW
    assert cbpf.run(prog, 9999, X86_64) == ALLOW          # default ALLOW: no -ENOSYS stub
    assert cbpf.run(prog, NR["read"], AARCH64) == KILL_THREAD   # libseccomp's bad-arch action


@pytest.mark.parametrize("op,value,two,allowed,denied", [
    ("SCMP_CMP_EQ", 8, 0, [8], [0, 9]),
    ("SCMP_CMP_NE", 8, 0, [0, 9], [8]),
    ("SCMP_CMP_LT", 8, 0, [0, 7], [8, 9]),
    ("SCMP_CMP_LE", 8, 0, [7, 8], [9]),
    ("SCMP_CMP_GT", 8, 0, [9, 1 << 40], [8, 0]),
    ("SCMP_CMP_GE", 8, 0, [8, 9], [7]),
    ("SCMP_CMP_MASKED_EQ", 0xF0, 0x20, [0x20, 0x2F, 0x120], [0x30, 0x10]),
])
def test_operators(op, value, two, allowed, denied):
    prog = compiled({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13, "architectures": ["SCMP_ARCH_X86_64"],
                     "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                                   "args": [{"index": 0, "value": value, "valueTwo": two, "op": op}]}]})
    for v in allowed:
        assert cbpf.run(prog, NR["personality"], X86_64, [v]) == ALLOW, v
    for v in denied:
        assert cbpf.run(prog, NR["personality"], X86_64, [v]) == errno(13), v


def test_several_conditions_and_rules():
    prog = compiled({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        # distinct arguments: AND
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
        # the same argument twice: OR (runc's old behaviour)
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        # several rules on one syscall
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
    ]})
    assert cbpf.run(prog, NR["socket"], X86_64, [1, 2]) == ALLOW
    assert cbpf.run(prog, NR["socket"], X86_64, [1, 3]) == errno(1)
    assert cbpf.run(prog, NR["socket"], X86_64, [0, 2]) == errno(1)
    for v, want in ((0, ALLOW), (8, ALLOW), (4, errno(1))):
        assert cbpf.run(prog, NR["personality"], X86_64, [v]) == want
    for v, want in ((1, ALLOW), (2, ALLOW), (3, errno(1))):
        assert cbpf.run(prog, NR["clone"], X86_64, [v]) == want


def test_enosys_stub_above_the_largest_syscall():
    prog = compiled({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                     "syscalls": [{"names": ["read", "write", "clone3"], "action": "SCMP_ACT_ALLOW"}]})
    assert cbpf.run(prog, NR["read"], X86_64) == ALLOW
    assert cbpf.run(prog, NR["mkdir"], X86_64) == errno(1)          # known to the profile's range: default
    assert cbpf.run(prog, NR["clone3"], X86_64) == ALLOW
    assert cbpf.run(prog, NR["clone3"] + 1, X86_64) == errno(38)    # newer than the profile: ENOSYS
    assert cbpf.run(prog, 3, I386) == ALLOW                         # read on i386
    assert cbpf.run(prog, 436, I386) == errno(38)
    assert cbpf.run(prog, X32_BIT | 0, X86_64) == ALLOW             # x32 read
    assert cbpf.run(prog, X32_BIT | 600, X86_64) == errno(38)


def stub_then(last, tail_ret=ALLOW):
    return seccompbpf.enosys_stub(last) + [(0x06, 0, 0, tail_ret)]


def test_enosys_stub_long_jumps():
    # enough architectures that the jumps pass 255 instructions and take runc's long forms
    last = {0x1000 + i: {0x1000 + i: 100 + i} for i in range(80)}
    last[X86_64] = {X86_64: 300, 0x4000003E: X32_BIT | 500}
    stub = stub_then(last)
    assert len(stub) > 300
    for arch, maxes in last.items():
        for token, top in maxes.items():
            assert cbpf.run(stub, top, arch) == ALLOW
            assert cbpf.run(stub, top + 1, arch) == errno(38)
    assert cbpf.run(stub, 10 ** 6, AARCH64) == ALLOW                 # not in the table: to the filter


def test_enosys_stub_single_mode_x86_64_and_s390():
    only64 = stub_then({X86_64: {X86_64: 10}})
    assert cbpf.run(only64, 11, X86_64) == errno(38)
    assert cbpf.run(only64, X32_BIT | 11, X86_64) == ALLOW          # x32 not in the profile: the filter decides
    only32 = stub_then({X86_64: {0x4000003E: X32_BIT | 10}})
    assert cbpf.run(only32, X32_BIT | 11, X86_64) == errno(38)
    assert cbpf.run(only32, 11, X86_64) == ALLOW
    s390x = stub_then({0x80000016: {0x80000016: 300}})
    assert cbpf.run(s390x, 0, 0x80000016) == errno(38)              # the multiplexer's unknown-syscall number
    assert cbpf.run(s390x, 301, 0x80000016) == errno(38)
    assert cbpf.run(s390x, 5, 0x80000016) == ALLOW


def test_containerd_default_profile():
    prog = compiled(real_profile("containerd-ctr-seccomp.json"))
    assert cbpf.run(prog, NR["read"], X86_64) == ALLOW
    assert cbpf.run(prog, NR["clone3"], X86_64) == errno(38)        # the profile's own errnoRet
    assert cbpf.run(prog, NR["fchmodat2"], X86_64) == errno(38)     # newer than the profile: the stub
    assert cbpf.run(prog, 180, X86_64) == errno(1)                  # nfsservctl: denied
    assert cbpf.run(prog, NR["personality"], X86_64, [0]) == ALLOW
    assert cbpf.run(prog, NR["personality"], X86_64, [0x0004]) == errno(1)
    assert cbpf.run(prog, NR["clone"], X86_64, [0x11]) == ALLOW     # SIGCHLD|...: no namespace flags
    assert cbpf.run(prog, NR["clone"], X86_64, [0x10000000]) == errno(1)  # CLONE_NEWUSER


def test_podman_default_profile():
    prog = compiled(real_profile("podman-default.json"))
    assert cbpf.run(prog, NR["read"], X86_64) == ALLOW
    assert cbpf.run(prog, 174, X86_64) == errno(38)                 # create_module: defaultErrnoRet 38
    assert cbpf.run(prog, 246, X86_64) == errno(1)                  # kexec_load: its rule says EPERM
    assert cbpf.run(prog, 1000, X86_64) == errno(38)


def test_arch_unknown_to_libseccomp_is_refused():
    if seccompbpf.arch_known("sheb"):
        pytest.skip("this libseccomp knows sheb")
    p = seccomp.plan({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_SHEB"]})
    with pytest.raises(BadConfig, match="/linux/seccomp/architectures: sheb is not supported by libseccomp 2"):
        seccompbpf.compile_program(p)


# ------------------------------------------------------------------ the cache

def test_cache_hit_skips_libseccomp(tmp_path, monkeypatch):
    p = seccomp.plan(allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}))
    first = seccompbpf.program(p, str(tmp_path))
    files = os.listdir(tmp_path / "@seccomp")
    assert len(files) == 1 and files[0].endswith(".bpf")

    def boom(_p):
        raise AssertionError("compiled again")
    monkeypatch.setattr(seccompbpf, "compile_program", boom)
    assert seccompbpf.program(p, str(tmp_path)) == first


def test_cache_entry_that_is_not_bpf_is_recompiled(tmp_path):
    p = seccomp.plan(allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}))
    good = seccompbpf.program(p, str(tmp_path))
    (path,) = (tmp_path / "@seccomp").iterdir()
    path.write_bytes(b"junk")
    assert seccompbpf.program(p, str(tmp_path)) == good
    assert path.read_bytes() == good


def test_cache_key_ignores_what_the_program_does_not_depend_on():
    a = seccomp.plan(allow_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="/a"))
    b = seccomp.plan(allow_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, listenerPath="/b",
                               listenerMetadata="m", flags=[]))
    c = seccomp.plan(allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}))
    assert seccompbpf.cache_key(a) == seccompbpf.cache_key(b) != seccompbpf.cache_key(c)


def test_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(seccompbpf, "CACHE_ENTRIES", 3)
    for i in range(5):
        seccompbpf.program(seccomp.plan(allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": i})),
                           str(tmp_path))
    assert len(os.listdir(tmp_path / "@seccomp")) == 3


# ------------------------------------------------------------------ hand-over to pyrunc-init

def test_handover_without_listener(tmp_path):
    entry, bpf = seccomp.prepare(allow_but({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}, flags=[]), str(tmp_path))
    plan = {"fds": {}}
    keep = []
    seccomp.attach(plan, entry, bpf, keep)
    try:
        values, fds = seccomp.handover(plan)
        assert values == {"seccomp": f"{keep[0]},{len(bpf)},0"}
        assert fds == keep and plan["fds"]["seccomp_notify"] == -1
        assert os.pread(keep[0], len(bpf) + 1, 0) == bpf
        with pytest.raises(PermissionError):
            os.pwrite(keep[0], b"x", 0)                            # sealed
    finally:
        for fd in keep:
            os.close(fd)


def test_handover_with_listener_carries_the_process_state(tmp_path):
    import socket
    path = str(tmp_path / "l.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    profile = allow_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, listenerPath=path, listenerMetadata="meta")
    entry, bpf = seccomp.prepare(profile, str(tmp_path / "root"))
    plan = {"fds": {}}
    keep = []
    try:
        seccomp.attach(plan, entry, bpf, keep)
        state = {"ociVersion": "1.2.0", "id": "c1", "status": "creating", "pid": 42, "bundle": "/b", "annotations": {}}
        values, fds = seccomp.handover(plan, state)
        blob_fd, bpf_len, flags = (int(v) for v in values["seccomp"].split(","))
        notify_fd, msg_len, pid_offset = (int(v) for v in values["notify"].split(","))
        keep += [blob_fd]
        assert notify_fd == plan["fds"]["seccomp_notify"] and flags & 8 and fds == [blob_fd, notify_fd]
        blob = os.pread(blob_fd, 1 << 20, 0)
        assert blob[:bpf_len] == bpf and len(blob) == bpf_len + msg_len
        # pyrunc-init writes the pid of the process the filter is for at pid_offset
        text = blob[bpf_len:]
        msg = json.loads(text[:pid_offset] + b"4242" + text[pid_offset:])
        assert msg == {"ociVersion": "1.2.0", "fds": ["seccompFd"], "pid": 4242, "metadata": "meta", "state": state}
    finally:
        for fd in keep:
            os.close(fd)
        srv.close()


def test_missing_listener_fails_at_attach(tmp_path):
    profile = allow_but({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, listenerPath=str(tmp_path / "none"))
    entry, bpf = seccomp.prepare(profile, str(tmp_path))
    keep = []
    with pytest.raises(Error, match="failed to connect with seccomp agent specified in the seccomp profile"):
        seccomp.attach({"fds": {}}, entry, bpf, keep)
    assert len(keep) == 1
    os.close(keep[0])


def test_features():
    feat, annotations = seccomp.features()
    assert feat["enabled"] and "SCMP_ACT_NOTIFY" in feat["actions"] and "SCMP_CMP_MASKED_EQ" in feat["operators"]
    assert "SCMP_ARCH_X86_64" in feat["archs"]
    assert set(feat["supportedFlags"]) <= set(feat["knownFlags"])
    assert annotations["io.github.seccomp.libseccomp.version"].count(".") == 2
