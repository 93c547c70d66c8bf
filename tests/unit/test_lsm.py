"""The LSM plan, without root and without SELinux (no SELinux host can be booted here): what pyrunc would write
where.  AppArmor is applied for real in the node VM (tests/node/test_apparmor.py)."""
import pytest

from pyrunc import config, execproc, plan, spec
from pyrunc.cgroups.null import NullManager
from pyrunc.linux import final, initabi, lsm, rootfs

LABEL = "system_u:object_r:container_file_t:s0:c1,c2"     # an MLS label holds a comma
PROCESS_LABEL = "system_u:system_r:container_t:s0:c1,c2"


def test_mount_data_is_go_selinux_format_mount_label():
    assert lsm.mount_data("", LABEL) == f'context="{LABEL}"'
    assert lsm.mount_data("mode=755,size=65536k", LABEL) == f'mode=755,size=65536k,context="{LABEL}"'
    assert lsm.mount_data("mode=755", "") == "mode=755"


def test_the_quoted_context_reaches_the_filesystem_whole():
    """fsconfig gets one key and value each: SELinux's own parser would keep the quoted commas and drop the quotes."""
    assert rootfs._data_options("tmpfs", f'mode=755,context="{LABEL}",size=1m') == [
        "mode=755", f"context={LABEL}", "size=1m"]
    assert lsm.split_data('a="b,c",d') == ['a="b', 'c"', "d"]       # only SELinux's keys are quoted


def config_doc(tmp_path):
    doc = spec.example()
    doc["linux"]["mountLabel"] = LABEL
    doc["linux"]["maskedPaths"] = ["/proc/acpi"]
    doc["mounts"] += [{"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind"]},
                      {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
                      {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}]
    doc["process"].update(selinuxLabel=PROCESS_LABEL, apparmorProfile="cri-containerd.apparmor.d")
    (tmp_path / "rootfs").mkdir()
    return doc


def build(tmp_path, monkeypatch, selinux):
    monkeypatch.setattr(lsm, "selinux_enabled", lambda: selinux)
    return config.build(config_doc(tmp_path), str(tmp_path), "c1", NullManager({}), ("none", []))


def test_with_selinux_runc_labels_these_mounts(tmp_path, monkeypatch):
    p = build(tmp_path, monkeypatch, True)
    plan.check(p)
    assert p["mount_label"] == LABEL
    data = {m["dest"]: m["data"] for m in p["mounts"]}
    # runc's mountToRootfs: tmpfs, devpts and any other filesystem get context=...
    assert data["/dev"].endswith(f',context="{LABEL}"')
    assert data["/dev/pts"].endswith(f',context="{LABEL}"')
    assert data["/dev/shm"].endswith(f',context="{LABEL}"')
    assert data["/scratch"] == f'size=1m,context="{LABEL}"'
    # ... but not procfs, sysfs (cannot be labelled), mqueue (an xattr instead), cgroup, nor a bind
    for dest in ("/proc", "/sys", "/dev/mqueue", "/sys/fs/cgroup", "/data"):
        assert "context=" not in data[dest], dest


def test_without_selinux_the_mount_label_is_ignored(tmp_path, monkeypatch):
    p = build(tmp_path, monkeypatch, False)
    assert p["mount_label"] == ""
    assert not any("context=" in m["data"] for m in p["mounts"])


def test_pyrunc_init_gets_the_labels_it_writes_before_execve(tmp_path, monkeypatch):
    p = build(tmp_path, monkeypatch, True)["process"]
    assert (p["selinux_label"], p["apparmor_profile"]) == (PROCESS_LABEL, "cri-containerd.apparmor.d")
    fields = final.label_fields(p)
    argv = initabi.argv(fields, "/bin/sh", ["sh"])
    assert f"selinux={PROCESS_LABEL}" in argv and "apparmor=cri-containerd.apparmor.d" in argv
    assert final.label_fields(dict(p, selinux_label="", apparmor_profile="")) == {}
    header = initabi.header()
    assert "K_APPARMOR" in header and '"selinux"' in header


