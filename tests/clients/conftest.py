"""Fixtures for the client tests: the busybox image, private containerd (1.6, 2.x) and podman instances."""
import os

import pytest

from tests.support import peers
from tests.support.clientfixtures import left_clean, running
from tests.support.containerd import Containerd
from tests.support.runtime import runtime_path



@pytest.fixture(scope="session", params=sorted(peers.CONTAINERD), ids=lambda v: "containerd-" + v)
def containerd(request, busybox_image, tmp_path_factory):
    """One private containerd per version, shared by the tests of that version."""
    peer = peers.CONTAINERD[request.param].require()
    crictl = os.path.join(peers.CACHE, "crictl-" + peers.VERSIONS["CRICTL_VERSION"], "crictl")
    c = Containerd(peer, runtime_path(), busybox_image, tmp_path_factory.mktemp("ctrd"),
                   crictl if os.access(crictl, os.X_OK) else None)
    yield from running(c, f"containerd {peer.label}")


@pytest.fixture
def ctrd(containerd, rt):
    """The private containerd for one test; afterwards nothing of the test may be left in it."""
    yield from left_clean(containerd, f"containerd {containerd.peer.label}")


@pytest.fixture
def cri(ctrd):
    """The same instance driven through CRI by crictl."""
    if not ctrd.crictl_path:
        peers.crictl()
    return ctrd


@pytest.fixture(scope="session")
def podman_instance(busybox_image, tmp_path_factory):
    from tests.support.podman import Podman
    pm = Podman(peers.podman(), runtime_path(), busybox_image, tmp_path_factory.mktemp("podman"))
    yield from running(pm, "podman")


@pytest.fixture
def podman(podman_instance, rt):
    """The private podman for one test; afterwards nothing of the test may be left in it."""
    yield from left_clean(podman_instance, "podman")
