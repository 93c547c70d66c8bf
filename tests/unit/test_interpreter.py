"""The private CPython modules pyrunc imports to stay off heavy stdlib modules, on this interpreter.

They have no compatibility promise: these tests run on every Python the
project is tested with (Debian 12's 3.11 on the host, Debian 13's 3.13 by
`make test-py313`) and exercise each name pyrunc takes from them.
"""
import hashlib
import os
import subprocess
import sys

import pytest

from pyrunc import jsonlite, log
from pyrunc.linux import seccomp, seccompbpf
from pyrunc.process.channel import Channel
from tests.support.runtime import PROJECT

ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"   # SHA-256("abc"), FIPS 180-2


def test_seccomp_cache_hashes_with_cpythons_own_sha256():
    """3.12 merged _sha256 into _sha2: a create with seccomp failed there on `import _sha256`."""
    code = ("import sys\nfrom pyrunc.linux import seccompbpf\n"
            "print(seccompbpf.sha256()(b'abc').hexdigest(), ' '.join(sorted(sys.modules)))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONPATH": os.path.join(PROJECT, "src")})
    digest, modules = p.stdout.split(" ", 1)
    assert digest == ABC
    own = "_sha2" if sys.version_info >= (3, 12) else "_sha256"
    assert own in modules.split() and "hashlib" not in modules.split()   # OpenSSL stays unloaded


@pytest.mark.parametrize("absent", [("_sha2",), ("_sha2", "_sha256")], ids=["no-_sha2", "no-builtin-sha2"])
def test_seccomp_cache_key_is_the_same_from_every_fallback(monkeypatch, absent):
    p = seccomp.plan({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    key = seccompbpf.cache_key(p)
    for name in absent:
        monkeypatch.setitem(sys.modules, name, None)   # what `import name` finds when CPython lacks it
    assert seccompbpf.sha256()(b"abc").hexdigest() == ABC
    assert seccompbpf.cache_key(p) == key
    if "_sha256" in absent or sys.version_info >= (3, 12):
        assert seccompbpf.sha256() is hashlib.sha256


def test_json_scanner_and_encoders():
    """jsonlite (_json.make_scanner, make_encoder, encode_basestring_ascii) and log (encode_basestring)."""
    doc = {"a": [1, -2.5, True, None, "é\u2028\"\\"], "b": {"": {}}, "c": 10 ** 30}
    text = jsonlite.dumps(doc)
    assert text.isascii() and jsonlite.loads(text) == doc
    with pytest.raises(Exception, match="invalid JSON"):
        jsonlite.loads('{"a": NaN}')
    line = jsonlite.loads(log.format_line("warning", 'say "é"\n', "json", {"k": "v\n"}))
    assert line["msg"] == 'say "é"\n' and line["k"] == "v\n"


def test_socket_channel_carries_fds():
    """process/channel.py: _socket.socketpair, sendmsg/recvmsg with SCM_RIGHTS, CMSG_SPACE, MSG_CMSG_CLOEXEC."""
    a, b = Channel.pair()
    r, w = os.pipe()
    try:
        a.send("hello", fds=[w], n=1)
        msg, fds = b.recv()
        assert msg == {"type": "hello", "n": 1} and len(fds) == 1
        os.write(fds[0], b"x")
        os.close(fds[0])
        assert os.read(r, 1) == b"x"
    finally:
        for c in (a, b):
            c.close()
        os.close(r)
        os.close(w)


def test_signal_handler_and_pidfd_send_signal():
    """console.py relays signals with _signal.signal; container.py and process/parent.py kill with pidfd_send_signal."""
    import _signal
    got = []
    old = _signal.signal(_signal.SIGUSR1, lambda s, _f: got.append(s))
    try:
        os.kill(os.getpid(), _signal.SIGUSR1)
        assert got == [_signal.SIGUSR1]
    finally:
        _signal.signal(_signal.SIGUSR1, old)
    child = subprocess.Popen(["sleep", "30"])
    fd = os.pidfd_open(child.pid)
    try:
        _signal.pidfd_send_signal(fd, 9)
        assert child.wait(timeout=10) == -9
    finally:
        os.close(fd)


def test_posix_names_oslite_takes():
    """oslite re-exports posix (os without os.py), including _exit, which posix.__all__ lacks."""
    from pyrunc import oslite
    for name in ("_exit", "open", "close", "read", "write", "stat", "lstat", "scandir", "urandom", "O_PATH"):
        assert getattr(oslite, name) is getattr(os, name)
    assert oslite.startup_environ["PATH"] == os.environ["PATH"]   # posix.environ: bytes, decoded once
