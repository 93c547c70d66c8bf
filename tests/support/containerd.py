"""A private containerd (1.6 or 2.x) with the runtime under test as its runc shim's binary (test process side).

Each instance has its own config.toml, root, state, temp dir and unix sockets
under one temp dir, runs in a private mount namespace with a tmpfs on /run
(the runc shim hard-codes /run/containerd/...), and puts its containers'
cgroups below cgroups the tests created.  config.toml registers the runtime
under test the way a Kubernetes user does (a CRI runtime handler with
runtime_type io.containerd.runc.v2 and options.BinaryName); ctr selects it
per container with --runc-binary.  Every default that points at the host
(imports, /opt, /etc/cni, NRI's socket, CDI dirs, image verifiers) is
pointed into the temp dir or switched off; the CRI streaming server listens
on 127.0.0.1 only.
"""
import json
import os
import shutil
import subprocess
import time

from tests.support.owncgroup import OwnCgroup
from tests.support.privrun import PrivateRun

IMAGE_BASE = "localhost/pyrunc-test/busybox"
IMAGE = IMAGE_BASE + ":latest"
PAUSE_IMAGE = IMAGE_BASE + ":pause"
CRI_NS = "k8s.io"


def toml_str(s):
    return json.dumps(str(s))   # a TOML basic string is a JSON string for these values


def toml_bool(b):
    return "true" if b else "false"


def _daemon_sections(d, sock):
    """What both config versions say alike: the sockets, no debug or metrics listener, /opt in d."""
    return f"""[grpc]
  address = {toml_str(sock)}
[ttrpc]
  address = {toml_str(sock + ".ttrpc")}
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[cgroup]
  path = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = {toml_str(d + "/opt")}
"""


def _runtimes(prefix, handlers, systemd):
    """The CRI runtime handlers: each io.containerd.runc.v2 with its BinaryName (and the systemd
    cgroup driver on a node, as kubeadm's hosts set it)."""
    out = ""
    for name, binary in handlers.items():
        out += f"""      [{prefix}.runtimes.{name}]
        runtime_type = "io.containerd.runc.v2"
        [{prefix}.runtimes.{name}.options]
          BinaryName = {toml_str(binary)}
"""
        if systemd:
            out += "          SystemdCgroup = true\n"
    return out


def config_v2(d, sock, handlers, systemd=False, sandbox=PAUSE_IMAGE):
    """containerd 1.x (config version 2)."""
    return f"""version = 2
root = {toml_str(d + "/root")}
state = {toml_str(d + "/state")}
imports = []
plugin_dir = ""
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

{_daemon_sections(d, sock)}  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = {toml_str(sandbox)}
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    disable_apparmor = {toml_bool(not systemd)}
    enable_selinux = false
    # no CAP_SYS_RESOURCE here: the sandbox's oom_score_adj -998 cannot be set, so
    # clamp CRI's oom_score_adj to containerd's own (as rootless/nested set-ups do)
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = {toml_str(d + "/cni/bin")}
      conf_dir = {toml_str(d + "/cni/conf")}
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = {toml_str(d + "/certs.d")}
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = {toml_str(next(iter(handlers)))}
{_runtimes('plugins."io.containerd.grpc.v1.cri".containerd', handlers, systemd)}"""


def config_v3(d, sock, handlers, systemd=False, sandbox=PAUSE_IMAGE):
    """containerd 2.x (config version 3, which 2.x reads natively or migrates)."""
    return f"""version = 3
root = {toml_str(d + "/root")}
state = {toml_str(d + "/state")}
temp = {toml_str(d + "/tmp")}
imports = []
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
                    "io.containerd.snapshotter.v1.erofs", "io.containerd.differ.v1.erofs",
                    "io.containerd.nri.v1.nri"]

{_daemon_sections(d, sock)}  [plugins."io.containerd.image-verifier.v1.bindir"]
    bin_dir = {toml_str(d + "/verifiers")}
  [plugins."io.containerd.grpc.v1.cri"]
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = "overlayfs"
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = {toml_str(sandbox)}
    [plugins."io.containerd.cri.v1.images".registry]
      config_path = {toml_str(d + "/certs.d")}
  [plugins."io.containerd.cri.v1.runtime"]
    disable_apparmor = {toml_bool(not systemd)}
    enable_selinux = false
    # see config_v2: no CAP_SYS_RESOURCE on this host
    restrict_oom_score_adj = true
    cdi_spec_dirs = []
    [plugins."io.containerd.cri.v1.runtime".cni]
      bin_dirs = [{toml_str(d + "/cni/bin")}]
      conf_dir = {toml_str(d + "/cni/conf")}
    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = {toml_str(next(iter(handlers)))}
{_runtimes('plugins."io.containerd.cri.v1.runtime".containerd', handlers, systemd)}"""


