"""Rootless mode: pyrunc run by an unprivileged user (here nobody, uid 65534), as `spec --rootless` sets it up."""
import os
import subprocess

import pytest

from tests.support.helpers import make_rootless, wait_for
from tests.support.runtime import Runtime

NOBODY = 65534


@pytest.fixture
def rootless(rt, bundle, tmp_path):
    """(a Runtime that runs as nobody, its XDG_RUNTIME_DIR) with a rootless bundle."""
    xdg = tmp_path / "xdg"
    make_rootless(bundle, NOBODY, xdg)
    bundle.save()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(xdg))
    nobody = Runtime(rt.path, None)
    nobody.argv = lambda *args, **kw: ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                       rt.path] + [str(a) for a in args]
    yield nobody, env
    subprocess.run(nobody.argv("delete", "--force", "rl"), env=env, capture_output=True)
    assert not os.listdir(xdg / "pyrunc") if (xdg / "pyrunc").exists() else True


def run_as(rtl, env, *args, check=True, **kw):
    p = subprocess.run(rtl.argv(*args), env=env, text=True, capture_output=True, **kw)
    if check and p.returncode:
        raise AssertionError(f"{args}: {p.stderr}")
    return p


def test_rootless_lifecycle(rootless, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's rootless mode")
    rtl, env = rootless
    bundle.set_args("sh", "-c", "id -u; cat /proc/self/uid_map; grep ^CapEff /proc/self/status; hostname")
    out = tmp_path / "out"
    with open(out, "w") as o:
        p = subprocess.run(rtl.argv("create", "--bundle", bundle.path, "rl"), env=env, stdin=subprocess.DEVNULL,
                           stdout=o, stderr=o)
    assert p.returncode == 0, out.read_text()
    st = run_as(rtl, env, "state", "rl").stdout
    assert '"created"' in st
    pid = int(st.split('"pid": ')[1].split(",")[0])
    with open(f"/proc/{pid}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    assert uid_line.split()[1] == str(NOBODY)          # on the host, the init is nobody
    state_dir = tmp_path / "xdg" / "pyrunc" / "rl"
    assert state_dir.is_dir() and state_dir.stat().st_uid == NOBODY
    run_as(rtl, env, "start", "rl")
    wait_for(lambda: '"stopped"' in run_as(rtl, env, "state", "rl").stdout, what="exit")
    run_as(rtl, env, "delete", "rl")
    lines = out.read_text().split()
    assert lines[0] == "0"                             # root inside
    assert lines[1:4] == ["0", str(NOBODY), "1"]


def test_rootless_without_user_namespace_is_refused(rootless, bundle, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's rootless mode")
    rtl, env = rootless
    bundle.config["linux"]["namespaces"] = [{"type": "pid"}, {"type": "mount"}]
    del bundle.config["linux"]["uidMappings"], bundle.config["linux"]["gidMappings"]
    bundle.save()
    p = run_as(rtl, env, "create", "--bundle", bundle.path, "rl", check=False, stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert "rootless containers need a new user namespace" in p.stderr
