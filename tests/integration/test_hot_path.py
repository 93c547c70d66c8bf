"""The CLI's hot path stays import-light (not timed: the set of modules each call imports)."""
import os
import subprocess
import sys

import pytest

from tests.support.helpers import create, wait_for
from tests.support.runtime import Runtime, python_cli, uses_front_end
from tests.support.weaken import copy_install

# modules no hot-path command may pull in: each costs milliseconds per call
FORBIDDEN = {"json", "re", "enum", "argparse", "subprocess", "signal", "socket", "threading",
             "typing", "selectors", "_cffi_backend", "pyrunc._native", "pyrunc._seccomp", "pyroute2",
             "jsonschema", "hashlib", "shutil", "tempfile", "traceback", "resource", "os",
             # --systemd-cgroup's D-Bus client and driver: loaded only with the flag
             "jeepney", "pyrunc.cgroups.sdbus", "pyrunc.cgroups.systemd"}


def imported(rt, *args):
    """Module names a runtime call imports (python -X importtime on the installed Python CLI)."""
    p = subprocess.run([sys.executable, "-IS", "-X", "importtime", python_cli(rt.path), "--root", rt.root, *args],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    names = set()
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "imported package" not in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names, p


def test_hot_path_imports(rt, bundle, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own import graph")
    bundle.set_args("sleep", "30")
    create(rt, bundle, "hot")
    seen = {}
    try:
        for args in (["state", "hot"], ["start", "hot"], ["kill", "hot", "0"], ["kill", "hot", "KILL"]):
            names, p = imported(rt, *args)
            assert p.returncode == 0, p.stderr[-500:]
            seen[args[0]] = names
    except AssertionError:
        rt.run("delete", "--force", "hot")
        raise
    wait_for(lambda: rt.status("hot") == "stopped", what="KILL")
    names, p = imported(rt, "delete", "hot")
    assert p.returncode == 0, p.stderr[-500:]
    seen["delete"] = names
    for cmd, names in seen.items():
        assert not names & FORBIDDEN, f"{cmd} imports {sorted(names & FORBIDDEN)}"
        assert "pyrunc.cli" in names     # the measurement really saw pyrunc


def in_cli_process(rt, tmp_path, code):
    """Run `code` in a Python set up as the installed CLI is (its sys.path), stdio to a file;
    (the process, its output's tail)."""
    with open(python_cli(rt.path)) as f:
        setup = "".join(line for line in f if line.startswith(("import sys", "sys.path")))
    with open(tmp_path / "stdio", "w") as o:
        p = subprocess.run([sys.executable, "-IS", "-c", setup + code], stdin=subprocess.DEVNULL, stdout=o, stderr=o)
    return p, (tmp_path / "stdio").read_text()[-500:]


def test_create_cli_process_imports_no_os(rt, bundle, tmp_path, is_pyrunc):
    """create's own process (not the container's stages, which may) stays off os.py and friends."""
    if not is_pyrunc:
        pytest.skip("pyrunc's own import graph")
    out = tmp_path / "modules"
    p, output = in_cli_process(rt, tmp_path, (
        "from pyrunc.api import Container\n"
        f"Container('hotc', root={rt.root!r}).create({bundle.path!r})\n"
        f"open({str(out)!r}, 'w').write(' '.join(sys.modules))\n"))
    try:
        assert p.returncode == 0, output
        names = set(out.read_text().split())
        assert "pyrunc.create" in names and "pyrunc.config" in names
        allowed = {"_cffi_backend", "pyrunc._native", "socket", "signal"}   # mounts and the stage channel
        assert not names & (FORBIDDEN - allowed), sorted(names & FORBIDDEN)
        # only for hooks, an interrupted create to clean up, a console socket, a seccomp listener
        lazy = {"pyrunc.lifecycle", "pyrunc.hooks", "pyrunc.unixsock"}
        assert not names & lazy, sorted(names & lazy)
    finally:
        rt.run("delete", "--force", "hotc")


def test_create_runs_no_garbage_collection(rt, bundle, tmp_path, is_pyrunc):
    """The installed entry point holds the cyclic collector off for a command's few thousand objects:
    each collection after stage 1's fork copies the pages it touches (2-3 ms of `create`).
    Counted from the entry point on, in the CLI and in the stages it forks."""
    if not is_pyrunc:
        pytest.skip("pyrunc's own collector settings")
    log = tmp_path / "collections"
    p, output = in_cli_process(rt, tmp_path, (
        "import gc, posix\n"
        "from pyrunc.cli import run_and_exit\n"
        f"gc.callbacks.append(lambda phase, info: phase == 'start' and open({str(log)!r}, 'a').write(f'{{posix.getpid()}} '))\n"
        f"run_and_exit(['--root', {rt.root!r}, 'create', '--bundle', {bundle.path!r}, 'hotg'])\n"))
    try:
        assert p.returncode == 0, output
        assert rt.status("hotg") == "created"
        assert not log.exists(), f"collections during create in pids {log.read_text()}"
    finally:
        rt.run("delete", "--force", "hotg")


def bootstrap_copy(rt, tmp_path, prelude):
    """A copy of the install whose pyrunc-bootstrap script runs `prelude` before stage 1's code,
    and the front end of that copy as a Runtime."""
    copy = str(tmp_path / "copy")
    copy_install(rt.path, copy)
    script = os.path.join(copy, "lib", "pyrunc", "pyrunc-bootstrap")
    with open(script) as f:
        text = f.read()
    entry = "from pyrunc.process.entry import spawned"
    assert text.count(entry) == 1
    with open(script, "w") as f:
        f.write(text.replace(entry, prelude + entry))
    return Runtime(os.path.join(copy, "bin", "pyrunc"), rt.root)


def test_the_front_ends_bootstrap_process_runs_no_garbage_collection(rt, bundle, tmp_path, is_pyrunc):
    """Stage 1 started by the front end (process/early.py) is no fork of the CLI: its script sets
    the collector's threshold itself.  Counted in a copy of the install whose bootstrap script logs
    every collection of that process and of the init it forks."""
    if not is_pyrunc or not uses_front_end():
        pytest.skip("pyrunc's front end and its collector settings")
    log = tmp_path / "collections"
    front = bootstrap_copy(rt, tmp_path, (
        "import gc, posix\n"
        f"gc.callbacks.append(lambda phase, info: phase == 'start' and open({str(log)!r}, 'a').write(f'{{posix.getpid()}} '))\n"
        f"open({str(log)!r} + '.ran', 'w').close()\n"))
    create(front, bundle, "hotb")
    try:
        assert os.path.exists(str(log) + ".ran"), "the copy's bootstrap script did not run"
        assert not log.exists(), f"collections during create in pids {log.read_text()}"
    finally:
        rt.run("delete", "--force", "hotb")


def test_the_stages_import_no_os(rt, bundle, tmp_path, is_pyrunc):
    """What stage 1 has imported when it stops importing (for itself and the init it forks): no
    os.py and friends either (2 ms of its CPU, on the core the CLI's work shares)."""
    if not is_pyrunc or not uses_front_end():
        pytest.skip("pyrunc's front end and its stages")
    out = tmp_path / "modules"
    front = bootstrap_copy(rt, tmp_path, (
        "from pyrunc.process import guard\n"
        "block = guard.block_imports\n"
        f"guard.block_imports = lambda: (open({str(out)!r}, 'w').write(' '.join(sys.modules)), block())\n"))
    create(front, bundle, "hots")
    try:
        names = set(out.read_text().split())
        assert "pyrunc.linux.rootfs" in names and "pyrunc.process.init" in names
        allowed = {"_cffi_backend", "pyrunc._native", "socket", "signal", "resource"}   # syscalls, rlimits
        assert not names & (FORBIDDEN - allowed), sorted(names & (FORBIDDEN - allowed))
    finally:
        rt.run("delete", "--force", "hots")


@pytest.mark.parametrize("script", ["pyrunc-cli", "pyrunc-bootstrap"])
def test_the_installed_scripts_import_pyrunc_from_its_codepack(rt, tmp_path, is_pyrunc, script):
    """Both scripts import pyrunc's modules from the install's codepack (about 50 us each less than
    Python's path finder), and a module edited since the install (a weakened copy's) as it is now."""
    if not is_pyrunc:
        pytest.skip("pyrunc's install")
    copy = str(tmp_path / "copy")
    copy_install(rt.path, copy)
    lib = os.path.join(copy, "lib", "pyrunc")
    with open(os.path.join(lib, "pyrunc", "state.py"), "a") as f:
        f.write("\nEDITED = True\n")
    with open(os.path.join(lib, script)) as f:
        setup = f.read().splitlines()[:-1]       # all but the entry point's call
    assert any(line.startswith("codepack.install(") for line in setup)
    check = ("import pyrunc.lifecycle, pyrunc.state\n"
             "print(type(pyrunc.lifecycle.__loader__).__name__, pyrunc.lifecycle.__file__,"
             " type(pyrunc.state.__loader__).__name__, pyrunc.state.EDITED)\n")
    p = subprocess.run([sys.executable, "-IS", "-c", "\n".join(setup) + "\n" + check],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert p.stdout.split() == ["Finder", os.path.join(lib, "pyrunc", "lifecycle.py"), "SourceFileLoader", "True"], \
        p.stderr[-500:]
