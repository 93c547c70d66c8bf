"""Concurrency: racing creates of one id, and many lifecycles at once, leave nothing behind."""
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow


def test_racing_creates_of_one_id(rt, bundle):
    bundle.set_args("sleep", "60")

    def one(_):
        return subprocess.run(rt.argv("create", "--bundle", bundle.path, "same"), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1
    for r in losers:
        assert r.returncode == 1
        assert r.stderr.strip().endswith("container with id same already exists"), r.stderr
    assert rt.status("same") == "created"
    rt.run("delete", "--force", "same")


def test_many_concurrent_lifecycles(rt, bundle):
    bundle.set_args("true")

    def lifecycle(i):
        cid = f"par{i}"
        with open(os.devnull, "w") as null:
            for args in (["run", "--bundle", bundle.path, cid],):
                r = subprocess.run(rt.argv(*args), stdin=subprocess.DEVNULL, stdout=null, stderr=subprocess.PIPE,
                                   text=True, timeout=120)
                if r.returncode != 0:
                    return f"{cid}: {r.stderr.strip()}"
        return None

    with ThreadPoolExecutor(10) as pool:
        errors = [e for e in pool.map(lifecycle, range(100)) if e]
    assert errors == []
    assert rt.ids() == []
