"""Test bundles: a busybox rootfs built once per session, a config.json per test."""
import copy
import json
import os
import subprocess
import sys

from tests.support.runtime import PROJECT

sys.path.insert(0, os.path.join(PROJECT, "bundles"))
import mkbundle  # noqa: E402


class Bundle:
    def __init__(self, path, config):
        self.path = str(path)
        self.config = config

    @property
    def rootfs(self):
        return os.path.join(self.path, "rootfs")

    def save(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)
        return self

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        return self.save()

    def patch(self, patch):
        self.config = mkbundle.merge_patch(self.config, copy.deepcopy(patch))
        return self.save()


# config.json files captured from containerd and podman (see their README), next to the project
CONFIGS = os.environ.get("PYRUNC_TEST_CONFIGS") or os.path.join(os.path.dirname(PROJECT), "shared", "data", "configs")


def real_config(name):
    """A captured config.json, or skip the test when the captures are absent."""
    import pytest
    path = os.path.join(CONFIGS, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent (set PYRUNC_TEST_CONFIGS)")
    with open(path) as f:
        return json.load(f)


def real_profile(name):
    """The seccomp object of a captured config.json."""
    return real_config(name)["linux"]["seccomp"]


def template(cache_dir):
    """A pristine bundle to copy from (built with the project's own mkbundle)."""
    path = os.path.join(cache_dir, "template")
    if not os.path.exists(os.path.join(path, "config.json")):
        mkbundle.build(path)
    return path


def new_bundle(tmpl, dest):
    subprocess.run(["cp", "-a", tmpl, str(dest)], check=True)
    with open(os.path.join(str(dest), "config.json")) as f:
        return Bundle(dest, json.load(f))

