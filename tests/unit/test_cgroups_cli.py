"""The cgroup commands on the command line: runc's flags for update, ps's pass-through arguments."""
from pyrunc.cli import COMMANDS, parse_flags


def parse(verb, argv):
    c = COMMANDS[verb]
    return parse_flags(argv, c.flags, c.aliases, c.reorder)


def test_ps_passes_what_follows_the_id_to_ps():
    assert parse("ps", ["-f", "json", "c1", "-o", "pid,comm"]) == ({"format": "json"}, ["c1", "-o", "pid,comm"])


def test_update_takes_runcs_flags_and_aliases():
    opts, pos = parse("update", ["--memory", "100M", "--cpu-shares", "512", "-r", "-", "--pids-limit", "-1", "c1"])
    assert opts == {"memory": "100M", "cpu-share": "512", "resources": "-", "pids-limit": "-1"} and pos == ["c1"]


def test_events_flags():
    assert parse("events", ["--stats", "--interval=1s", "c1"]) == ({"stats": True, "interval": "1s"}, ["c1"])
