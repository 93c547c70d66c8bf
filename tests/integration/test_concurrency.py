"""Concurrency: racing creates of one id, and many lifecycles at once, leave nothing behind."""
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow


def test_racing_creates_of_one_id(rt, bundle, tmp_path):
    bundle.set_args("sleep", "60")

    def one(i):
        # stderr to a file: the winner's container keeps its stdio open
        err = tmp_path / f"err{i}"
        with open(err, "w") as e:
            rc = subprocess.run(rt.argv("create", "--bundle", bundle.path, "same"), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=e).returncode
        return rc, err.read_text()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    winners = [r for r in results if r[0] == 0]
    losers = [r for r in results if r[0] != 0]
    assert len(winners) == 1
    for rc, err in losers:
        assert rc == 1
        assert err.strip().endswith("container with id same already exists"), err
    assert rt.status("same") == "created"
    rt.run("delete", "--force", "same")


def test_many_concurrent_lifecycles(rt, bundle):
    bundle.set_args("true")

    def lifecycle(i):
        cid = f"par{i}"
        with open(os.devnull, "w") as null:
            for args in (["run", "--bundle", bundle.path, cid],):
                r = subprocess.run(rt.argv(*args), stdin=subprocess.DEVNULL, stdout=null, stderr=null,
                                   timeout=120)
                if r.returncode != 0:
                    return f"{cid}: exit {r.returncode}"
        return None

    with ThreadPoolExecutor(10) as pool:
        errors = [e for e in pool.map(lifecycle, range(100)) if e]
    assert errors == []
    assert rt.ids() == []