class Containerd:
    """One private containerd; `ctr()`/`crictl()` drive it; `reset()` cleans up after a test."""

    def __init__(self, peer, runtime, image_tar, workdir, crictl=None, handlers=None, node=None, prepare=None,
                 sandbox=PAUSE_IMAGE, propagation="private"):
        self.peer = peer
        self.runtime = runtime
        self.handler = os.path.basename(runtime)      # "pyrunc" (or "runc" with OCI_RUNTIME=runc)
        # the CRI runtime handlers, the first one the default: {name: binary}
        self.handlers = handlers or {self.handler: runtime}
        # on a node (tests/support/node.py): the systemd cgroup driver, AppArmor on, pods in a slice
        self.node = node
        self.systemd = node is not None
        # prepare(dir): fills the CNI and registry (certs.d) dirs before containerd reads them
        self.prepare = prepare
        self.sandbox = sandbox                         # the pod sandbox ("pause") image
        self.propagation = propagation                 # of the mounts in containerd's namespace
        self.image_tar = image_tar
        self.crictl_path = crictl
        self.ns = "pyrunc-test"                        # ctr's namespace: cgroups /pyrunc-test/<id>
        # unix socket paths below it (containerd's, the shim's console sockets) must fit in 108 bytes
        self.dir = str(workdir)
        assert len(self.dir) < 60, self.dir
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.log = os.path.join(self.dir, "containerd.log")
        self.podlogs = os.path.join(self.dir, "podlogs")
        self.cri_parent = None
        self.ctr_cgroup = None
        self.run = None
        self.proc = None

    # ------------------------------------------------------------- lifecycle
    def start(self):
        d = self.dir
        for sub in ("root", "state", "tmp", "opt", "cni/bin", "cni/conf", "certs.d", "verifiers", "podlogs"):
            os.makedirs(os.path.join(d, sub))
        make = config_v2 if self.peer.config_version == 2 else config_v3
        with open(os.path.join(d, "config.toml"), "w") as f:
            f.write(make(d, self.sock, self.handlers, self.systemd, self.sandbox))
        if self.prepare:
            self.prepare(d)
        # on a node, only the shim's hard-coded directory is private: the node's /run holds its bus
        self.run = PrivateRun("pyrunc-ctrd-run", *(["/run/containerd"] if self.node else []),
                              propagation=self.propagation)
        self.ctr_cgroup = OwnCgroup(self.ns)                   # ctr: cgroupsPath /<namespace>/<id>
        # CRI: <cgroup_parent>/<id>, or with systemd <slice>:cri-containerd:<id>
        self.cri_parent = self.node.slice("cri") if self.node else OwnCgroup(f"pyrunc-cri-{os.getpid()}")
        env = {
            # the peer's own shim first: containerd finds containerd-shim-runc-v2 through PATH
            "PATH": self.peer.bin_dir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TMPDIR": os.path.join(d, "tmp"),   # the shim's console sockets and exec process.json files
            # containerd hands its whole environment to the runtime: a runtime that trusted
            # PYTHON* (pyrunc starts with -I) would break here
            "PYTHONHOME": "/nonexistent-pythonhome", "PYTHONPATH": "/nonexistent-pythonpath",
        }
        with open(self.log, "wb") as log:
            # close_fds (the default) closes every fd above 2: containerd and its shims must see
            # what a service manager gives them, or stray fds reach the runtime and containers
            self.proc = subprocess.Popen(self.run.enter([self.peer.path("containerd"), "--config",
                                                         os.path.join(d, "config.toml")]),
                                         env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         close_fds=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is None and self.ctr("version", check=False, timeout=10).returncode == 0:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd {self.peer.label} did not come up:\n{self.log_tail()}")
            time.sleep(0.1)
        for ns in (self.ns, CRI_NS):
            self.ctr("images", "import", "--base-name", IMAGE_BASE, self.image_tar, namespace=ns, timeout=120)
        self.baseline = self.run.mounts()
        return self

    def stop(self):
        """Stop containerd, its shims and whatever they left; remove every trace."""
        problems = []
        try:
            if self.proc is not None and self.proc.poll() is None:
                self._remove_all()
        except Exception as e:        # still stop everything below
            problems.append(f"removing tasks and pods: {e!r}")
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.run is not None:
            self.run.close()   # kills the shims; the namespace and its mounts go with them
        for cg in (self.ctr_cgroup, self.cri_parent):
            if cg is not None:
                left = cg.remove()
                if left:
                    problems.append(f"cgroups that would not go: {left}")
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def log_tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # ---------------------------------------------------------------- clients
    def ctr_argv(self, *args, namespace=None):
        # ctr 2.x warns on every call that containerd deprecates cgroup v1 (hosts like this one)
        return self.run.enter(["env", "CONTAINERD_SUPPRESS_DEPRECATION_WARNINGS=1", self.peer.path("ctr"),
                               "--address", self.sock,
                               "--namespace", namespace or self.ns] + [str(a) for a in args])

    def ctr(self, *args, namespace=None, check=True, timeout=60, input=None):
        p = subprocess.run(self.ctr_argv(*args, namespace=namespace), input=input, capture_output=True,
                           text=True, timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"ctr {' '.join(map(str, args))} failed ({p.returncode}): "
                                 f"{p.stderr.strip()}\n--- containerd log:\n{self.log_tail(10)}")
        return p

    def crictl_argv(self, *args):
        endpoint = "unix://" + self.sock
        cfg = os.path.join(self.dir, "crictl.yaml")
        if not os.path.exists(cfg):
            # an explicit config so that no /etc/crictl.yaml is read
            with open(cfg, "w") as f:
                f.write(f"runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\ntimeout: 60\n"
                        "debug: false\npull-image-on-create: false\n")
        return [self.crictl_path, "--config", cfg, "--runtime-endpoint", endpoint,
                "--image-endpoint", endpoint] + [str(a) for a in args]

    def crictl(self, *args, check=True, timeout=120):
        p = subprocess.run(self.crictl_argv(*args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"crictl {' '.join(map(str, args))} failed ({p.returncode}): "
                                 f"{p.stderr.strip()}\n--- containerd log:\n{self.log_tail(10)}")
        return p

    def runtime_cmd(self, *args, namespace=None):
        """The runtime under test on the shim's --root, inside the private /run."""
        root = f"/run/containerd/runc/{namespace or self.ns}"
        return subprocess.run(self.run.enter([self.runtime, "--root", root] + [str(a) for a in args]),
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)

    def runtime_state_dirs(self, namespace=None):
        """Containers' state dirs under the shim's --root (pyrunc keeps its seccomp cache in @seccomp there:
        `@` is not allowed in a container id)."""
        d = self.run.path(f"/run/containerd/runc/{namespace or self.ns}")
        return sorted(e for e in os.listdir(d) if not e.startswith("@")) if os.path.isdir(d) else []

    def bundle(self, cid, namespace=None):
        """The bundle the shim made for a task (its config.json, init.pid, log.json)."""
        return os.path.join(self.dir, "state", "io.containerd.runtime.v2.task", namespace or self.ns, cid)

    def task_status(self, cid):
        for line in self.ctr("task", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return f[2]
        return None

    def task_pid(self, cid):
        for line in self.ctr("task", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return int(f[1])
        return None

    # --------------------------------------------------------------- cleanup
    def _remove_all(self):
        if self.crictl_path:
            for pod in self.crictl("pods", "-q", check=False, timeout=30).stdout.split():
                self.crictl("stopp", pod, check=False, timeout=60)
                self.crictl("rmp", "-f", pod, check=False, timeout=60)
        for ns in (self.ns, CRI_NS):
            for cid in self.ctr("task", "ls", "-q", namespace=ns, check=False, timeout=30).stdout.split():
                self.ctr("task", "kill", "-s", "SIGKILL", cid, namespace=ns, check=False, timeout=30)
                self.ctr("task", "delete", "-f", cid, namespace=ns, check=False, timeout=30)
            for cid in self.ctr("container", "ls", "-q", namespace=ns, check=False, timeout=30).stdout.split():
                self.ctr("container", "delete", cid, namespace=ns, check=False, timeout=30)

    def leftovers(self):
        """What a test left in this instance: tasks, containers, pods, shims, mounts, runtime state."""
        problems = []
        for ns in (self.ns, CRI_NS):
            left = self.ctr("container", "ls", "-q", namespace=ns, check=False).stdout.split()
            if left:
                problems.append(f"containers left in {ns}: {left}")
            state = self.runtime_state_dirs(ns)
            if state:
                problems.append(f"runtime state left in /run/containerd/runc/{ns}: {state}")
        if self.crictl_path:
            pods = self.crictl("pods", "-q", check=False).stdout.split()
            if pods:
                problems.append(f"pods left: {pods}")
        # the shims of deleted tasks exit on their own, shortly after the call returned
        deadline = time.monotonic() + 10
        while True:
            extra = [p for p in self.run.pids() if p != self.proc.pid]
            if not extra or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if extra:
            problems.append(f"processes left beside containerd: {[_cmdline(p) for p in extra]}")
        mounts = self.run.mounts() - self.baseline
        if mounts:
            problems.append(f"mounts left in containerd's namespace: {sorted(mounts)[:5]}")
        for cg in (self.ctr_cgroup, self.cri_parent):
            if cg.children():
                problems.append(f"cgroups left below {cg.path}: {cg.children()[:5]}")
        return problems

    def reset(self):
        """After a test: the leftovers (as problems), then remove them so the next test starts clean."""
        problems = self.leftovers()
        if problems:
            self._remove_all()
            for cg in (self.ctr_cgroup, self.cri_parent):
                cg.remove(keep_top=True)
        return problems


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f"{pid}:" + f.read().replace(b"\0", b" ").decode(errors="replace")[:100]
    except OSError:
        return str(pid)