@pytest.mark.parametrize("apparmor,selinux,problems", [
    (True, True, []),
    (False, True, ["/process/apparmorProfile: unable to apply apparmor profile: apparmor failed to apply profile: "
                   "AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled)"]),
    (True, False, ["/process/selinuxLabel: selinux label is specified in config, but selinux is disabled or not "
                   "supported"]),
])
def test_a_label_the_host_cannot_apply_is_refused(apparmor, selinux, problems):
    found = []
    lsm.check_process({"apparmorProfile": "p", "selinuxLabel": PROCESS_LABEL}, "/process", found, apparmor, selinux,
                      loaded={"p"})
    assert found == problems


@pytest.mark.parametrize("profile,loaded,refused", [
    ("p", {"p", "q//child"}, False),
    ("q//child", {"p", "q//child"}, False),
    ("pyrunc-no-such-profile", {"p"}, True),
    ("unconfined", set(), False),           # the kernel's own name for no profile
    (":ns:p", set(), False),                # another policy namespace: the write decides
    ("p//&q", set(), False),                # a stack: the write decides
    ("pyrunc-no-such-profile", None, False),    # the list could not be read: the write decides
])
def test_a_profile_the_kernel_has_not_loaded_is_refused(profile, loaded, refused):
    """runc's init writes the profile during create, where the kernel's ENOENT fails it."""
    found = []
    lsm.check_process({"apparmorProfile": profile}, "/process", found, apparmor=True, selinux=True, loaded=loaded)
    assert found == ([f"/process/apparmorProfile: unable to apply apparmor profile: apparmor failed to apply "
                      f"profile: write /proc/thread-self/attr/apparmor/exec: no such file or directory "
                      f"(no profile {profile!r} is loaded)"] if refused else [])


def test_loaded_profiles_as_securityfs_lists_them(monkeypatch, tmp_path):
    listing = tmp_path / "profiles"
    listing.write_text("docker-default (enforce)\n/usr/bin/man (complain)\nname with space (enforce)\n")
    monkeypatch.setattr(lsm, "APPARMOR_PROFILES", str(listing))
    assert lsm.loaded_profiles() == {"docker-default", "/usr/bin/man", "name with space"}
    monkeypatch.setattr(lsm, "APPARMOR_PROFILES", str(tmp_path / "absent"))
    assert lsm.loaded_profiles() is None


SAVED = {"args": ["sleep", "1"], "cwd": "/", "apparmorProfile": "saved-profile", "selinuxLabel": "saved:label"}


@pytest.fixture
def lsm_on(monkeypatch):
    monkeypatch.setattr(lsm, "apparmor_enabled", lambda: True)
    monkeypatch.setattr(lsm, "loaded_profiles", lambda: None)
    monkeypatch.setattr(lsm, "selinux_enabled", lambda: True)


def test_exec_labels_are_runcs(lsm_on, tmp_path):
    """The flags, else the process's own (the container's, copied, without --process), and for SELinux
    only, else the container's (runc's newInitConfig); with --process the flags are ignored (runc's
    getProcess returns before reading them)."""
    p = execproc.process_spec(SAVED, {}, ["true"])
    assert (p["apparmorProfile"], p["selinuxLabel"]) == ("saved-profile", "saved:label")
    p = execproc.process_spec(SAVED, {"apparmor": "flag-profile", "process-label": "flag:label"}, ["true"])
    assert (p["apparmorProfile"], p["selinuxLabel"]) == ("flag-profile", "flag:label")
    own = {"args": ["true"], "cwd": "/", "apparmorProfile": "own-profile"}
    p = execproc.process_spec(SAVED, {"process": own, "apparmor": "flag-profile"}, [])
    assert (p["apparmorProfile"], p["selinuxLabel"]) == ("own-profile", "saved:label")
    p = execproc.process_spec(SAVED, {"process": {"args": ["true"], "cwd": "/"}}, [])
    assert ("apparmorProfile" not in p, p["selinuxLabel"]) == (True, "saved:label")
