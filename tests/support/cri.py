"""Pods and containers through CRI with crictl, as the kubelet makes them (test process side)."""
import json
import os

from tests.support.containerd import IMAGE
from tests.support.helpers import wait_for


class Pod:
    """One pod sandbox on the handler, with its config files; containers are added with `container()`."""

    def __init__(self, cri, tmp_path, name, pid=None, handler=None):
        self.cri = cri
        self.handler = handler or cri.handler
        self.dir = tmp_path
        # host network: no CNI needed, nothing but loopback touched; pid 1: one pid namespace for the pod
        namespaces = {"network": 2} if pid is None else {"network": 2, "pid": pid}
        self.config = self._write(f"pod-{name}.json", {
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "attempt": 1},
            "log_directory": os.path.join(cri.podlogs, name),
            "linux": {"cgroup_parent": cri.cri_parent.path,
                      "security_context": {"namespace_options": namespaces}},
        })
        self.id = cri.crictl("runp", "--runtime", self.handler, self.config).stdout.strip()

    def _write(self, name, obj):
        path = str(self.dir / name)
        with open(path, "w") as f:
            json.dump(obj, f)
        return path

    def container(self, name, *command, linux=None):
        config = self._write(f"ctr-{name}.json", {
            "metadata": {"name": name}, "image": {"image": IMAGE}, "command": list(command),
            "log_path": f"{name}.log", "linux": linux or {},
        })
        cid = self.cri.crictl("create", "--no-pull", self.id, config, self.config).stdout.strip()
        self.cri.crictl("start", cid)
        return cid

    def log(self, name):
        with open(os.path.join(self.cri.podlogs, self.config_name, f"{name}.log")) as f:
            return f.read()

    @property
    def config_name(self):
        return os.path.basename(self.config)[len("pod-"):-len(".json")]

    def remove(self):
        self.cri.crictl("stopp", self.id)
        self.cri.crictl("rmp", self.id)


def inspect(cri, cid):
    return json.loads(cri.crictl("inspect", "-o", "json", cid).stdout)["status"]


def wait_state(cri, cid, state):
    wait_for(lambda: inspect(cri, cid)["state"] == state, timeout=30, what=f"{cid[:12]} {state}")


def inspect_pid(cri, cid):
    return json.loads(cri.crictl("inspect", "-o", "json", cid).stdout)["info"]["pid"]
