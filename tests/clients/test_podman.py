"""podman (rootful, cgroupfs) with conmon runs containers with the runtime under test through --runtime."""
import json

import pytest

from tests.support.podman import IMAGE
from tests.support.ptyrun import run_on_pty

pytestmark = [pytest.mark.agnostic, pytest.mark.slow]

LONG = "trap 'exit 42' TERM; while :; do sleep 1; done"


def test_run_output_and_exit_code(podman):
    p = podman.podman_cmd("run", "--rm", *podman.run_opts(), IMAGE, "sh", "-c",
                          "echo hello-podman; echo to-stderr >&2; exit 3", check=False)
    assert (p.returncode, p.stdout) == (3, "hello-podman\n"), p.stderr
    assert "to-stderr" in p.stderr


def test_run_stdin(podman):
    p = podman.podman_cmd("run", "--rm", "-i", *podman.run_opts(), IMAGE, "cat", input="stdin-data\n")
    assert p.stdout == "stdin-data\n"


def test_detached_exec_kill_rm(podman):
    cid = podman.podman_cmd("run", "-d", "--name", "p-long", *podman.run_opts(), IMAGE, "sh", "-c", LONG).stdout.strip()
    # conmon created it with no --root: the runtime's default root holds it
    st = podman.runtime_cmd("state", cid)
    assert st.returncode == 0 and json.loads(st.stdout)["status"] == "running", st.stderr
    pid = json.loads(st.stdout)["pid"]
    with open(f"/proc/{pid}/status") as f:
        ppid = int(next(line.split()[1] for line in f if line.startswith("PPid:")))
    with open(f"/proc/{ppid}/comm") as f:
        assert f.read().strip() == "conmon"       # reparented to conmon, which reaps it
    p = podman.podman_cmd("exec", "p-long", "sh", "-c", "echo exec-out; cat /proc/1/cmdline; exit 4", check=False)
    assert (p.returncode, p.stdout.split("\n")[0]) == (4, "exec-out"), p.stderr
    assert p.stdout.split("\n")[1].startswith("sh\0-c\0trap")
    rc, out = run_on_pty(podman.argv("exec", "-t", "p-long", "sh", "-c", "tty; echo exec-tty-ok"), env=podman.env)
    assert rc == 0 and out.split()[:2] == ["/dev/pts/0", "exec-tty-ok"], out
    podman.podman_cmd("kill", "-s", "TERM", "p-long")
    assert podman.podman_cmd("wait", "p-long").stdout.strip() == "42"
    podman.podman_cmd("rm", "p-long")
    assert podman.runtime_cmd("state", cid).returncode != 0


def test_run_tty(podman):
    rc, out = run_on_pty(podman.argv("run", "-t", "--rm", *podman.run_opts(), IMAGE, "sh", "-c",
                                     "tty; echo tty-ok; exit 5"), env=podman.env)
    assert rc == 5 and out.split()[:2] == ["/dev/pts/0", "tty-ok"], out


def test_stop_kills_after_timeout(podman):
    podman.podman_cmd("run", "-d", "--name", "p-stop", *podman.run_opts(), IMAGE, "sleep", "1000")
    podman.podman_cmd("stop", "-t", "1", "p-stop")     # `kill ID 15`, then `kill ID 9`: sleep as pid 1 ignores TERM
    assert podman.podman_cmd("inspect", "-f", "{{.State.ExitCode}}", "p-stop").stdout.strip() == "137"
    podman.podman_cmd("rm", "p-stop")


def test_rm_force_running(podman):
    podman.podman_cmd("run", "-d", "--name", "p-rmf", *podman.run_opts(), IMAGE, "sleep", "1000")
    podman.podman_cmd("rm", "-f", "-t", "0", "p-rmf")
    assert podman.podman_cmd("ps", "-a", "-q").stdout.split() == []


def test_missing_executable_is_127(podman):
    # podman reads the runtime's stderr and classifies it: "no such file" / "not found" -> 127
    p = podman.podman_cmd("run", "--rm", *podman.run_opts(), IMAGE, "/nonexistent", check=False)
    assert p.returncode == 127, p.stderr
    assert '"/nonexistent"' in p.stderr and "OCI runtime attempted to invoke a command that was not found" in p.stderr
    p = podman.podman_cmd("run", "--rm", *podman.run_opts(), IMAGE, "no-such-program", check=False)
    assert p.returncode == 127, p.stderr


def test_not_executable_is_126(podman):
    # "permission denied" in the runtime's stderr -> 126
    p = podman.podman_cmd("run", "--rm", *podman.run_opts(), IMAGE, "/etc/passwd", check=False)
    assert p.returncode == 126, p.stderr
    assert "permission denied" in p.stderr.lower()


def test_exec_missing_executable_is_127(podman):
    podman.podman_cmd("run", "-d", "--name", "p-ex", *podman.run_opts(), IMAGE, "sleep", "1000")
    p = podman.podman_cmd("exec", "p-ex", "/nonexistent", check=False)
    assert p.returncode == 127, p.stderr
    p = podman.podman_cmd("exec", "p-ex", "/etc/passwd", check=False)
    assert p.returncode == 126, p.stderr
    podman.podman_cmd("rm", "-f", "-t", "0", "p-ex")


def test_seccomp_default_profile(podman):
    # podman's default profile (containers-common's seccomp.json) reaches the runtime in config.json
    # (that profile allows unshare; the ctr and CRI tests check a filter's effect)
    p = podman.podman_cmd("run", "--rm", *podman.run_opts(), IMAGE, "grep", "^Seccomp:", "/proc/self/status")
    assert p.stdout.split() == ["Seccomp:", "2"], p.stderr


def test_memory_limit(podman):
    p = podman.podman_cmd("run", "--rm", *podman.run_opts(), "--memory", "32m", IMAGE, "sh", "-c",
                          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max")
    assert p.stdout.strip() == str(32 * 1024 * 1024)


def test_pause_unpause(podman):
    podman.podman_cmd("run", "-d", "--name", "p-pz", *podman.run_opts(), IMAGE, "sleep", "1000")
    podman.podman_cmd("pause", "p-pz")                # the runtime's `pause ID`
    assert podman.podman_cmd("inspect", "-f", "{{.State.Status}}", "p-pz").stdout.strip() == "paused"
    podman.podman_cmd("unpause", "p-pz")              # `resume ID`
    assert podman.podman_cmd("inspect", "-f", "{{.State.Status}}", "p-pz").stdout.strip() == "running"
    podman.podman_cmd("rm", "-f", "-t", "0", "p-pz")
