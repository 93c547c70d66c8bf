"""A classic-BPF interpreter for seccomp programs, so tests can ask a compiled filter what it does (no root)."""
import sys

MASK32 = 0xFFFFFFFF


def decode(program):
    o = sys.byteorder
    assert len(program) % 8 == 0
    return [(int.from_bytes(program[i:i + 2], o), program[i + 2], program[i + 3],
             int.from_bytes(program[i + 4:i + 8], o)) for i in range(0, len(program), 8)]


def seccomp_data(nr, arch, args=(), ip=0):
    o = sys.byteorder
    args = list(args) + [0] * (6 - len(args))
    return (nr & MASK32).to_bytes(4, o) + arch.to_bytes(4, o) + ip.to_bytes(8, o) + b"".join(
        (a & 0xFFFFFFFFFFFFFFFF).to_bytes(8, o) for a in args)


def run(program, nr, arch, args=()):
    """The filter's return value (SECCOMP_RET_*) for one syscall."""
    insns = decode(program) if isinstance(program, (bytes, bytearray)) else program
    data = seccomp_data(nr, arch, args)
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if code == 0x20:                      # ld [k]
            a = int.from_bytes(data[k:k + 4], sys.byteorder)
        elif code == 0x00:                    # ld #k
            a = k
        elif code == 0x60:                    # ld M[k]
            a = mem[k]
        elif code == 0x61:                    # ldx M[k]
            x = mem[k]
        elif code == 0x01:                    # ldx #k
            x = k
        elif code == 0x02:                    # st M[k]
            mem[k] = a
        elif code == 0x03:                    # stx M[k]
            mem[k] = x
        elif code == 0x54:                    # and #k
            a &= k
        elif code == 0x07:                    # tax
            x = a
        elif code == 0x87:                    # txa
            a = x
        elif code == 0x05:                    # ja k
            pc += k
        elif cls == 0x05:                     # conditional jumps, K or X operand
            operand = x if code & 0x08 else k
            op = code & 0xF0
            if op == 0x10:
                taken = a == operand
            elif op == 0x20:
                taken = a > operand
            elif op == 0x30:
                taken = a >= operand
            elif op == 0x40:
                taken = bool(a & operand)
            else:
                raise AssertionError(f"unknown jump {code:#x}")
            pc += jt if taken else jf
        elif code == 0x06:                    # ret #k
            return k
        elif code == 0x16:                    # ret a
            return a
        else:
            raise AssertionError(f"unknown BPF opcode {code:#x} at {pc - 1}")
