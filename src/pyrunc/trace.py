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


def report(saved):
    """`pyrunc trace`: the timeline of a container's create and start, from the marks kept in its state."""
    lines = []
    create, start = saved.get("create", []), saved.get("start", [])
    for title, marks in (("create", create), ("start", start)):
        if not marks:
            continue
        lines.append(f"{title}:")
        t0 = prev = marks[0][1]
        for stage, t in marks:
            lines.append(f"  {(t - t0) / 1e6:9.3f} ms  (+{(t - prev) / 1e6:8.3f})  {stage}")
            prev = t
    if create and start:
        lines.append(f"waiting for start: {(start[0][1] - create[-1][1]) / 1e6:.3f} ms "
                     "(from the end of create to the start of start)")
    return "\n".join(lines) + "\n" if lines else "no trace recorded\n"
