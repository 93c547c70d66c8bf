"""AppArmor profiles on a node (runs in the guest of `make test-node`): the container's process is confined by
`process.apparmorProfile`, `exec --apparmor` and `exec --process`, with pyrunc as with runc 1.1.5 side by side,
and a fake /proc never takes the profile in place of the kernel (CVE-2019-16884)."""
import json
import os
import subprocess

import pytest

from tests.support.helpers import create
from tests.support.runtime import Runtime, runtime_path
from tests.support.weaken import weakened

pytestmark = pytest.mark.node

RUNC = "/usr/sbin/runc"
# what the container shows: its own label, then whether it may read the file the profile denies
SHOW = "cat /proc/self/attr/current; cat /secret 2>&1; echo rc=$?"
PROFILES = "/sys/kernel/security/apparmor/profiles"


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def loaded():
    with open(PROFILES) as f:
        return {line.rsplit(" (", 1)[0] for line in f}


@pytest.fixture(params=["pyrunc", "runc"])
def rts(request, tmp_path):
    """pyrunc and runc, each with a private root; nothing may be left behind."""
    root = tmp_path / f"state-{request.param}"
    root.mkdir()
    rt = Runtime(runtime_path() if request.param == "pyrunc" else RUNC, str(root))
    yield rt
    left = rt.ids()
    rt.cleanup()
    assert not left, left


@pytest.fixture
def bundle_secret(bundle):
    with open(os.path.join(bundle.rootfs, "secret"), "w") as f:
        f.write("visible\n")
    return bundle


def load_profile(tmp_path, name):
    """A profile that allows everything but reading /secret (as the container sees it), loaded; its file."""
    path = tmp_path / f"{name}.profile"
    path.write_text(f"abi <abi/3.0>,\nprofile {name} flags=(attach_disconnected,mediate_deleted) {{\n"
                    "  file,\n  capability,\n  network,\n  unix,\n  signal,\n  ptrace,\n  mount,\n  umount,\n"
                    "  pivot_root,\n  deny /secret r,\n}\n")
    p = run("apparmor_parser", "--replace", "--skip-cache", str(path))
    assert p.returncode == 0, p.stderr
    assert name in loaded()
    return path


@pytest.fixture
def profile(tmp_path):
    name = f"pyrunc-node-aa-{os.getpid()}"
    path = load_profile(tmp_path, name)
    yield name
    assert run("apparmor_parser", "--remove", str(path)).returncode == 0


def confined(name):
    return f"{name} (enforce)\ncat: can't open '/secret': Permission denied\nrc=1\n"


UNCONFINED = "unconfined\nvisible\nrc=0\n"


