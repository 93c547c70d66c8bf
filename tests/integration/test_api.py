"""The Python API: pyrunc.Container and pyrunc.check, used directly (the CLI is a layer over them)."""
import os
import sys

import pytest

from tests.support.helpers import wait_for
from tests.support.runtime import install_prefix, runtime_path


@pytest.fixture
def pyrunc_api(is_pyrunc):
    """The installed package, imported into this test process."""
    if not is_pyrunc:
        pytest.skip("pyrunc's own API")
    lib = os.path.join(install_prefix(runtime_path()), "lib", "pyrunc")
    sys.path.insert(0, lib)
    try:
        import pyrunc
        yield pyrunc
    finally:
        sys.path.remove(lib)


def test_lifecycle_exec_and_cgroups(pyrunc_api, rt, bundle, tmp_path):
    bundle.set_args("sleep", "60")
    c = pyrunc_api.Container("api1", root=rt.root)
    out = tmp_path / "out"
    # the container's stdio is this process's: point it at a file for the duration of create
    saved = os.dup(1)
    with open(out, "w") as f:
        os.dup2(f.fileno(), 1)
        try:
            pid = c.create(bundle.path)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    try:
        assert c.status == "created" and c.pid == pid
        c.start()
        assert c.status == "running"
        assert pid in c.ps()
        c.pause()
        assert c.status == "paused"
        c.resume()
        c.update({"pids": {"limit": 123}})
        assert c.stats()["pids"]["limit"] == 123
        assert c.exec(["sh", "-c", "exit 4"]) == 4
        assert [x.id for x in pyrunc_api.containers(root=rt.root)] == ["api1"]
        c.kill("KILL")
        wait_for(lambda: c.status == "stopped", what="kill")
    finally:
        c.delete(force=True)
    with pytest.raises(pyrunc_api.Error, match="container api1 does not exist"):
        c.state()


def test_check(pyrunc_api, bundle):
    report = pyrunc_api.check(bundle.path)
    assert report.ok
    bundle.set_args("no-such")
    report = pyrunc_api.check(bundle.path)
    assert not report.ok and any(f["pointer"] == "/process/args/0" for f in report.findings)
