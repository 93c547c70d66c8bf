"""codepack.py: the installed package's modules from one file, and never a stale one."""
import os
import subprocess
import sys

import pytest

from pyrunc import codepack

PROBE = """
import sys
sys.path.insert(0, {lib!r})
namespace = {{}}
exec(compile(open({codepack!r}).read(), "codepack", "exec"), namespace)
namespace["install"]({lib!r})
import pyrunc.a, pyrunc.sub.b
for m in (pyrunc, pyrunc.a, pyrunc.sub, pyrunc.sub.b):
    print(m.__name__, type(m.__loader__).__name__, m.__file__, m.VALUE)
"""


@pytest.fixture
def lib(tmp_path):
    """An install's lib: a package `pyrunc` with a module and a subpackage, and its pack."""
    files = {"pyrunc/__init__.py": "VALUE = 'root'\n", "pyrunc/a.py": "from . import sub\nVALUE = sub.VALUE + '+a'\n",
             "pyrunc/sub/__init__.py": "VALUE = 'sub'\n", "pyrunc/sub/b.py": "VALUE = __name__\n"}
    for name, text in files.items():
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        (tmp_path / name).write_text(text)
    codepack.build(str(tmp_path))
    return tmp_path


def probe(lib):
    p = subprocess.run([sys.executable, "-IS", "-c", PROBE.format(lib=str(lib), codepack=codepack.__file__)],
                       capture_output=True, text=True, check=True)
    return [line.split(" ") for line in p.stdout.splitlines()]


def test_modules_come_from_the_pack_with_their_files_and_packages(lib):
    assert probe(lib) == [
        ["pyrunc", "Finder", f"{lib}/pyrunc/__init__.py", "root"],
        ["pyrunc.a", "Finder", f"{lib}/pyrunc/a.py", "sub+a"],
        ["pyrunc.sub", "Finder", f"{lib}/pyrunc/sub/__init__.py", "sub"],
        ["pyrunc.sub.b", "Finder", f"{lib}/pyrunc/sub/b.py", "pyrunc.sub.b"]]


def test_a_source_edited_since_the_build_is_imported_as_it_is_now(lib):
    (lib / "pyrunc/sub/b.py").write_text("VALUE = 'edited'\n")
    assert probe(lib)[3] == ["pyrunc.sub.b", "SourceFileLoader", f"{lib}/pyrunc/sub/b.py", "edited"]
    assert probe(lib)[1][1] == "Finder"


def test_a_copy_of_the_install_reads_its_own_sources(lib, tmp_path_factory):
    copy = tmp_path_factory.mktemp("copy")
    subprocess.run(["cp", "-a", f"{lib}/.", str(copy)], check=True)
    (copy / "pyrunc/a.py").write_text("VALUE = 'weakened'\n")
    assert probe(copy)[1] == ["pyrunc.a", "SourceFileLoader", f"{copy}/pyrunc/a.py", "weakened"]
    assert probe(copy)[3][:3] == ["pyrunc.sub.b", "Finder", f"{copy}/pyrunc/sub/b.py"]


@pytest.mark.parametrize("damage", ["another interpreter", "cut short", "index cut short", "missing"])
def test_a_pack_it_cannot_trust_is_not_used(lib, damage):
    pack = lib / codepack.PACK
    data = pack.read_bytes()
    if damage == "another interpreter":
        pack.write_bytes(b"\0\0\r\n" + data[4:])
    elif damage == "cut short":
        pack.write_bytes(data[:-1])
    elif damage == "index cut short":
        pack.write_bytes(data[:len(codepack.HEADER) + 10])
    else:
        pack.unlink()
    assert {row[1] for row in probe(lib)} == {"SourceFileLoader"}


def test_the_pack_holds_what_pythons_import_compiles(lib):
    import marshal
    data = (lib / codepack.PACK).read_bytes()
    length = int.from_bytes(data[len(codepack.HEADER):len(codepack.HEADER) + 4], "little")
    start = len(codepack.HEADER) + 4
    index = marshal.loads(data[start:start + length])
    assert sorted(index) == ["pyrunc", "pyrunc.a", "pyrunc.sub", "pyrunc.sub.b"]
    source, package, size, mtime_ns, offset, length_b = index["pyrunc.a"]
    code = marshal.loads(data[start + length + offset:start + length + offset + length_b])
    path = str(lib / source)
    assert (source, package, size) == ("pyrunc/a.py", False, os.stat(path).st_size)
    assert code.co_code == compile(open(path, "rb").read(), path, "exec", dont_inherit=True).co_code
