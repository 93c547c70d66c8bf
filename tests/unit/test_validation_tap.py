"""tests/validation/tap.py: TAP parsing and the verdict rules of `make conformance`."""
from tests.validation import suite, tap

HOOK_ERROR = """TAP version 13
  ---
  {
    "error": "The poststart hooks MUST be invoked\\nby the runtime",
    "stderr": "boom"
  }
  ...
1..0
"""


def judge(text, rc=0, **kw):
    return tap.verdict(tap.parse(text), rc, **kw)


def test_all_ok_passes():
    assert judge("TAP version 13\nok 1 - a\nok 2 - b\n1..2\n") == ("PASS", "2 ok")


def test_not_ok_fails_with_the_first_description():
    v, why = judge("ok 1 - a\nnot ok 2 - create MUST fail\nnot ok 3 - c\n1..3\n")
    assert v == "FAIL" and why == "not ok: create MUST fail (+1 more)"


def test_todo_counts_as_ok_and_skip_only_is_skip():
    assert judge("not ok 1 - x # TODO later\nok 2 - y\n1..2\n")[0] == "PASS"
    assert judge("1..1\nok 1 # skip linux-specific namespace test\n") == ("SKIP", "linux-specific namespace test")


def test_plan_mismatch_fails_and_two_streams_add_up():
    assert judge("ok 1\nok 2\n1..3\n") == ("FAIL", "planned 3 assertions, ran 2")
    assert judge("1..1\nok 1\n1..2\nok 1\nok 2\n")[0] == "PASS"


def test_exit_status_timeout_and_bail_out():
    assert judge("ok 1\n1..1\n", rc=1, stderr="failed\nexit status 1\n") == ("FAIL", "exit 1: failed")
    assert judge("", rc=1, stderr="exit status 1\n") == ("FAIL", "exit 1: exit status 1")
    assert judge("", rc=-9, timed_out=True) == ("FAIL", "timed out")
    assert judge("Bail out! no runtime\n") == ("FAIL", "bail out: no runtime")


def test_hook_tests_fail_on_an_error_diagnostic_only_without_assertions():
    v, why = judge(HOOK_ERROR)
    assert v == "FAIL" and why == "error: The poststart hooks MUST be invoked by the runtime"
    assert judge("TAP version 13\n1..0\n") == ("PASS", "no assertions, no error")
    # an assertion's own diagnostic may carry an empty "error" (SpecErrorOK): it does not count
    ok_with_diag = 'ok 1 - state\n  ---\n  {\n    "error": "",\n    "reference": "x"\n  }\n  ...\n1..1\n'
    assert judge(ok_with_diag)[0] == "PASS"


def test_nested_tap_in_a_diagnostic_is_not_counted():
    text = 'ok 1 - outer\n  ---\n  {\n    "stdout": "not ok 1 - inner\\n"\n  }\n  ...\nnot ok 2 - x\n1..2\n'
    r = tap.parse(text)
    assert (r.ok, r.not_ok) == (1, 1)


def test_go_version_parsing():
    assert suite.parse_go_version("go version go1.26.8 linux/amd64") == (1, 26)
    assert suite.parse_go_version("go version go1.19.8 linux/amd64") < suite.GO_MIN
    assert suite.parse_go_version("garbage") is None


def test_the_gate_fails_on_a_lost_pass_and_reports_new_ones(tmp_path, capsys):
    from tests.validation.run import _gate
    expected = tmp_path / "expected.txt"
    expected.write_text("# comment\nkill\nstate\n")
    assert _gate(str(expected), ["kill", "state", "start"], {"kill", "state", "start"}) == 0
    assert "start" in capsys.readouterr().out
    assert _gate(str(expected), ["kill", "state"], {"kill"}) == 1
    assert "state" in capsys.readouterr().err
    assert _gate(str(expected), ["kill"], {"kill"}) == 0          # a subset run gates only what ran
    assert _gate(None, ["kill"], set()) == 0
