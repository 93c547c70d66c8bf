"""The --log file: created at once, and a path that cannot be opened is one clean error."""
import json

import pytest

from pyrunc import log
from pyrunc.errors import Error


@pytest.fixture(autouse=True)
def reset_log():
    yield
    log.setup()


def test_setup_creates_the_file(tmp_path):
    path = tmp_path / "log.json"
    log.setup(str(path), "json")
    assert path.exists() and path.read_text() == ""   # containerd reads it even when nothing failed
    log.error("create x: boom")
    line = json.loads(path.read_text())
    assert (line["level"], line["msg"]) == ("error", "create x: boom")


def test_unopenable_path_is_an_error_not_a_traceback(tmp_path, capfd):
    missing = tmp_path / "gone" / "log.json"
    with pytest.raises(Error, match=r"^open .*gone/log.json: No such file or directory$"):
        log.setup(str(missing), "json")
    log.error("delete x: the final line")          # still reaches stderr, no second failure
    assert capfd.readouterr().err == "delete x: the final line\n"
    assert not missing.parent.exists()


def test_debug_without_log_goes_to_stderr_even_when_stdio_is_the_containers(capfd):
    # runc writes its debug lines to stderr when there is no --log; so does pyrunc, even for create
    log.setup(None, "text", debug=True, stderr_ok=False)
    log.debug("create x: mounts", ms=1.5)
    err = capfd.readouterr().err
    assert err.startswith('time="') and err.endswith(' level=debug msg="create x: mounts" ms=1.5\n'), err


def test_text_values_are_quoted_as_logrus_quotes_them():
    # logrus leaves a value bare only if every character is a letter, a digit or one of -._/@^+;
    # `stage=cli start` would read as stage=cli plus a key "start"
    line = log.format_line("debug", "trace", "text", {"stage": "cli start", "ms": 0.5, "path": "/a/b-c",
                                                      "q": 'say "x"'})
    assert line.endswith(' level=debug msg=trace stage="cli start" ms=0.5 path=/a/b-c q="say \\"x\\""\n'), line


def test_without_debug_the_containers_stderr_stays_quiet(capfd):
    log.setup(None, "text", debug=False, stderr_ok=False)
    log.warning("ignoring unknown or unavailable capabilities: [CAP_X]")
    assert capfd.readouterr().err == ""
