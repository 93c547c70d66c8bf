"""Where the client tests find their peers: Debian's containerd 1.6 and podman, containerd 2.x and crictl built by tests/peers/build.sh."""
import os
import shutil
import subprocess

import pytest

from tests.support.runtime import PROJECT

CACHE = os.environ.get("PYRUNC_PEERS_CACHE", "/var/cache/pyrunc-peers")


def _versions():
    out = {}
    with open(os.path.join(PROJECT, "tests", "peers", "versions.env")) as f:
        for line in f:
            key, eq, value = line.strip().partition("=")
            if eq and not key.startswith("#"):
                out[key] = value
    return out


VERSIONS = _versions()


def missing(what):
    """Skip when a peer is absent; `make test` sets PYRUNC_REQUIRE_PEERS=1, which turns that into a failure."""
    msg = f"{what} (make peers installs and builds the client test peers)"
    if os.environ.get("PYRUNC_REQUIRE_PEERS") == "1":
        pytest.fail("missing peer: " + msg, pytrace=False)
    pytest.skip("missing peer: " + msg)


class ContainerdPeer:
    """One containerd release: the daemon, its runc shim and ctr, from one directory."""

    def __init__(self, label, bin_dir, config_version):
        self.label = label
        self.bin_dir = bin_dir
        self.config_version = config_version   # the config.toml schema it reads (2: 1.x, 3: 2.x)

    def path(self, name):
        return os.path.join(self.bin_dir, name)

    def require(self):
        for name in ("containerd", "containerd-shim-runc-v2", "ctr"):
            if not os.access(self.path(name), os.X_OK):
                missing(f"{self.path(name)} for containerd {self.label}")
        return self

    def version(self):
        out = subprocess.run([self.path("containerd"), "--version"], capture_output=True, text=True).stdout
        return out.split()[2] if len(out.split()) > 2 else out.strip()


CONTAINERD = {
    "1.6": ContainerdPeer("1.6", "/usr/bin", 2),
    "2": ContainerdPeer("2", os.path.join(CACHE, "containerd-" + VERSIONS["CONTAINERD2_VERSION"]), 3),
}


def crictl():
    path = os.path.join(CACHE, "crictl-" + VERSIONS["CRICTL_VERSION"], "crictl")
    if not os.access(path, os.X_OK):
        missing(path)
    return path


def podman():
    path = shutil.which("podman")
    if not path or not shutil.which("conmon"):
        missing("Debian's podman and conmon")
    return path
