"""Read a validation test's TAP output and judge it: PASS, FAIL or SKIP with a short reason (pure code).

A test passes when it exited 0, every assertion is ok (or a TODO "not ok",
or skipped) and it ran as many assertions as its plan line(s) announced
(a test that re-prints runtimetest's TAP has two streams, so plans add up).
The hook tests assert nothing: they print "1..0" and report a failure only
as a YAML diagnostic with an "error" key, so a test without assertions fails
when it prints one.  A test whose every assertion is skipped is SKIP.
"""
import json
import re

_OK = re.compile(r"^(not )?ok\b\s*(\d+)?\s*-?\s*(.*)$")
_PLAN = re.compile(r"^1\.\.(\d+)")
_DIRECTIVE = re.compile(r"#\s*(skip|todo)\b\s*(.*)$", re.I)
# tap-go writes a diagnostic as "  ---", the object's lines indented by two
# more spaces, then "  ..."; its top-level keys are one indentation deep.
_ERROR_KEY = re.compile(r'^    "?error"?:\s*(.*)$')


class Report:
    """What one TAP stream says."""

    def __init__(self):
        self.ok = 0          # ok lines, skips and TODO "not ok" included
        self.not_ok = 0
        self.skipped = 0
        self.plan = None     # sum of the plan lines; None without any
        self.bail = None     # the "Bail out!" reason
        self.failures = []   # descriptions of the "not ok" lines
        self.skips = []      # reasons of the skips
        self.errors = []     # values of top-level "error" diagnostic keys

    @property
    def assertions(self):
        return self.ok + self.not_ok


def parse(text):
    r = Report()
    in_yaml = False
    for line in text.splitlines():
        if in_yaml:
            if line.strip() == "...":
                in_yaml = False
            else:
                m = _ERROR_KEY.match(line)
                if m:
                    r.errors.append(_yaml_value(m.group(1)))
            continue
        if line.strip() == "---":
            in_yaml = True
            continue
        m = _OK.match(line)
        if m:
            failed, desc = bool(m.group(1)), m.group(3)
            d = _DIRECTIVE.search(desc)
            kind = d.group(1).lower() if d else None
            if failed and kind != "todo":
                r.not_ok += 1
                r.failures.append(desc.strip())
            else:
                r.ok += 1
                if not failed and kind == "skip":
                    r.skipped += 1
                    r.skips.append(d.group(2).strip() or desc[:d.start()].strip())
            continue
        m = _PLAN.match(line)
        if m:
            r.plan = (r.plan or 0) + int(m.group(1))
            continue
        if line.startswith("Bail out!"):
            r.bail = line[len("Bail out!"):].strip() or "no reason"
    return r


def _yaml_value(text):
    """A diagnostic's value: tap-go writes JSON, so decode it when it is."""
    text = text.strip().rstrip(",")
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip('"')
    return value if isinstance(value, str) else text


def _short(text, limit=110):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def verdict(report, rc, timed_out=False, stderr=""):
    """("PASS"|"FAIL"|"SKIP", reason) for a test that exited rc with this TAP and stderr."""
    if timed_out:
        return "FAIL", "timed out"
    if rc != 0:
        # util.Fatal ends with the Go error ("exit status 1"); the runtime's message is above it
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        told = [ln for ln in lines if not re.fullmatch(r"exit status \d+", ln.strip())] or lines
        return "FAIL", _short(f"exit {rc}" + (f": {told[-1]}" if told else ""))
    if report.bail:
        return "FAIL", _short("bail out: " + report.bail)
    if report.not_ok:
        more = f" (+{report.not_ok - 1} more)" if report.not_ok > 1 else ""
        return "FAIL", _short(f"not ok: {report.failures[0]}", 100) + more
    if report.plan is not None and report.plan != report.ok:
        return "FAIL", f"planned {report.plan} assertions, ran {report.ok}"
    if report.ok == 0:
        if report.errors:
            return "FAIL", _short("error: " + report.errors[0])
        return "PASS", "no assertions, no error"
    if report.ok == report.skipped:
        return "SKIP", _short(report.skips[0] or "every assertion skipped")
    return "PASS", f"{report.ok} ok" + (f", {report.skipped} skipped" if report.skipped else "")