def run_container(rt, bundle, cid, profile=None):
    if profile:
        bundle.config["process"]["apparmorProfile"] = profile
    bundle.set_args("sh", "-c", SHOW)
    p = rt.run("run", "-b", bundle.path, cid, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_process_apparmor_profile_confines_the_process(rts, bundle_secret, profile):
    assert run_container(rts, bundle_secret, "aa-none") == UNCONFINED
    assert run_container(rts, bundle_secret, "aa-conf", profile) == confined(profile)


def test_exec_apparmor_and_process_json(rts, bundle_secret, profile, tmp_path):
    bundle_secret.set_args("sleep", "300")
    create(rts, bundle_secret, "aa-exec")
    try:
        rts.run("start", "aa-exec")
        assert rts.run("exec", "aa-exec", "sh", "-c", SHOW).stdout == UNCONFINED
        assert rts.run("exec", "--apparmor", profile, "aa-exec", "sh", "-c", SHOW).stdout == confined(profile)
        spec = tmp_path / "process.json"
        spec.write_text(json.dumps({"args": ["sh", "-c", SHOW], "cwd": "/", "user": {"uid": 0, "gid": 0},
                                    "env": bundle_secret.config["process"]["env"], "apparmorProfile": profile}))
        assert rts.run("exec", "--process", str(spec), "aa-exec").stdout == confined(profile)
    finally:
        rts.run("delete", "--force", "aa-exec")


def test_exec_takes_the_profile_of_its_process(rts, bundle_secret, profile, tmp_path):
    """runc 1.1.5: exec's process is config.json's, profile included, unless --process gives another one,
    whose own profile (none here) is the only one: the container keeps none for it (specconv)."""
    bundle_secret.config["process"]["apparmorProfile"] = profile
    bundle_secret.set_args("sleep", "300")
    create(rts, bundle_secret, "aa-inh")
    try:
        rts.run("start", "aa-inh")
        assert rts.run("exec", "aa-inh", "sh", "-c", SHOW).stdout == confined(profile)
        spec = tmp_path / "process.json"
        spec.write_text(json.dumps({"args": ["sh", "-c", SHOW], "cwd": "/", "user": {"uid": 0, "gid": 0},
                                    "env": bundle_secret.config["process"]["env"]}))
        assert rts.run("exec", "--process", str(spec), "aa-inh").stdout == UNCONFINED
    finally:
        rts.run("delete", "--force", "aa-inh")


def test_profile_not_loaded_fails(rts, bundle_secret):
    """A profile the kernel does not know: the process never runs."""
    bundle_secret.config["process"]["apparmorProfile"] = "pyrunc-no-such-profile"
    bundle_secret.set_args("echo", "RAN")
    p = rts.run("run", "-b", bundle_secret.path, "aa-missing", check=False)
    assert p.returncode != 0 and "RAN" not in p.stdout
    assert "apparmor failed to apply profile" in p.stderr and "no such file or directory" in p.stderr, p.stderr


def test_profile_not_loaded_fails_create(rts, bundle_secret):
    """... and fails `create` itself, as runc's (its init writes the profile during create); nothing is
    left (the fixture checks the ids), and an `exec` asking for it fails before any process runs."""
    bundle_secret.config["process"]["apparmorProfile"] = "pyrunc-no-such-profile"
    p = create(rts, bundle_secret.save(), "aa-missing", check=False)
    with open(p.out_path) as f:
        out = f.read()
    assert p.returncode == 1, out
    assert "apparmor failed to apply profile" in out and "no such file or directory" in out, out
    del bundle_secret.config["process"]["apparmorProfile"]
    create(rts, bundle_secret.set_args("sleep", "300"), "aa-exec-missing")
    try:
        rts.run("start", "aa-exec-missing")
        p = rts.run("exec", "--apparmor", "pyrunc-no-such-profile", "aa-exec-missing", "echo", "RAN", check=False)
        assert p.returncode != 0 and "RAN" not in p.stdout, p.stdout
        assert "no such file or directory" in p.stderr, p.stderr
    finally:
        rts.run("delete", "--force", "aa-exec-missing")


@pytest.mark.parametrize("name", ["cri-containerd.apparmor.d", "containers-default-0.50.1"])
def test_containerd_and_podman_profile_names(rts, bundle_secret, tmp_path, name):
    """The names containerd's CRI and podman give their default profiles.  One already loaded (by
    containerd or podman) is used as it is, and only the label is checked."""
    ours = name not in loaded()
    path = load_profile(tmp_path, name) if ours else None
    try:
        out = run_container(rts, bundle_secret, "aa-named", name)
        assert out == confined(name) if ours else out.startswith(f"{name} (enforce)\n")
    finally:
        if ours:
            assert run("apparmor_parser", "--remove", str(path)).returncode == 0


# ------------------------------------------------------------------ CVE-2019-16884: a fake /proc

def check_fake_proc(rt, bundle, profile):
    """A tmpfs over /proc, after the real one, with the attribute files a runtime writes the profile to
    (made by a createContainer hook): the process must not run unconfined."""
    bundle.config["process"]["apparmorProfile"] = profile
    fake = os.path.join(bundle.rootfs, "proc")
    tree = " ".join(f"{fake}/{d}/attr/apparmor" for d in ("self", "thread-self"))
    files = " ".join(f"{fake}/{d}/attr/{f}" for d in ("self", "thread-self") for f in ("exec", "apparmor/exec"))
    bundle.config["mounts"].append({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"})
    bundle.config.setdefault("hooks", {})["createContainer"] = [
        {"path": "/bin/sh", "args": ["sh", "-c", f"mkdir -p {tree} && touch {files}"]}]
    bundle.set_args("sh", "-c", "echo RAN")
    p = rt.run("run", "-b", bundle.path, "aa-fake", check=False)
    rt.run("delete", "--force", "aa-fake", check=False)
    if "RAN" in p.stdout:
        return [f"the process ran unconfined under a fake /proc (exit {p.returncode})"]
    assert "not on procfs" in p.stderr, p.stderr
    return []


def test_fake_proc_never_takes_the_profile(rts, bundle_secret, profile):
    assert check_fake_proc(rts, bundle_secret, profile) == []


def test_fake_proc_check_catches_a_weakened_build(bundle_secret, profile, tmp_path):
    root = tmp_path / "weak-state"
    root.mkdir()
    weak = Runtime(weakened(runtime_path(), "label-any-fs", tmp_path / "weak"), str(root))
    problems = check_fake_proc(weak, bundle_secret, profile)
    weak.cleanup()
    assert problems, "the check did not notice the label-any-fs weakening"
