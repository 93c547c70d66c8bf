"""update, ps and events on the command line (CLI process): their flags in, runc's tables and JSON lines out.

The cgroups package returns data (cgroups.control); this module reads the
flags and stdin, runs ps(1) and prints.
"""
import sys

from pyrunc import jsonlite
from pyrunc.cgroups import control
from pyrunc.errors import BadConfig, Error


def request(opts):
    """The LinuxResources `update`'s flags (or its --resources document) ask for."""
    from pyrunc import spec
    from pyrunc.cgroups import resources
    if any(opts.get(f) for f in ("l3-cache-schema", "mem-bw-schema")):
        raise Error("Intel RDT is not supported: --l3-cache-schema and --mem-bw-schema cannot be set")
    src = opts.get("resources")
    if not src:
        return resources.request_from_flags(opts)
    # as with runc, a resources document makes every other flag ignored
    if src == "-":
        text = sys.stdin.buffer.read()
    else:
        try:
            with open(src, "rb") as f:
                text = f.read()
        except OSError as e:
            raise BadConfig(f"cannot read {src}: {e.strerror}") from None
    if text.strip() == b"null":
        text = b"{}"    # runc decodes null into its (empty) resources: nothing to change
    return spec.parse(text, "--resources", spec.RESOURCES)


def ps(root, cid, fmt, ps_args):
    """runc ps: the pids as JSON, or the lines of ps(1) (default -ef) whose PID is the container's."""
    if fmt not in ("table", "json"):
        raise Error(f"invalid format option {fmt!r}: use table or json")
    found = control.pids(root, cid)
    if fmt == "json":
        sys.stdout.write(jsonlite.dumps(found or None) + "\n")   # runc prints null for none
        return
    import subprocess
    args = ps_args or ["-ef"]
    try:
        p = subprocess.run(["ps", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        raise Error(f"cannot run ps: {e.strerror}") from None
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise Error(f"ps {' '.join(args)}: exit status {p.returncode}: {out.strip()}")
    sys.stdout.write("".join(line + "\n" for line in ps_lines(out, set(found))))


def ps_lines(out, pids):
    """The title line of ps(1)'s output, then the lines whose PID column is in `pids`."""
    lines = out.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise Error("couldn't find PID field in ps output")
    col = titles.index("PID")
    keep = [lines[0]]
    for line in lines[1:]:
        f = line.split()
        if not f:
            continue
        if not f[col].isdigit():
            raise Error(f"unable to parse pid in ps output: {line!r}")
        if int(f[col]) in pids:
            keep.append(line)
    return keep


GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text):
    """Go's time.ParseDuration: "5s", "100ms", "1m30s", "1.5h" -> seconds."""
    s, total = text, 0.0
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s == "0":
        return 0.0
    if not s:
        raise BadConfig(f"invalid duration {text!r}")
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        j = i
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        number, unit = s[:i], s[i:j]
        if not number or number == "." or number.count(".") > 1 or unit not in GO_UNITS:
            raise BadConfig(f"invalid duration {text!r}")
        total += float(number) * GO_UNITS[unit]
        s = s[j:]
    return sign * total


def events(root, cid, interval="5s", stats_only=False):
    """runc events: one JSON object per line, each flushed as it happens."""
    seconds = parse_duration(interval)
    if seconds <= 0:
        raise BadConfig("duration interval must be greater than 0")
    for event in control.events(root, cid, seconds, stats_only):
        sys.stdout.write(jsonlite.dumps(event) + "\n")
        sys.stdout.flush()
