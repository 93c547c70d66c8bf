"""cli.py: runc's flag rules, and signal names."""
import pytest

from pyrunc.cli import CREATE_FLAGS, Usage, parse_flags
from pyrunc.signals import parse_signal
from pyrunc.errors import Error

ALIASES = {"b": "bundle"}


def test_single_and_double_dash_equals_and_space():
    o, p = parse_flags(["-b", "B", "--pid-file=P", "-no-pivot", "id"], CREATE_FLAGS, ALIASES, True)
    assert o == {"bundle": "B", "pid-file": "P", "no-pivot": True} and p == ["id"]


def test_flags_after_the_id_are_reordered():
    o, p = parse_flags(["id", "--bundle", "B"], CREATE_FLAGS, ALIASES, True)
    assert o["bundle"] == "B" and p == ["id"]


def test_no_reorder_stops_at_the_first_argument():
    o, p = parse_flags(["id", "sh", "-c", "x"], {"tty": "bool"}, {}, False)
    assert o == {} and p == ["id", "sh", "-c", "x"]


def test_bool_values_and_errors():
    assert parse_flags(["--no-pivot=false"], CREATE_FLAGS, ALIASES, True)[0]["no-pivot"] is False
    with pytest.raises(Usage, match="flag provided but not defined"):
        parse_flags(["--nope"], CREATE_FLAGS, ALIASES, True)
    with pytest.raises(Usage, match="needs an argument"):
        parse_flags(["--bundle"], CREATE_FLAGS, ALIASES, True)
    with pytest.raises(Usage, match="non-negative integer"):
        parse_flags(["--preserve-fds", "x"], CREATE_FLAGS, ALIASES, True)


@pytest.mark.parametrize("text,num", [("9", 9), ("KILL", 9), ("SIGTERM", 15), ("term", 15), ("RTMIN", 34),
                                      ("SIGRTMIN+2", 36), ("RTMAX-1", 63), ("USR1", 10)])
def test_signals(text, num):
    assert parse_signal(text) == num


@pytest.mark.parametrize("text", ["65", "SIGNOPE", "RTMIN+40", ""])
def test_bad_signals(text):
    with pytest.raises(Error, match="unknown signal"):
        parse_signal(text)
