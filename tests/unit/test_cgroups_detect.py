"""cgroups/detect.py: the host layout from mountinfo, and runc's cgroupsPath semantics."""
from pyrunc.cgroups import detect

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
PROC = "4:memory:/sup/x\n1:cpu:/\n9:name=systemd:/\n0::/\n"


def test_hybrid_layout():
    mode, hs = detect.layout(HYBRID, PROC)
    assert mode == detect.HYBRID
    assert [h[0] for h in hs] == ["cpu", "memory", "name=systemd", ""]


def test_hidden_unified_is_ignored():
    hidden = HYBRID + "99 41 0:99 / /sys/fs/cgroup/unified rw - tmpfs hide rw\n"   # stacked on cgroup2
    mode, hs = detect.layout(hidden, PROC)
    assert mode == detect.LEGACY and "" not in [h[0] for h in hs]


def test_mounts_stacked_over_a_hidden_tmpfs_are_visible():
    # what the test sandbox does: a new tmpfs over /sys/fs/cgroup, the hierarchies mounted again on it
    stacked = HYBRID + (
        "50 31 0:50 / /sys/fs/cgroup rw - tmpfs sandbox rw\n"
        "51 50 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "52 50 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    mode, hs = detect.layout(stacked, PROC)
    assert mode == detect.HYBRID
    assert [h[0] for h in hs] == ["cpu", ""]


def test_pure_v2():
    mi = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
    mode, hs = detect.layout(mi, "0::/user.slice\n")
    assert mode == detect.UNIFIED and hs == [("", "/sys/fs/cgroup", "/", "/user.slice")]


def test_none():
    assert detect.layout("1 0 0:1 / / rw - ext4 /dev/vda rw\n", "")[0] == detect.NONE


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
    mode, hs = detect.layout(mi, PROC)
    assert mode == detect.LEGACY
    assert hs == [("memory", "/sys/fs/cgroup/memory", "/", "/sup/x")]


def test_mountinfo_order_is_not_mount_order():
    """On a real host children may be listed before their parent (here: / last)."""
    mi = ("22 27 0:21 / /proc rw - proc proc rw\n"
          "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
          "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
          "23 27 0:22 / /sys rw - sysfs sysfs rw\n"
          "27 1 8:1 / / rw - ext4 /dev/vda rw\n")
    assert detect.layout(mi, PROC)[0] == detect.LEGACY


NODE = ("27 1 8:1 / / rw - ext4 /dev/vda rw\n"
        "23 27 0:22 / /sys rw - sysfs sysfs rw\n"
        "28 27 0:25 / /run rw - tmpfs tmpfs rw\n"
        "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n")


def _node_with(n):
    """A node's mountinfo: n container rootfs mounts under /run, one over the pids hierarchy."""
    rootfs = "".join(f"{1000 + i} 28 0:{100 + i} / /run/containerd/task/c{i}/rootfs rw - overlay overlay rw\n"
                     for i in range(n))
    return NODE + rootfs + "99 36 0:99 / /sys/fs/cgroup/pids rw - tmpfs cover rw\n"


def test_a_node_full_of_container_mounts():
    mode, hs = detect.layout(_node_with(300), PROC)
    assert (mode, [h[0] for h in hs]) == (detect.LEGACY, ["memory"])      # pids is covered


class CountingPath(str):
    """A mountpoint that counts the prefix checks made against it."""
    checks = 0

    def startswith(self, *args):
        CountingPath.checks += 1
        return str.startswith(self, *args)


def test_container_mounts_are_not_checked_against_each_other():
    # every create reads the host's layout: checking each of a node's container mounts against
    # its siblings took 13 ms with 300 of them and 150 ms with 1,000
    n = 400
    entries = [(e[0], e[1], CountingPath(e[2]), *e[3:]) for e in detect._entries(_node_with(n))]
    CountingPath.checks = 0
    cgroup_mounts = [e for e in entries if e[4] == "cgroup"]
    assert [e[2] for e in detect._visible(entries, cgroup_mounts)] == ["/sys/fs/cgroup/memory"]
    assert CountingPath.checks < 3 * n       # each sibling at most once per ancestor, not n times
