"""Fixtures for every test: the runtime under test, fresh bundles, and the leak check."""
import os
import shutil
import subprocess

import pytest

from tests.support import leaks
from tests.support.bundle import new_bundle, template
from tests.support.runtime import Runtime, runtime_name, runtime_path

WANTED_V2 = {"cpu", "cpuset", "io", "memory", "pids", "hugetlb"}


def pure_cgroup_v2():
    with open("/proc/self/mounts") as f:
        mounts = [line.split() for line in f]
    if any(m[2] == "cgroup" for m in mounts):
        return False
    if not any(m[1] == "/sys/fs/cgroup" and m[2] == "cgroup2" for m in mounts):
        return False
    try:
        with open("/sys/fs/cgroup/cgroup.subtree_control") as f:
            return WANTED_V2 <= set(f.read().split())
    except OSError:
        return False


def systemd_node():
    """The node VM (tests/support/v2vm.sh --systemd sets V2VM_SYSTEMD=1 in its unit) with systemd as PID 1."""
    try:
        with open("/proc/1/comm") as f:
            return os.environ.get("V2VM_SYSTEMD") == "1" and f.read().strip() == "systemd"
    except OSError:
        return False


def pytest_collection_modifyitems(config, items):
    reference = os.environ.get("OCI_RUNTIME")
    v2 = pure_cgroup_v2()
    node = systemd_node()
    root = os.geteuid() == 0
    if os.environ.get("V2VM_GUEST") == "1" and not v2 and any("cgroupv2" in i.keywords for i in items):
        # in the v2 VM (tests/support/v2vm.sh) a skip would turn a broken guest into a green run
        raise pytest.UsageError("the v2 VM is not a pure cgroup v2 host with the controllers "
                                f"{sorted(WANTED_V2)} enabled at /sys/fs/cgroup")
    if os.environ.get("V2VM_SYSTEMD") == "1" and not node and any("node" in i.keywords for i in items):
        raise pytest.UsageError("the node VM's PID 1 is not systemd")
    for item in items:
        if reference and "agnostic" not in item.keywords and "unit" not in item.nodeid.split("/"):
            item.add_marker(pytest.mark.skip(reason=f"not runtime-agnostic (OCI_RUNTIME={reference})"))
        newer = item.get_closest_marker("skipif_reference")
        if newer and reference:
            item.add_marker(pytest.mark.skip(reason=newer.args[0]))
        differs = item.get_closest_marker("crun_differs")
        if differs and runtime_name() == "crun":
            item.add_marker(pytest.mark.skip(reason="crun 1.8 differs from runc here: " + differs.args[0]))
        if "cgroupv2" in item.keywords and not v2:
            item.add_marker(pytest.mark.skip(reason="needs a pure cgroup v2 host (run in the v2 VM)"))
        if "node" in item.keywords and not node:
            item.add_marker(pytest.mark.skip(reason="needs the node VM: systemd, D-Bus, AppArmor (make test-node)"))
        if "/unit/" not in "/" + item.nodeid and not root:
            item.add_marker(pytest.mark.skip(reason="needs root"))


@pytest.fixture(scope="session")
def busybox_image(tmp_path_factory):
    """The project's busybox OCI archive (tags latest and pause), built offline: the clients' image."""
    import mkimage   # bundles/, on sys.path since tests.support.bundle
    return mkimage.build(str(tmp_path_factory.mktemp("image") / "busybox-oci.tar"))


@pytest.fixture(scope="session")
def bundle_template(tmp_path_factory):
    return template(str(tmp_path_factory.mktemp("bundles")))


@pytest.fixture
def bundle(bundle_template, tmp_path):
    """A fresh busybox bundle running `sh` (edit .config, then .save())."""
    return new_bundle(bundle_template, tmp_path / "bundle")


@pytest.fixture
def rt(tmp_path):
    """The runtime under test with a private --root; the leak check runs around the test."""
    root = str(tmp_path / "state")
    os.makedirs(root)
    runtime = Runtime(runtime_path(), root)
    before = leaks.snapshot(root)
    yield runtime
    after = leaks.snapshot(root)
    problems = leaks.diff(before, after)
    if problems:
        runtime.cleanup()
        if not leaks.dev_null_ok():
            leaks.restore_dev_null()
        pytest.fail("the test left things behind: " + "; ".join(problems))


@pytest.fixture
def running(rt, bundle):
    """The id of a started container running `sleep 300` (deleted afterwards)."""
    from tests.support.helpers import create
    bundle.set_args("sleep", "300")
    create(rt, bundle, "run1")
    rt.run("start", "run1")
    yield "run1"
    rt.run("delete", "--force", "run1", check=False)


@pytest.fixture
def is_pyrunc():
    return runtime_name() == "pyrunc"


def host_has(cmd):
    return shutil.which(cmd) is not None


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)
