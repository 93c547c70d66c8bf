"""The bodies of the client fixtures (test process side): a private client for a session, clean after each test."""
import pytest


def running(instance, label, also_stop=()):
    """A session fixture's body: start a private client (stopped again if that fails), stop it cleanly
    after; also_stop: more things whose close() returns what would not go (a node's slices)."""
    try:
        instance.start()
    except BaseException:
        instance.stop()
        for x in also_stop:
            x.close()
        raise
    yield instance
    problems = instance.stop()
    for x in also_stop:
        problems += x.close()
    assert not problems, f"{label} teardown: {problems}"


def left_clean(instance, label):
    """A test fixture's body: after the test, nothing of it may be left in the client."""
    yield instance
    problems = instance.reset()
    if problems:
        pytest.fail(f"the test left things in {label}: " + "; ".join(problems))
