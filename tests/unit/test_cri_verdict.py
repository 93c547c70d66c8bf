"""tests/cri/run.py: critest's JUnit report read into results, and the summary line and gate of make cri-validation."""
from tests.cri.run import _results, verdict

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="1"><testsuite name="CRI validation" tests="5">
  <testcase name="[BeforeSuite]" status="passed"></testcase>
  <testcase name="[It] [k8s.io] A should pass" status="passed"></testcase>
  <testcase name="[It] [k8s.io] B should fail" status="failed"><failure message="x">x</failure></testcase>
  <testcase name="[It] [k8s.io] C is skipped" status="skipped"><skipped message="skipped"></skipped></testcase>
  <testcase name="[It] [k8s.io] D timed out" status="timedout"><failure message="t">t</failure></testcase>
</testsuite></testsuites>
"""


def test_report_is_read_without_suite_nodes(tmp_path):
    path = tmp_path / "r.xml"
    path.write_text(REPORT)
    assert _results(str(path)) == {"[It] [k8s.io] A should pass": "passed", "[It] [k8s.io] B should fail": "failed",
                                   "[It] [k8s.io] C is skipped": "skipped", "[It] [k8s.io] D timed out": "failed"}


def test_summary_line_counts_each_handler_and_runc_only_passes():
    results = {"pyrunc": {"a": "passed", "b": "failed", "c": "skipped"},
               "runc": {"a": "passed", "b": "passed", "c": "skipped"}}
    lines, rc = verdict(results)
    assert lines[-1] == ("cri-validation: pyrunc 1 passed 1 failed 1 skipped; runc 2 passed 0 failed 1 skipped; "
                         "runc-only passes 1")
    assert "cri-validation: runc-only pass: b" in lines
    assert rc == 1        # a runc-only pass fails the run, gate file or not


def test_gate_fails_on_a_runc_only_pass_or_a_lost_expected_pass():
    same = {"pyrunc": {"a": "passed", "b": "failed"}, "runc": {"a": "passed", "b": "failed"}}
    assert verdict(same, expected={"a"})[1] == 0
    assert verdict(same, expected={"a", "b"})[1] == 1
    runc_only = {"pyrunc": {"a": "passed", "b": "failed"}, "runc": {"a": "passed", "b": "passed"}}
    assert verdict(runc_only, expected={"a"})[1] == 1
    lines, rc = verdict({"pyrunc": {"a": "passed", "n": "passed"}, "runc": {"a": "passed", "n": "skipped"}},
                        expected={"a"})
    assert rc == 0 and "cri-validation: passing now, not yet expected: n" in lines
