"""A private rootful podman (Debian's 4.3 with conmon) using the runtime under test through --runtime (test process side).

Its storage root, runroot, tmp dir (locks, exit files), static dir, events
log and configuration files live under one temp dir; it runs in a private
mount namespace with a tmpfs on /run; containers use --network none,
--pull never and a cgroup parent the tests created.  conmon stays in the
tests' own cgroup (--cgroups no-conmon): podman's cgroupfs code would
otherwise also mkdir <parent>/conmon in the unmounted v1 controllers' plain
tmpfs directories under /sys/fs/cgroup.
"""
import os
import resource
import shutil
import subprocess
import time

from tests.support.owncgroup import OwnCgroup
from tests.support.privrun import PrivateRun

IMAGE = "localhost/pyrunc-test/busybox:latest"


def ulimits():
    """Limits that fit under this process's hard limits: without CAP_SYS_RESOURCE (as on the
    test hosts) a runtime cannot raise a hard limit, and podman's root defaults are higher."""
    out = []
    for name, res, want in (("nofile", resource.RLIMIT_NOFILE, 1024), ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(res)[1]
        n = want if hard == resource.RLIM_INFINITY else min(want, hard)
        out.append(f'"{name}={n}:{n}"')
    return ", ".join(out)


class Podman:
    def __init__(self, podman, runtime, image_tar, workdir, node=None):
        self.podman = podman
        # on a node (tests/support/node.py): the systemd cgroup manager, AppArmor on, a slice as parent
        self.node = node
        self.manager = "systemd" if node else "cgroupfs"
        self.runtime = runtime
        self.image_tar = image_tar
        self.dir = str(workdir)
        self.run = None
        self.cgroup = None

    def start(self):
        d = self.dir
        for sub in ("root", "run", "tmp", "vol", "cni", "cni-bin"):
            os.makedirs(os.path.join(d, sub))
        files = {
            "containers.conf": f"""[containers]
netns = "none"
default_ulimits = [{ulimits()}]
default_mounts_file = "{d}/mounts.conf"
[network]
network_backend = "cni"
network_config_dir = "{d}/cni"
cni_plugin_dirs = ["{d}/cni-bin"]
[engine]
cgroup_manager = "{self.manager}"
events_logger = "file"
events_logfile_path = "{d}/events.log"
tmp_dir = "{d}/tmp"
static_dir = "{d}/root/libpod"
volume_path = "{d}/vol"
lock_type = "file"
""",
            "storage.conf": f'[storage]\ndriver = "overlay"\ngraphroot = "{d}/root"\nrunroot = "{d}/run"\n',
            "registries.conf": "",
            "mounts.conf": "",
            "policy.json": '{"default": [{"type": "insecureAcceptAnything"}]}\n',
        }
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        self.env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "CONTAINERS_CONF": os.path.join(d, "containers.conf"),
            "CONTAINERS_STORAGE_CONF": os.path.join(d, "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": os.path.join(d, "registries.conf"),
            "TMPDIR": os.path.join(d, "tmp"),
        }
        # on a node, the node's /run keeps its bus; the runtimes' default roots are private
        self.run = PrivateRun("pyrunc-podman-run", *(["/run/runc", "/run/pyrunc", "/run/crun", "/run/libpod",
                                                      "/run/containers"] if self.node else []))
        self.cgroup = self.node.slice("podman") if self.node else OwnCgroup(f"pyrunc-podman-{os.path.basename(self.dir)}")
        # one archive, two images: pull the `latest` one by its ref name, then name it
        p = self.podman_cmd("pull", "--signature-policy", os.path.join(d, "policy.json"),
                            f"oci-archive:{self.image_tar}:latest", timeout=120)
        self.podman_cmd("tag", p.stdout.split()[-1], IMAGE)
        self.baseline = self.run.mounts()
        return self

    def argv(self, *args):
        d = self.dir
        return self.run.enter([self.podman, "--root", f"{d}/root", "--runroot", f"{d}/run", "--tmpdir", f"{d}/tmp",
                               "--cgroup-manager", self.manager, "--events-backend", "file",
                               "--runtime", self.runtime] + [str(a) for a in args])

    def podman_cmd(self, *args, check=True, timeout=120, input=None):
        p = subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"podman {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def run_opts(self):
        return ["--pull", "never", "--network", "none", "--cgroup-parent", self.cgroup.path, "--cgroups", "no-conmon"]

    def runtime_cmd(self, *args):
        """The runtime under test with its default --root (podman passes none), inside the private /run."""
        return subprocess.run(self.run.enter([self.runtime] + [str(a) for a in args]), capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)

    def leftovers(self):
        problems = []
        left = self.podman_cmd("ps", "-a", "-q", check=False).stdout.split()
        if left:
            problems.append(f"podman containers left: {left}")
        ids = self.runtime_cmd("list", "-q").stdout.split()
        if ids:
            problems.append(f"runtime state left: {ids}")
        # conmon and the exit command it runs (`podman container cleanup`) end shortly after
        deadline = time.monotonic() + 15
        while self.run.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.run.pids():
            problems.append(f"processes left: {self.run.pids()}")
        # containers/storage's overlay driver makes its home private by bind-mounting it onto
        # itself and leaves that mount behind when a podman command fails; it holds no container.
        home = f"{self.dir}/root/overlay"
        mounts = {m for m in self.run.mounts() - self.baseline if m.split()[1] != home}
        if mounts:
            problems.append(f"mounts left in podman's namespace: {sorted(mounts)[:5]}")
        if self.cgroup.children():
            problems.append(f"cgroups left below {self.cgroup.path}: {self.cgroup.children()[:5]}")
        return problems

    def reset(self):
        problems = self.leftovers()
        if problems:
            self.podman_cmd("rm", "-a", "-f", "-t", "0", check=False)
            self.cgroup.remove(keep_top=True)
        return problems

    def stop(self):
        problems = []
        if self.run is not None:
            try:
                self.podman_cmd("rm", "-a", "-f", "-t", "0", check=False)
            except Exception as e:    # still stop everything below
                problems.append(f"podman rm: {e!r}")
            self.run.close()
        if self.cgroup is not None:
            left = self.cgroup.remove()
            if left:
                problems.append(f"cgroups that would not go: {left}")
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems
