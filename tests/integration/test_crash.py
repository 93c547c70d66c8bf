"""Crash consistency: a runtime killed at any point of create, start or delete leaves nothing after delete --force."""
import os
import random
import signal
import subprocess
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
