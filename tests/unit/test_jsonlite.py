"""jsonlite.py: the C scanner/encoder without the json module."""
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# jsonlite drives _json's private scanner and encoder directly: test it against json itself
_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30)


@given(_values)
def test_dumps_and_loads_match_json(value):
    text = jsonlite.dumps(value)
    assert text == json.dumps(value, separators=(",", ":"))
    assert jsonlite.loads(text) == json.loads(text)
    assert jsonlite.pretty(value) == json.dumps(value, indent=2, separators=(",", ": "))


@given(st.text(alphabet='{}[]",:0123456789.eE+-tfnrulsa \\\n\t/u', max_size=40))
def test_loads_accepts_and_refuses_what_json_does(text):
    try:
        want = json.loads(text)
    except ValueError:
        with pytest.raises(Error, match="invalid JSON"):
            jsonlite.loads(text)
        return
    assert jsonlite.loads(text) == want


def test_the_fuzz_corpus_parses_as_json_does():
    corpus = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fuzz", "corpus")
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as f:
            data = f.read()
        try:
            want = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            with pytest.raises(Error):
                jsonlite.loads(data)
            continue
        assert jsonlite.loads(data) == want, name
