"""The runtime-tools validation suite: build it, run it, judge its TAP (`make conformance`)."""
