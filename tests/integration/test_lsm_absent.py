"""AppArmor profiles and SELinux labels on a host without either LSM: refused in runc 1.1.5's words, never
dropped (the node VM, tests/node/test_apparmor.py, has AppArmor and applies them)."""
import json

import pytest

from pyrunc.linux import lsm

pytestmark = [pytest.mark.agnostic, pytest.mark.crun_differs("crun's messages are its own")]

APPARMOR = "apparmor failed to apply profile"


@pytest.fixture(autouse=True)
def no_lsm():
    if lsm.apparmor_enabled() or lsm.selinux_enabled():
        pytest.skip("this host has AppArmor or SELinux")


def refused(p, code, words):
    assert p.returncode == code, (p.returncode, p.stderr)
    assert words in p.stderr, p.stderr
    assert "RAN" not in p.stdout


@pytest.mark.parametrize("field,value,words", [
    ("apparmorProfile", "pyrunc-test", APPARMOR),
    ("selinuxLabel", "system_u:system_r:container_t:s0", lsm.SELINUX_DISABLED)])
def test_run_refuses_confinement_it_cannot_apply(rt, bundle, field, value, words):
    bundle.config["process"][field] = value
    bundle.set_args("echo", "RAN")
    refused(rt.run("run", "-b", bundle.path, "lsm1", check=False), 1, words)
    assert "lsm1" not in rt.ids()


def test_exec_refuses_confinement_it_cannot_apply(rt, running, tmp_path):
    refused(rt.run("exec", "--apparmor", "pyrunc-test", running, "echo", "RAN", check=False), 255, APPARMOR)
    refused(rt.run("exec", "--process-label", "system_u:system_r:container_t:s0", running, "echo", "RAN",
                   check=False), 255, lsm.SELINUX_DISABLED)
    for field, value, words in (("apparmorProfile", "pyrunc-test", APPARMOR), ("selinuxLabel", "x:y:z:s0",
                                                                                lsm.SELINUX_DISABLED)):
        path = tmp_path / f"{field}.json"
        path.write_text(json.dumps({"args": ["echo", "RAN"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                                    field: value}))
        refused(rt.run("exec", "--process", str(path), running, check=False), 255, words)
    # the container is unharmed
    assert rt.run("exec", running, "echo", "RAN").stdout == "RAN\n"


def test_mount_label_is_ignored_without_selinux(rt, bundle, is_pyrunc):
    """Kept difference: runc 1.1.5 adds context= anyway and the kernel fails its first tmpfs (EINVAL)."""
    if not is_pyrunc:
        pytest.skip("runc 1.1.5 fails the mount instead")
    bundle.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0"
    bundle.set_args("sh", "-c", "grep -c context= /proc/self/mountinfo; echo RAN")
    p = rt.run("run", "-b", bundle.path, "lsm2", check=False)
    assert (p.returncode, p.stdout) == (0, "0\nRAN\n"), p.stderr


def test_features_reports_both_supported(rt):
    """runtime-spec: support in the runtime, whatever the host has (runc says true for both)."""
    linux = json.loads(rt.run("features").stdout)["linux"]
    assert linux["apparmor"] == {"enabled": True} and linux["selinux"] == {"enabled": True}

