"""Signal names and numbers as runc parses them (CLI process), from the interpreter's own table (_signal)."""
import _signal

from pyrunc.errors import Error

# NAME (without SIG) -> number, for every signal this platform defines, aliases (IOT, POLL, CLD) included
SIGNALS = {n[3:]: getattr(_signal, n) for n in dir(_signal)
           if n.startswith("SIG") and not n.startswith("SIG_") and n not in ("SIGRTMIN", "SIGRTMAX")}
RTMIN, RTMAX = _signal.SIGRTMIN, _signal.SIGRTMAX


def parse_signal(text):
    """runc's rules: a number, or a name with or without SIG (RTMIN+n and RTMAX-n too)."""
    t = text.upper()
    if t.isdigit():
        n = int(t)
        if 0 <= n <= RTMAX:    # 0 checks that the init exists, as kill(2) does
            return n
    else:
        if t.startswith("SIG"):
            t = t[3:]
        if t in SIGNALS:
            return SIGNALS[t]
        for base, num in (("RTMIN", RTMIN), ("RTMAX", RTMAX)):
            if t == base:
                return num
            if t.startswith(base + "+") and t[len(base) + 1:].isdigit():
                n = num + int(t[len(base) + 1:])
                if n <= RTMAX:
                    return n
            if t.startswith(base + "-") and t[len(base) + 1:].isdigit():
                n = num - int(t[len(base) + 1:])
                if n >= RTMIN:
                    return n
    raise Error(f"unknown signal {text!r}")
