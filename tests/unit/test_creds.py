"""creds.check_executable: what the kernel would execute for the container's process, and nothing less."""
import os

import pytest

from pyrunc.errors import Error
from pyrunc.linux import caps, creds

DAC = 1 << caps.NUMBER["CAP_DAC_OVERRIDE"]
OWNER, GROUP = os.getuid(), os.getgid()          # the test file's owner and group
OTHER = OWNER + 4242


def process(uid, gid=OTHER, groups=(), effective=0):
    return {"uid": uid, "gid": gid, "groups": list(groups), "caps": {"effective": effective}}


@pytest.mark.parametrize("mode,p,ok", [
    (0o700, process(OWNER), True),                        # owner
    (0o070, process(OWNER, GROUP), False),                # the owner's bits only, never the group's
    (0o010, process(OTHER, GROUP), True),                 # group
    (0o010, process(OTHER, groups=[GROUP]), True),        # a supplementary group
    (0o001, process(OTHER), True),                        # other
    (0o700, process(OTHER), False),                       # any uid, root too, is bound by the mode...
    (0o700, process(OTHER, effective=DAC), True),         # ...unless CAP_DAC_OVERRIDE, with any x bit
    (0o600, process(OTHER, effective=DAC), False),        # but not without one
])
def test_mode_bits_and_dac_override(tmp_path, mode, p, ok):
    prog = tmp_path / "prog"
    prog.write_text("")
    os.chmod(prog, mode)
    if ok:
        creds.check_executable(str(prog), p)
    else:
        with pytest.raises(Error, match=r'exec: ".*prog": permission denied'):
            creds.check_executable(str(prog), p)
