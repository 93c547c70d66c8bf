"""JSON without importing `json` (and `re`): the C scanner and encoder of `_json`; used by every process."""
from _json import encode_basestring_ascii, make_encoder, make_scanner

from pyrunc.errors import Error

_WS = " \t\n\r"


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name):
        raise ValueError(f"{name} is not valid JSON")


_scan = make_scanner(_Context())
_encode = make_encoder(None, None, encode_basestring_ascii, None, ":", ",", False, False, False)


def loads(text):
    """Parse one JSON document; raise Error("invalid JSON: ...") with line and column on failure."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode()
        except UnicodeDecodeError as e:
            raise Error(f"invalid JSON: not UTF-8 ({e.reason} at byte {e.start})") from None
    i, n = 0, len(text)
    while i < n and text[i] in _WS:
        i += 1
    try:
        value, end = _scan(text, i)
    except (StopIteration, ValueError, RecursionError, SystemError):
        # SystemError: CPython 3.11's scanner cannot build its error unless
        # json.decoder is already imported; the explanation comes from there.
        raise Error(f"invalid JSON: {_explain(text)}") from None
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise Error(f"invalid JSON: {_explain(text)}")
    return value


def _explain(text):
    # Only on the error path: the full decoder gives line and column.
    import json
    try:
        json.loads(text, parse_constant=_Context.parse_constant)
    except ValueError as e:
        return str(e)
    except RecursionError:
        return "nested too deeply"
    return "unparsable document"


def dumps(obj):
    """Compact JSON (ASCII, no spaces), as Go's encoding/json writes state files."""
    try:
        return "".join(_encode(obj, 0))
    except RecursionError:
        # the API hands in dicts as they are (spec.parse bounds what comes from files)
        raise Error("cannot encode JSON: nested too deeply") from None


def pretty(obj, indent="  ", _level=0):
    """Indented JSON like Go's json.MarshalIndent (what `runc state` prints)."""
    pad = indent * (_level + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{pad}{encode_basestring_ascii(str(k))}: {pretty(v, indent, _level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent * _level + "}"
    if isinstance(obj, list) and obj:
        items = [pad + pretty(v, indent, _level + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + indent * _level + "]"
    return dumps(obj)
