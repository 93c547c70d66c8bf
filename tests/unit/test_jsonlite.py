"""jsonlite.py: the C scanner/encoder without the json module."""
import json

import pytest

from pyrunc import jsonlite
from pyrunc.errors import Error


def test_round_trip():
    obj = {"a": [1, -2, 3.5, True, False, None], "ü": "\u2603\n", "n": {"x": 18446744073709551615}}
    assert jsonlite.loads(jsonlite.dumps(obj)) == obj
    assert json.loads(jsonlite.dumps(obj)) == obj


def test_whitespace_and_bytes():
    assert jsonlite.loads(b"  \n{\"a\": 1}\n ") == {"a": 1}


@pytest.mark.parametrize("bad", ["", "{", "[1,]", "{} {}", "NaN", '{"a": Infinity}', b"\xff"])
def test_errors(bad):
    with pytest.raises(Error, match="invalid JSON"):
        jsonlite.loads(bad)


def test_pretty_matches_json_indent():
    obj = {"a": 1, "b": [1, {"c": "d"}], "e": {}, "f": []}
    assert jsonlite.pretty(obj) == json.dumps(obj, indent=2, separators=(",", ": "))


def test_deep_documents_are_errors_not_recursion():
    with pytest.raises(Error, match="invalid JSON"):
        jsonlite.loads("[" * 100000 + "]" * 100000)
    deep = []
    for _ in range(100000):
        deep = [deep]
    with pytest.raises(Error, match="cannot encode JSON: nested too deeply"):
        jsonlite.dumps(deep)
