"""The CLI's hot path stays import-light (not timed: the set of modules each call imports)."""
import os
import subprocess
import sys

import pytest

from tests.support.helpers import create, wait_for

# modules no hot-path command may pull in: each costs milliseconds per call
FORBIDDEN = {"json", "re", "enum", "argparse", "subprocess", "signal", "socket", "threading",
             "typing", "selectors", "_cffi_backend", "pyrunc._native", "pyrunc._seccomp", "pyroute2",
             "jsonschema", "hashlib", "shutil", "tempfile", "traceback", "resource", "os"}


def python_cli(rt):
    """The installed Python CLI (PREFIX/lib/pyrunc/pyrunc-cli) behind the front end PREFIX/bin/pyrunc."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(rt.path))), "lib", "pyrunc", "pyrunc-cli")


def imported(rt, *args):
    """Module names a runtime call imports (python -X importtime on the installed Python CLI)."""
    p = subprocess.run([sys.executable, "-IS", "-X", "importtime", python_cli(rt), "--root", rt.root, *args],
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
