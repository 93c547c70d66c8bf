"""Stage timings of one command (every process): marks on the monotonic clock, shared across processes."""
import time

_marks = []


def mark(stage):
    """Record that `stage` ended now."""
    _marks.append((stage, time.monotonic_ns()))


def reset():
    _marks.clear()


def marks():
    return list(_marks)


def extend(more):
    """Add marks another process recorded (the clock is system-wide)."""
    _marks.extend((s, t) for s, t in more)
    _marks.sort(key=lambda m: m[1])


def timeline(start_ns):
    """[(stage, ms since the previous mark, ms since start)]."""
    out, prev = [], start_ns
    for stage, t in _marks:
        out.append((stage, (t - prev) / 1e6, (t - start_ns) / 1e6))
        prev = t
    return out
