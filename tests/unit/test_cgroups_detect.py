"""cgroups/detect.py: the host layout from mountinfo and where lookups land, and runc's cgroupsPath semantics.

The kernel says which mount a lookup of a mountpoint lands on (statx, in
tests/integration/test_cgroups_pyrunc.py); here `lands` gives its answers."""
from pyrunc.cgroups import detect

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
PROC = "4:memory:/sup/x\n1:cpu:/\n9:name=systemd:/\n0::/\n"


def lands(mountinfo_text, **over):
    """A lookup of each mountpoint lands on the last mount listed there, unless `over` says
    otherwise (a mountpoint, its underscores for slashes: a mount id, or None for nowhere)."""
    last = {}
    for line in mountinfo_text.splitlines():
        f = line.split()
        last[f[4]] = int(f[0])
    last.update({"/" + k.replace("_", "/"): v for k, v in over.items()})
    return last.get


def test_hybrid_layout():
    mode, hs = detect.layout(HYBRID, PROC, lands(HYBRID))
    assert mode == detect.HYBRID
    assert [h[0] for h in hs] == ["cpu", "memory", "name=systemd", ""]


def test_hidden_unified_is_ignored():
    hidden = HYBRID + "99 41 0:99 / /sys/fs/cgroup/unified rw - tmpfs hide rw\n"   # stacked on cgroup2
    mode, hs = detect.layout(hidden, PROC, lands(hidden))
    assert mode == detect.LEGACY and "" not in [h[0] for h in hs]


def test_mounts_stacked_over_a_hidden_tmpfs_are_visible():
    # what the test sandbox does: a new tmpfs over /sys/fs/cgroup, the hierarchies mounted again on it
    stacked = HYBRID + (
        "50 31 0:50 / /sys/fs/cgroup rw - tmpfs sandbox rw\n"
        "51 50 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "52 50 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    # memory and systemd were only on the old tmpfs: a lookup finds no such directory now
    mode, hs = detect.layout(stacked, PROC, lands(stacked, sys_fs_cgroup_memory=None,
                                                  sys_fs_cgroup_systemd=None))
    assert mode == detect.HYBRID
    assert [h[0] for h in hs] == ["cpu", ""]


def test_pure_v2():
    mi = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    mode, hs = detect.layout(mi, "0::/user.slice\n", lands(mi))
    assert mode == detect.UNIFIED and hs == [("", "/sys/fs/cgroup", "/", "/user.slice")]


def test_none():
    mi = "1 0 0:1 / / rw - ext4 /dev/vda rw\n"
    assert detect.layout(mi, "", lands(mi))[0] == detect.NONE


def test_resolve_relative_absolute_and_default():
    h = ("memory", "/sys/fs/cgroup/memory", "/", "/sup/x")
    assert detect.resolve("/abs/p", "id", h) == "/sys/fs/cgroup/memory/abs/p"
    assert detect.resolve("rel/p", "id", h) == "/sys/fs/cgroup/memory/sup/x/rel/p"
    assert detect.resolve("", "id", h) == "/sys/fs/cgroup/memory/sup/x/id"
    assert detect.resolve("/../../etc", "id", h) == "/sys/fs/cgroup/memory/etc"


def test_resolve_below_a_mount_root():
    # a cgroupfs bind-mounted from a subtree: its root is stripped from our own path
    h = ("cpu", "/sys/fs/cgroup/cpu", "/kubepods", "/kubepods/pod1")
    assert detect.resolve("c", "id", h) == "/sys/fs/cgroup/cpu/pod1/c"


def test_remounted_hierarchies_under_a_new_tmpfs():
    """The test sandbox: a new tmpfs stacked on /sys/fs/cgroup, hierarchies mounted again on it."""
    mi = HYBRID + ("50 31 0:50 / /sys/fs/cgroup rw - tmpfs sandbox rw\n"
                   "51 50 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
    mode, hs = detect.layout(mi, PROC, lands(mi, sys_fs_cgroup_cpu=None, sys_fs_cgroup_unified=None,
                                             sys_fs_cgroup_systemd=None))
    assert mode == detect.LEGACY
    assert hs == [("memory", "/sys/fs/cgroup/memory", "/", "/sup/x")]


def test_a_mount_the_lookup_does_not_land_on_is_skipped():
    """Whatever mountinfo lists, only the mount a lookup of its point reaches counts."""
    assert detect.layout(HYBRID, PROC, lands(HYBRID, sys_fs_cgroup_cpu=7))[1][0][0] == "memory"
    assert detect.layout(HYBRID, PROC, lambda path: None) == (detect.NONE, [])


def test_only_the_cgroup_lines_are_parsed():
    """A node's mountinfo holds a mount or more per container and pod volume: only the cgroup
    mounts' lines are split and only their points looked up."""
    node = ("27 1 8:1 / / rw - ext4 /dev/vda rw\n"
            + "".join(f"{1000 + i} 28 0:{100 + i} / /run/c{i}/rootfs rw - overlay overlay rw\n"
                      for i in range(1000))
            + "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
            + "36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
            + "99 36 0:99 / /sys/fs/cgroup/pids rw - tmpfs cover rw\n")
    looked_up = []

    def lookup(path):
        looked_up.append(path)
        return lands(node)(path)
    assert [line.split()[0] for line in detect._typed_lines(node, " - cgroup")] == ["35", "36"]
    mode, hs = detect.layout(node, PROC, lookup)
    assert (mode, [h[0] for h in hs]) == (detect.LEGACY, ["memory"])      # pids is covered
    assert looked_up == ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"]
