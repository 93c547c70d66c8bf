"""Run a client command on a fresh pseudo-terminal, as a person at a terminal would (test process side)."""
import os
import subprocess

from tests.support.console import read_all


def run_on_pty(argv, timeout=60, env=None):
    """(exit code, output with CR and NUL stripped); the command's stdio is the pty slave."""
    master, slave = os.openpty()
    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    finally:
        os.close(slave)
    try:
        out = read_all(master, timeout=timeout)   # until EIO: every holder of the slave is gone
        rc = p.wait(timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out.decode(errors="replace").replace("\r", "").replace("\0", "")
