"""rootfs.py's translations for the new mount API: mount(2) flags to mount attributes, data to fsconfig options."""
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


def test_bind_attributes_drop_read_only_unless_asked():
    # like runc's MS_BIND|MS_REMOUNT: a bind of a read-only source given only nosuid is writable
    assert rootfs._bind_attrs(S.MS_BIND | S.MS_NOSUID) == (S.MOUNT_ATTR_NOSUID, S.MOUNT_ATTR_RDONLY)
    assert rootfs._bind_attrs(S.MS_BIND | S.MS_RDONLY) == (S.MOUNT_ATTR_RDONLY, 0)


def test_data_is_split_as_the_kernel_splits_it():
    assert rootfs._data_options("tmpfs", "mode=755,,size=64k,huge") == ["mode=755", "size=64k", "huge"]
    assert rootfs._data_options("tmpfs", "") == []
    # overlayfs keeps an escaped comma inside a path
    assert rootfs._data_options("overlay", r"lowerdir=/a\,b:/c,upperdir=/u,workdir=/w") == [
        r"lowerdir=/a\,b:/c", "upperdir=/u", "workdir=/w"]
    assert rootfs._data_options("overlay", r"lowerdir=/a\\,upperdir=/u") == [r"lowerdir=/a\\", "upperdir=/u"]
