"""oslite's path helpers behave exactly as posixpath's (the CLI uses them instead of os.py); replace_file."""
import itertools
import os
import posixpath

import pytest

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


def test_replace_file_never_opens_what_is_planted_beside_it(tmp_path):
    """A hard link or symlink to a victim at any name the temporary used to have is left alone."""
    victim = tmp_path / "victim"
    victim.write_text("VICTIM")
    target = tmp_path / "pid"
    old_name = tmp_path / f".pid.{os.getpid()}"
    os.link(victim, old_name)
    os.symlink(victim, tmp_path / ".pid")
    oslite.replace_file(str(target), b"42")
    assert target.read_text() == "42" and victim.read_text() == "VICTIM"
    assert sorted(os.listdir(tmp_path)) == [".pid", old_name.name, "pid", "victim"]


def test_replace_file_retries_a_taken_name_and_cleans_up(tmp_path, monkeypatch):
    names = itertools.chain([b"\0" * 6, b"\0" * 6], (i.to_bytes(6, "big") for i in itertools.count(1)))
    monkeypatch.setattr(oslite, "urandom", lambda n: next(names))
    taken = tmp_path / f".f.{os.getpid()}.{'00' * 6}"
    taken.write_text("planted")
    oslite.replace_file(str(tmp_path / "f"), b"data")
    assert (tmp_path / "f").read_text() == "data" and taken.read_text() == "planted"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("")
    with pytest.raises(OSError):
        oslite.replace_file(str(tmp_path / "d"), b"data")     # rename over a non-empty directory
    assert sorted(os.listdir(tmp_path)) == sorted(["d", "f", taken.name])


@given(rooted)
def test_dirname_basename_and_split_match_posixpath(p):
    assert oslite.path.dirname(p) == posixpath.dirname(p)
    assert oslite.path.basename(p) == posixpath.basename(p)
    assert oslite.path.split(p) == posixpath.split(p)


def test_exists_isdir_islink_match_os_path(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    (tmp_path / "ld").symlink_to("d")
    (tmp_path / "lf").symlink_to("f")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "loop").symlink_to("loop")
    for name in ("d", "f", "ld", "lf", "dangling", "loop", "missing", "f/x", "d/"):
        p = str(tmp_path / name) if not name.endswith("/") else str(tmp_path / name[:-1]) + "/"
        for fn in ("exists", "isdir", "islink"):
            assert getattr(oslite.path, fn)(p) == getattr(os.path, fn)(p), (fn, name)
    assert oslite.path.exists("a\0b") == os.path.exists("a\0b")


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "a/c", "b/d", "a/c/e"]),
                          st.sampled_from(["dir", "file", "link-dir", "link-file", "dangling"])), max_size=8))
def test_walk_no_follow_is_os_walk_with_directory_symlinks_among_the_files(tree):
    import tempfile
    with tempfile.TemporaryDirectory() as top:
        for rel, kind in tree:
            p = os.path.join(top, rel)
            if os.path.lexists(p) or not os.path.isdir(os.path.dirname(p)):
                continue
            {"dir": lambda: os.mkdir(p), "file": lambda: open(p, "w").close(),
             "link-dir": lambda: os.symlink(top, p), "link-file": lambda: os.symlink(__file__, p),
             "dangling": lambda: os.symlink("nowhere", p)}[kind]()
        for topdown in (True, False):
            want = []
            for d, dirs, files in os.walk(top, topdown=topdown):
                links = [x for x in dirs if os.path.islink(os.path.join(d, x))]
                want.append((d, sorted(set(dirs) - set(links)), sorted(files + links)))
            got = [(d, sorted(dirs), sorted(files)) for d, dirs, files in oslite.walk_no_follow(top, topdown)]
            assert sorted(got) == sorted(want)


def test_makedirs_all_is_os_makedirs_with_the_mode_on_every_new_directory(tmp_path):
    old = os.umask(0)
    try:
        oslite.makedirs_all(str(tmp_path / "a" / "b" / "c"), 0o711)
        os.makedirs(str(tmp_path / "x" / "y" / "z"), 0o711)
        oslite.makedirs_all(str(tmp_path / "a" / "b" / "c"), 0o711, exist_ok=True)
        with pytest.raises(FileExistsError):
            oslite.makedirs_all(str(tmp_path / "a"), 0o711)
    finally:
        os.umask(old)
    modes = {n: os.stat(tmp_path / n).st_mode & 0o777 for n in ("a", "a/b", "a/b/c", "x", "x/y", "x/y/z")}
    assert modes == {"a": 0o711, "a/b": 0o711, "a/b/c": 0o711, "x": 0o777, "x/y": 0o777, "x/y/z": 0o711}
