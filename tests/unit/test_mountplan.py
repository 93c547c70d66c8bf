"""mountplan.py: the option table and the per-mount plan."""
import pytest

from pyrunc.errors import BadConfig
from pyrunc.linux import mountplan as mp
from pyrunc.linux import syscalls as S


def test_flags_clear_and_data():
    o = mp.parse_options(["nosuid", "nodev", "ro", "rw", "mode=755", "size=64k", "strictatime"])
    assert o["flags"] == S.MS_NOSUID | S.MS_NODEV | S.MS_STRICTATIME
    assert o["clear"] & S.MS_RDONLY
    assert o["data"] == "mode=755,size=64k"


def test_propagation_recursive_and_extensions():
    o = mp.parse_options(["rbind", "rprivate", "rro", "rnosuid", "tmpcopyup"])
    assert o["flags"] == S.MS_BIND | S.MS_REC
    assert o["propagation"] == [S.MS_PRIVATE | S.MS_REC]
    assert o["attr_set"] == S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID
    assert o["extensions"] == ["tmpcopyup"]


def test_atime_recursive_options_clear_the_atime_field():
    o = mp.parse_options(["rnoatime"])
    assert o["attr_set"] == S.MOUNT_ATTR_NOATIME and o["attr_clr"] == S.MOUNT_ATTR__ATIME


def test_bind_source_is_relative_to_the_bundle():
    step = mp.plan_mount({"destination": "/data", "type": "bind", "source": "vol", "options": ["ro"]}, 0, "/b")
    assert step["kind"] == "bind" and step["source"] == "/b/vol"
    assert step["flags"] & S.MS_BIND and step["flags"] & S.MS_RDONLY


def test_destination_is_cleaned():
    step = mp.plan_mount({"destination": "/a/../../etc//x/", "type": "tmpfs", "source": "tmpfs"}, 0, "/b")
    assert step["dest"] == "/etc/x"


@pytest.mark.parametrize("m,err", [
    ({"destination": "rel", "type": "tmpfs"}, "not an absolute path"),
    ({"destination": "/x", "type": "bind"}, "needs a source"),
    ({"destination": "/x"}, "type: required"),
    ({"destination": "/x", "type": "tmpfs", "options": ["idmap"]}, "idmap is only supported on bind"),
])
def test_bad_mounts(m, err):
    with pytest.raises(BadConfig, match=err):
        mp.plan_mount(m, 3, "/b")


def test_devices_merge_defaults_and_config():
    devs = mp.device_steps([{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600},
                            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}], True)
    paths = [d["path"] for d in devs]
    assert paths.count("/dev/null") == 1 and paths[-1] == "/dev/fuse"
    assert next(d for d in devs if d["path"] == "/dev/null")["mode"] == 0o600


def test_dev_setup_only_when_dev_is_ours():
    ours = [mp.plan_mount({"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}, 0, "/b")]
    bound = [mp.plan_mount({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}, 0, "/b")]
    assert mp.needs_dev_setup(ours) and not mp.needs_dev_setup(bound)


MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _idmapped(options, **extra):
    return mp.plan_mount(dict({"destination": "/x", "type": "bind", "source": "/s", "options": options}, **extra), 0, "/b")


def test_mappings_alone_make_an_idmapped_mount():
    # runc 1.2+: uidMappings/gidMappings without idmap/ridmap mean a (non-recursive) idmap
    step = _idmapped(["bind"], uidMappings=MAP, gidMappings=MAP)
    assert step["extensions"] == ["idmap"]


@pytest.mark.parametrize("ns,expect", [
    ({"join": [], "new": ["user", "mount"]}, {"uid_mappings": MAP, "gid_mappings": MAP}),
    ({"join": [["user", "/proc/7/ns/user"]], "new": ["mount"]}, {"userns_path": "/proc/7/ns/user"}),
])
def test_idmap_without_mappings_takes_the_containers_user_namespace(ns, expect):
    mounts = [_idmapped(["rbind", "ridmap"])]
    mp.imply_idmaps(mounts, ns, MAP, MAP)
    assert {k: mounts[0].get(k) for k in expect} == expect


def test_idmap_without_mappings_or_a_user_namespace_is_refused():
    with pytest.raises(BadConfig, match="id-mapped mounts must have both uid and gid mappings"):
        mp.imply_idmaps([_idmapped(["bind", "idmap"])], {"join": [], "new": ["mount"]}, [], [])
