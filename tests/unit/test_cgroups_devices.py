"""cgroups/devices.py: rules and runc's defaults, the v1 emulator and transitions, the v2 eBPF program."""
import struct

import pytest

from pyrunc.cgroups import devices as D
from pyrunc.errors import BadConfig

DENY_ALL = [{"allow": False, "access": "rwm"}]


def run(insns, dev_type, major, minor, access):
    """Interpret the program as the kernel would for one request: 1 allows, 0 denies."""
    regs = {}
    ctx = (D.BPF_DEVCG_DEV[dev_type] | (sum(D.BPF_DEVCG_ACC[c] for c in access) << 16), major, minor)
    pc = 0
    while True:
        op, d, s, off, imm = insns[pc]
        pc += 1
        if op == D.LDX_W:
            assert s == 1 and off in (0, 4, 8)
            regs[d] = ctx[off // 4]
        elif op == D.AND32_K:
            regs[d] &= imm
        elif op == D.RSH32_K:
            regs[d] >>= imm
        elif op == D.MOV32_K:
            regs[d] = imm
        elif op == D.MOV32_X:
            regs[d] = regs[s]
        elif op in (D.JNE_K, D.JNE_X, D.JEQ_K):
            assert off > 0 and pc + off <= len(insns)   # forward jumps only, inside the program
            equal = regs[d] == (regs[s] if op == D.JNE_X else imm)
            if equal == (op == D.JEQ_K):
                pc += off
        elif op == D.EXIT:
            return regs[0]
        else:
            raise AssertionError(f"unknown opcode {op:#x}")


def test_defaults_follow_the_config_rules_and_yield_to_spec_paths():
    rules = D.rules(DENY_ALL)
    assert rules[0] == ("a", -1, -1, "rwm", False)
    assert ("c", 1, 3, "rwm", True) in rules and ("c", 10, 200, "rwm", True) in rules
    assert len(rules) == 1 + len(D.DEFAULT_RULES)
    # runc drops a default whose path linux.devices redefines
    rules = D.rules(DENY_ALL, [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}])
    assert ("c", 1, 3, "rwm", True) not in rules


@pytest.mark.parametrize("rule,msg", [({"allow": True, "type": "x", "access": "r"}, "invalid cgroup device type"),
                                      ({"allow": True, "access": ""}, "cannot be empty"),
                                      ({"allow": True, "access": "x"}, "grants none of r, w and m")])
def test_bad_rules_name_their_field(rule, msg):
    with pytest.raises(BadConfig, match=f"/linux/resources/devices/0/.*{msg}"):
        D.rules([rule])


@pytest.mark.parametrize("access,perms", [("wr", "rw"), ("rrw", "rw"), ("mwr", "rwm"), ("rwmrwm", "rwm"),
                                          ("rwx", "rw"), ("r w", "rw"), ("mm", "m")])
def test_access_is_read_as_runc_reads_it(access, perms):
    """Any order, repeats, and characters runc does not use (ignored), as runc 1.1 accepts them."""
    rule = {"allow": True, "type": "c", "major": 1, "minor": 1, "access": access}
    assert D.rules([rule])[0] == ("c", 1, 1, perms, True)


def test_every_bad_rule_is_collected():
    problems = []
    D.rules([{"type": "x", "access": "r"}, {"access": ""}, {"access": "q"}], problems=problems)
    assert [p.pointer for p in problems] == ["/linux/resources/devices/0/type", "/linux/resources/devices/1/access",
                                             "/linux/resources/devices/2/access"]


def test_allow_list_transition_from_a_fresh_cgroup():
    target = D.emulate(D.rules(DENY_ALL))
    writes = D.from_list("a *:* rwm\n").transition(target)
    assert writes[0] == (False, "a *:* rwm")
    assert writes[1:3] == [(True, "b *:* m"), (True, "c *:* m")]      # sorted by major, minor, type
    assert (True, "c 1:3 rwm") in writes and (True, "c 136:* rwm") in writes


def test_transition_only_writes_the_difference():
    current = D.from_list("c 1:3 rwm\nc 1:5 rw\n")
    target = D.emulate([("a", -1, -1, "rwm", False), ("c", 1, 3, "rwm", True), ("c", 1, 5, "rwm", True),
                        ("c", 1, 9, "r", True)])
    assert current.transition(target) == [(True, "c 1:5 m"), (True, "c 1:9 r")]
    assert D.from_list("c 1:3 rwm\nc 1:9 r\n").transition(D.emulate([("a", -1, -1, "rwm", False)])) == [
        (False, "c 1:3 rwm"), (False, "c 1:9 r")]


def test_deny_list_mode():
    target = D.emulate([("a", -1, -1, "rwm", True), ("c", 1, 3, "w", False)])
    assert target.default_allow and target.exceptions == {("c", 1, 3): "w"}
    assert D.from_list("a *:* rwm\n").transition(target) == [(True, "a *:* rwm"), (False, "c 1:3 w")]


def test_a_hole_in_a_wildcard_is_refused():
    with pytest.raises(BadConfig, match="cannot punch a hole"):
        D.emulate([("a", -1, -1, "rwm", False), ("c", 136, -1, "rwm", True), ("c", 136, 2, "r", False)])


def test_program_matches_the_emulator():
    prog = D.program(D.rules(DENY_ALL + [{"allow": True, "type": "c", "major": 42, "minor": 1, "access": "rw"}]))
    assert run(prog, "c", 1, 3, "rw") == 1          # /dev/null
    assert run(prog, "c", 1, 4, "r") == 0           # /dev/port: not allowed
    assert run(prog, "c", 42, 1, "rw") == 1
    assert run(prog, "c", 42, 1, "m") == 1          # mknod of anything (c *:* m)
    assert run(prog, "c", 42, 2, "r") == 0
    assert run(prog, "b", 8, 0, "m") == 1 and run(prog, "b", 8, 0, "r") == 0
    assert run(prog, "c", 136, 7, "rw") == 1        # /dev/pts/7


def test_program_in_deny_list_mode():
    # a partial deny refuses any request touching its bits (v1's rule; runc's program would allow "rw")
    prog = D.program([("a", -1, -1, "rwm", True), ("c", 1, 3, "w", False)])
    assert run(prog, "c", 1, 3, "r") == 1 and run(prog, "c", 1, 3, "rw") == 0 and run(prog, "b", 8, 0, "rwm") == 1


def test_encode_is_struct_bpf_insn():
    blob = D.encode([(D.LDX_W, 2, 1, 4, 0), (D.JNE_K, 4, 0, 3, 4000000000), (D.EXIT, 0, 0, 0, 0)])
    assert len(blob) == 24
    assert struct.unpack("<BBhi", blob[:8]) == (0x61, 0x12, 4, 0)
    assert struct.unpack("<BBhi", blob[8:16]) == (0x55, 0x04, 3, 4000000000 - (1 << 32))
