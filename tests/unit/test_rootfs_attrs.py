"""rootfs.py's translations for the new mount API: mount(2) flags to mount attributes, data to fsconfig options."""
import os

import pytest

from pyrunc.linux import rootfs
from pyrunc.linux import syscalls as S


def test_plain_flags_map_to_attributes():
    attr_set, attr_clr = rootfs.mount_attrs(S.MS_RDONLY | S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC | S.MS_BIND)
    assert attr_set == S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV | S.MOUNT_ATTR_NOEXEC
    assert attr_clr == 0        # no atime asked: a bind keeps its source's


def test_atime_flags_win_as_in_mount2():
    # mount(2): strictatime clears noatime and relatime; noatime beats relatime
    assert rootfs.mount_attrs(S.MS_NOATIME | S.MS_STRICTATIME) == (S.MOUNT_ATTR_STRICTATIME, S.MOUNT_ATTR__ATIME)
    assert rootfs.mount_attrs(S.MS_NOATIME | S.MS_RELATIME) == (S.MOUNT_ATTR_NOATIME, S.MOUNT_ATTR__ATIME)
    assert rootfs.mount_attrs(S.MS_RELATIME) == (S.MOUNT_ATTR_RELATIME, S.MOUNT_ATTR__ATIME)


def test_bind_attributes_are_those_of_a_bind_remount():
    # runc's MS_BIND|MS_REMOUNT: ro, nosuid, nodev, noexec, nosymfollow exactly as given, the
    # source's atime kept unless an atime flag is given
    keep_atime = S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NODEV | S.MOUNT_ATTR_NOEXEC | S.MOUNT_ATTR_NOSYMFOLLOW
    assert rootfs.bind_attrs(S.MS_BIND | S.MS_NOSUID) == (S.MOUNT_ATTR_NOSUID, keep_atime)
    assert rootfs.bind_attrs(S.MS_BIND | S.MS_RDONLY)[0] == S.MOUNT_ATTR_RDONLY


@pytest.mark.parametrize("flags,atime", [
    (S.MS_RELATIME, S.MOUNT_ATTR_RELATIME),                      # relatime, nodiratime cleared
    (S.MS_NOATIME | S.MS_RELATIME, S.MOUNT_ATTR_NOATIME),         # noatime wins over relatime
    (S.MS_STRICTATIME | S.MS_NOATIME, S.MOUNT_ATTR_STRICTATIME),  # strictatime wins over both
    (S.MS_NODIRATIME, S.MOUNT_ATTR_RELATIME | S.MOUNT_ATTR_NODIRATIME),   # relatime by default
])
def test_bind_atime_flags_replace_the_whole_atime(flags, atime):
    attr_set, attr_clr = rootfs.bind_attrs(S.MS_BIND | flags)
    assert attr_set == atime
    assert attr_clr & S.MOUNT_ATTR__ATIME == S.MOUNT_ATTR__ATIME
    assert bool(attr_clr & S.MOUNT_ATTR_NODIRATIME) == (not flags & S.MS_NODIRATIME)


def test_data_is_split_as_the_kernel_splits_it():
    assert rootfs._data_options("tmpfs", "mode=755,,size=64k,huge") == ["mode=755", "size=64k", "huge"]
    assert rootfs._data_options("tmpfs", "") == []
    # overlayfs keeps an escaped comma inside a path
    assert rootfs._data_options("overlay", r"lowerdir=/a\,b:/c,upperdir=/u,workdir=/w") == [
        r"lowerdir=/a\,b:/c", "upperdir=/u", "workdir=/w"]
    assert rootfs._data_options("overlay", r"lowerdir=/a\\,upperdir=/u") == [r"lowerdir=/a\\", "upperdir=/u"]


MOUNTINFO = """\
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 27 0:40 / /var/lib rw shared:7 master:2 - tmpfs t rw
41 40 0:41 / /var/lib/c rw - tmpfs t rw
42 40 0:42 / /var/lib/c2 rw unbindable - tmpfs t rw
"""


def test_the_mount_holding_the_rootfs_without_statmount():
    """Kernels before 6.8 (no statmount): the longest mountpoint on the rootfs's path, from mountinfo."""
    assert rootfs.holding_mount(MOUNTINFO, "/var/lib/c/b/rootfs") == ("/var/lib/c", False)
    assert rootfs.holding_mount(MOUNTINFO, "/var/lib/c2/rootfs") == ("/var/lib/c2", True)
    assert rootfs.holding_mount(MOUNTINFO, "/var/lib/cx/rootfs") == ("/var/lib", True)
    assert rootfs.holding_mount(MOUNTINFO, "/srv/rootfs") == ("/", True)


@pytest.mark.parametrize("path", ["/", "/proc/self", "/sys/fs/cgroup", "/dev/null"])
def test_statmount_agrees_with_mountinfo(path):
    """The kernel's own answer (statx's unique mount id, then statmount) is mountinfo's, read apart."""
    found = S.mount_of(path)
    if found is None:
        pytest.skip("no statmount (Linux 6.8)")
    point, propagation = found
    with open("/proc/self/mountinfo") as f:
        expected = rootfs.holding_mount(f.read(), os.path.realpath(path))
    assert (point, bool(propagation & (S.MS_SHARED | S.MS_UNBINDABLE))) == expected
