"""oslite's path helpers behave exactly as posixpath's (the CLI uses them instead of os.py)."""
import os
import posixpath

from hypothesis import given
from hypothesis import strategies as st

from pyrunc import oslite

paths = st.lists(st.sampled_from(["a", "bc", ".", "..", "", "..."]), max_size=7).map("/".join)
rooted = st.tuples(st.sampled_from(["", "/", "//", "///"]), paths).map("".join)


@given(rooted)
def test_normpath_and_abspath_match_posixpath(p):
    assert oslite.path.normpath(p) == posixpath.normpath(p)
    assert oslite.path.abspath(p) == posixpath.abspath(p)


@given(rooted, rooted)
def test_join_matches_posixpath(a, b):
    assert oslite.path.join(a, b) == posixpath.join(a, b)


def test_realpath_matches_posixpath(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    (tmp_path / "dangling").symlink_to("nowhere/x")
    for p in [tmp_path / "link", tmp_path / "link" / ".." / "link", tmp_path / "dangling",
              tmp_path / "missing" / "x", "/proc/self/cwd", "."]:
        assert oslite.path.realpath(str(p)) == posixpath.realpath(str(p)), p
    assert oslite.path.realpath(str(tmp_path / "link")) == os.path.join(str(tmp_path), "real")
