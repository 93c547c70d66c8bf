"""Crash consistency: a runtime killed at any point of create, start or delete leaves nothing after delete --force."""
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from tests.support.helpers import create

pytestmark = pytest.mark.slow


def kill_after(rt, args, delay):
    p = subprocess.Popen(rt.argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()


def test_sigkill_during_create_start_delete(rt, bundle):
    rng = random.Random(1234)
    bundle.set_args("sleep", "60")
    for i in range(50):
        cid = f"crash{i}"
        phase = i % 3
        if phase == 0:
            kill_after(rt, ["create", "--bundle", bundle.path, cid], rng.uniform(0, 0.08))
        elif phase == 1:
            create(rt, bundle, cid)
            kill_after(rt, ["start", cid], rng.uniform(0, 0.03))
        else:
            create(rt, bundle, cid)
            rt.run("start", cid)
            kill_after(rt, ["delete", "--force", cid], rng.uniform(0, 0.03))
        p = rt.run("delete", "--force", cid, check=False)
        assert p.returncode == 0, p.stderr
        assert cid not in rt.ids()
        assert not [n for n in os.listdir(rt.root) if n.startswith("@creating.")]   # create's temporaries


def test_interrupted_create_is_cleaned_by_the_next_create(rt, bundle):
    bundle.set_args("sleep", "60")
    for delay in (0.005, 0.02, 0.04, 0.06):
        kill_after(rt, ["create", "--bundle", bundle.path, "again"], delay)
        if "again" in rt.ids():
            st = rt.run("state", "again", check=False)
            if st.returncode == 0 and '"created"' in st.stdout:
                rt.run("delete", "--force", "again")
                continue
        create(rt, bundle, "again")
        assert rt.status("again") == "created"
        rt.run("delete", "--force", "again")
    assert not os.listdir(rt.root)


def _what_is_left(rt, cid, rootfs):
    """Anything of container cid: its state dir, a cgroup dir, a process whose root is its rootfs, a mount."""
    left = [f"state {cid}"] if cid in os.listdir(rt.root) else []
    for h in os.listdir("/sys/fs/cgroup"):
        if os.path.isdir(f"/sys/fs/cgroup/{h}/{cid}"):
            left.append(f"cgroup {h}/{cid}")
    root = os.stat(rootfs)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = os.stat(f"/proc/{pid}/root")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (root.st_dev, root.st_ino):
            left.append(f"process {pid}")
    with open("/proc/self/mountinfo") as f:
        left += [f"mount {line.split()[4]}" for line in f if rootfs in line]
    return left


def test_delete_force_returns_only_when_nothing_is_left_under_churn(rt, bundle, bundle_template, tmp_path):
    """create SIGKILLed 0-80 ms in, then delete --force: when it returns, nothing of the container
    is left, checked at once, while another container is created, started and deleted in a loop."""
    from tests.support.bundle import new_bundle
    churn_bundle = new_bundle(bundle_template, tmp_path / "churn")
    churn_bundle.set_args("true")
    stop = threading.Event()

    def churn():
        i = 0
        while not stop.is_set():
            cid = f"churn{i}"
            i += 1
            subprocess.run(rt.argv("run", "--bundle", churn_bundle.path, cid), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            subprocess.run(rt.argv("delete", "--force", cid), capture_output=True, timeout=60)

    rng = random.Random(4321)
    bundle.set_args("sleep", "60")
    found = []
    t = threading.Thread(target=churn)
    t.start()
    try:
        for i in range(40):
            cid = f"killed{i}"
            kill_after(rt, ["create", "--bundle", bundle.path, cid], rng.uniform(0, 0.08))
            p = rt.run("delete", "--force", cid, check=False)
            left = _what_is_left(rt, cid, bundle.rootfs)
            if p.returncode != 0 or left:
                found.append((i, p.stderr.strip(), left))
    finally:
        stop.set()
        t.join()
    assert not found, found


def test_the_sandbox_sweeps_what_a_killed_sandbox_left(tmp_path):
    """tests/support/sandbox.sh killed outright leaves its pyrunc-test.<pid> cgroups; the next one
    removes those whose pid is gone, and leaves a live one's (run here, nested in our own sandbox)."""
    from tests.support.owncgroup import hierarchies
    mp = hierarchies()[0]
    dead, live = f"{mp}/pyrunc-test.99999999", f"{mp}/pyrunc-test.{os.getpid()}"
    for d in (dead, dead + "/child", live):
        os.mkdir(d)
    try:
        sandbox = os.path.join(os.path.dirname(__file__), "..", "support", "sandbox.sh")
        assert subprocess.run(["bash", sandbox, "true"], timeout=60).returncode == 0
        assert not os.path.exists(dead) and os.path.isdir(live)
    finally:
        for d in (dead + "/child", dead, live):
            if os.path.isdir(d):
                os.rmdir(d)
