"""The installed package's modules as one file of code objects (the installed scripts' processes: CLI and stage 1).

Why (README "Performance"): an import through Python's path finder costs
50-90 us here even for an empty module (stat calls, the directory cache,
opening and checking its .pyc), and the CLI's `create` imports about 65 of
pyrunc's modules: 3-5 ms of its critical path.  `make install` writes the
code object of every module of the package into <lib>/PACK (build()); the
installed scripts put a finder first on sys.meta_path (install()) that takes
a module from that file when its source is still the file the pack was
built from (same size and modification time: an edited install, such as the
tests' weakened copies, imports the edited file as Python would) and leaves
every other import (extension modules, other packages) to Python's finders.
Only the index is read at start, each module's code when it is imported,
the file open only meanwhile: no descriptor of ours stays open for a child
to inherit (or for `--preserve-fds` to mistake for the caller's).

Import-light: marshal, posix and the import system's own ModuleSpec, all
built in.
"""
import marshal
import posix
import sys
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER

PACK = "pyrunc.codepack"
HEADER = MAGIC_NUMBER + b"pyrunc-codepack\n"   # this interpreter's bytecode, then our format's name


class Finder:
    """A meta path finder and loader for the modules of one pack."""

    def __init__(self, lib, base, index):
        self.lib = lib          # the install: its pack, and the sources the index names below it
        self.pack = f"{lib}/{PACK}"
        self.base = base        # where the code objects start, marshalled one after the other
        self.index = index      # module name -> (source path below lib, is a package, size, mtime_ns, offset, length)

    def find_spec(self, name, path=None, target=None):
        entry = self.index.get(name)
        if entry is None:
            return None
        source, package, size, mtime_ns = entry[:4]
        source = f"{self.lib}/{source}"     # a copy of the install reads its own sources
        try:
            st = posix.stat(source)
        except OSError:
            return None
        if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            return None     # edited since `make install`: Python's own finder compiles the file
        spec = ModuleSpec(name, self, origin=source, is_package=package)
        spec.has_location = True            # __file__, which exeseal and preflight use
        if package:
            spec.submodule_search_locations = [source.rpartition("/")[0]]   # extension modules, edited files
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        offset, length = self.index[module.__spec__.name][4:]
        exec(marshal.loads(_pread(self.pack, length, self.base + offset)), module.__dict__)


def _pread(path, length, offset):
    """`length` bytes of the file at `offset` (the file opened only meanwhile: no descriptor stays)."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        data = posix.pread(fd, length, offset)
    finally:
        posix.close(fd)
    if len(data) != length:
        raise ImportError(f"{path} changed while pyrunc ran (reinstalled?)")
    return data


def install(lib):
    """Put the pack of the install at `lib` first on sys.meta_path; nothing if it is missing, was
    built by another interpreter or is not whole."""
    try:
        fd = posix.open(f"{lib}/{PACK}", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        size = posix.fstat(fd).st_size
        head = posix.pread(fd, len(HEADER) + 4, 0)
        if not head.startswith(HEADER) or len(head) != len(HEADER) + 4:
            return
        length = int.from_bytes(head[len(HEADER):], "little")
        index = marshal.loads(posix.pread(fd, length, len(head)))
    except (OSError, EOFError, ValueError, TypeError):
        return
    finally:
        posix.close(fd)
    base = len(head) + length
    if size != base + sum(entry[5] for entry in index.values()):
        return
    sys.meta_path.insert(0, Finder(lib, base, index))


def build(lib):
    """Write <lib>/PACK from the package's sources below `lib` (at install, by the interpreter the
    scripts run): each compiled as Python's import compiles it, under its installed path."""
    import os
    index, blobs, offset = {}, [], 0
    top = os.path.join(lib, "pyrunc")
    for dirpath, dirnames, filenames in sorted(os.walk(top)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            source = os.path.join(dirpath, f)
            parts = os.path.relpath(source, lib)[:-3].split(os.sep)
            package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if package else parts)
            with open(source, "rb") as fh:
                code = compile(fh.read(), source, "exec", dont_inherit=True)
            blob = marshal.dumps(code)
            st = os.stat(source)
            index[name] = (os.path.relpath(source, lib), package, st.st_size, st.st_mtime_ns, offset, len(blob))
            blobs.append(blob)
            offset += len(blob)
    head = marshal.dumps(index)     # offsets count from the end of the index
    tmp = os.path.join(lib, f".{PACK}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(HEADER + len(head).to_bytes(4, "little") + head + b"".join(blobs))
    os.replace(tmp, os.path.join(lib, PACK))


if __name__ == "__main__":
    build(sys.argv[1])
