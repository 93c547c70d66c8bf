"""namespaces.py: the plan and runc's order."""
import pytest

from pyrunc.errors import BadConfig
from pyrunc.linux import namespaces as ns


def test_order_and_flags():
    p = ns.plan([{"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "user"},
                 {"type": "pid"}])
    assert p["new"] == ["user", "pid", "mount"]
    assert p["join"] == [["network", "/proc/1/ns/net"]]
    assert ns.has(p, "network") and not ns.has(p, "uts")


@pytest.mark.parametrize("bad,err", [([{"type": "nope"}], "unknown namespace type"),
                                     ([{"type": "pid"}, {"type": "pid"}], "duplicate pid"),
                                     ([{"type": "net", "path": "x"}], "unknown namespace type")])
def test_bad(bad, err):
    with pytest.raises(BadConfig, match=err):
        ns.plan(bad)
