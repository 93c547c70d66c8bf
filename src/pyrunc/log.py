"""The runtime's log (CLI process): logrus-style text or JSON lines in --log, errors mirrored to stderr."""
from pyrunc import oslite  # posix without os.py: see oslite
import time

from _json import encode_basestring

LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3}

_path = None
_fmt = "text"
_threshold = LEVELS["info"]
_stderr_ok = True   # False while fds 0-2 belong to a container (create/run/exec)


def setup(path=None, fmt="text", debug=False, stderr_ok=True):
    """Configure the process-wide log; creates the --log file at once (containerd needs it to exist)."""
    global _path, _fmt, _threshold, _stderr_ok
    # --debug without --log: runc writes its debug lines (and everything else) to stderr, even
    # while the container's stdio is its own; without --debug we keep create/run/exec's quiet
    _path, _fmt, _stderr_ok = path, fmt, stderr_ok or debug
    _threshold = LEVELS["debug" if debug else "info"]
    if path:
        try:
            oslite.close(oslite.open(path, oslite.O_WRONLY | oslite.O_CREAT | oslite.O_APPEND | oslite.O_CLOEXEC, 0o644))
        except OSError as e:
            # e.g. the shim's --log <bundle>/log.json once the bundle is gone: one line on
            # stderr and exit 1, as runc does, instead of a traceback from every later write
            _path = None
            from pyrunc.errors import Error, oserror_reason
            raise Error(f"open {oserror_reason(e)}") from None


def rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# logrus's TextFormatter writes a value bare only when it is made of these characters, else quoted
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


def _text_value(value):
    text = str(value)
    return text if _BARE.issuperset(text) else encode_basestring(text)


def format_line(level, msg, fmt, extra=None):
    """One log line, as runc (logrus) writes it."""
    now = rfc3339()
    fields = ""
    for k, v in (extra or {}).items():
        fields += f",{encode_basestring(k)}:{v if isinstance(v, (int, float)) else encode_basestring(str(v))}"
    if fmt == "json":
        return f'{{"level":"{level}","msg":{encode_basestring(msg)},"time":"{now}"{fields}}}\n'
    extra_text = "".join(f" {k}={_text_value(v)}" for k, v in (extra or {}).items())
    return f'time="{now}" level={level} msg={_text_value(msg)}{extra_text}\n'


def _emit(level, msg, extra=None):
    if LEVELS[level] < _threshold:
        return
    if _path:
        line = format_line(level, msg, _fmt, extra).encode()
        fd = oslite.open(_path, oslite.O_WRONLY | oslite.O_CREAT | oslite.O_APPEND | oslite.O_CLOEXEC, 0o644)
        try:
            oslite.write(fd, line)
        finally:
            oslite.close(fd)
    elif _stderr_ok and level != "error":
        oslite.write(2, format_line(level, msg, _fmt, extra).encode())


def debug(msg, **extra):
    _emit("debug", msg, extra)


def info(msg, **extra):
    _emit("info", msg, extra)


def warning(msg, **extra):
    _emit("warning", msg, extra)


def error(msg):
    """The command's final error: the last error line of --log, and one plain line on stderr."""
    _emit("error", msg)
    try:
        oslite.write(2, (msg + "\n").encode())
    except OSError:
        pass


def quietly(fn):
    """Run a clean-up step after a failure: its own failure is only a warning, never hides the first."""
    try:
        fn()
    except Exception as e:
        warning(f"cleanup: {e}")
