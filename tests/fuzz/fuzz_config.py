#!/usr/bin/env python3
"""atheris target (a host tool, run by `make fuzz`): config.json bytes through pyrunc's loader,
validator and planner. Any exception other than pyrunc's Error is a bug."""
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from pyrunc import config, spec, validate
    from pyrunc.cgroups.null import NullManager
    from pyrunc.errors import Error

BUNDLE = tempfile.mkdtemp(prefix="pyrunc-fuzz.")
os.mkdir(os.path.join(BUNDLE, "rootfs"))


def one(data):
    try:
        doc = spec.parse(data)
        if validate.check(doc, BUNDLE):
            return
        config.build(doc, BUNDLE, "fuzz", NullManager({}), ("none", []))
    except Error as e:
        if "\n" in str(e):
            raise AssertionError(f"a multi-line error: {e!r}") from None


if __name__ == "__main__":
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
