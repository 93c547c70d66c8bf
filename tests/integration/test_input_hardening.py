"""Hostile input: ids that look like create's temporaries, strings the kernel would cut (NUL) or that cannot
be encoded, deep nesting, over-long ids, pid files in shared directories, and state roots or seccomp caches
another user could write.  Each attack runs for real; the defences runc lacks also run against a weakened
build (tests/support/weaken.py) to show that the check catches the hole."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.integration.test_api import pyrunc_api  # noqa: F401  (a fixture)
from tests.integration.test_errors import check_failure
from tests.support.helpers import create, read, run_to_completion, wait_for
from tests.support.runtime import Runtime
from tests.support.weaken import weakened

NOBODY = 65534
DEAD = 99999999          # above any pid_max (at most 2^22): never a live process
LONG_ID = "a" * 300


def edit(bundle, change):
    change(bundle.config)
    return bundle.save()


def write_process(tmp_path, **fields):
    proc = dict({"args": ["true"], "cwd": "/", "env": ["PATH=/bin"]}, **fields)
    path = tmp_path / "process.json"
    path.write_text(json.dumps(proc))     # ensure_ascii: NUL and lone surrogates as \u escapes
    return str(path)


def nested(levels):
    """A value that, as /process/x, makes the document `levels` arrays and objects deep."""
    value = 1
    for _ in range(levels - 2):
        value = {"k": value}
    return value


# ------------------------------------------------------------------ 1: names like create's temporaries

def check_lookalikes_survive(rt, bundle):
    """Containers named like a create's temporary directory (".<id>.<dead pid>", ".<dead pid>.<x>") keep
    their state through `delete --force <id>` and `create <id>`: a swept state dir leaves the init untracked."""
    bundle.set_args("sleep", "100")
    names = [f".vic.{DEAD}", f".{DEAD}.vic"]
    saved = {}
    for cid in names:
        create(rt, bundle, cid, extra=["--no-new-keyring"])
        rt.run("start", cid)
        d = os.path.join(rt.root, cid)
        saved[cid] = {n: read(os.path.join(d, n)) for n in os.listdir(d) if os.path.isfile(os.path.join(d, n))}
    problems = []
    try:
        rt.run("delete", "--force", "vic")
        create(rt, bundle, "vic")
        rt.run("delete", "--force", "vic")
        for cid in names:
            p = rt.run("state", cid, check=False)
            if p.returncode != 0 or json.loads(p.stdout)["status"] != "running":
                problems.append(f"{cid} lost its state: {p.stderr.strip()}")
    finally:
        for cid in names:
            d = os.path.join(rt.root, cid)
            if not os.path.isdir(d):      # swept: put the state back, so that delete stops the init
                os.mkdir(d, 0o711)
                for n, text in saved[cid].items():
                    with open(os.path.join(d, n), "w") as f:
                        f.write(text)
            rt.run("delete", "--force", cid)
    return problems


@pytest.mark.agnostic
def test_ids_like_temporaries_are_never_swept(rt, bundle):
    assert check_lookalikes_survive(rt, bundle) == []


@pytest.mark.agnostic
@pytest.mark.crun_differs("crun 1.8 names the keyring after the id: EPERM for '.dot'")
def test_an_id_starting_with_a_dot_gets_its_session_keyring(rt, bundle):
    """runc names the keyring "_ses.<id>": the kernel refuses to join one whose name starts with '.'."""
    bundle.set_args("echo", "dot")
    assert run_to_completion(rt, bundle, ".dot") == "dot\n"


# ------------------------------------------------------------------ 2, 3a: NUL bytes and lone surrogates

@pytest.mark.agnostic
@pytest.mark.crun_differs("crun 1.8 accepts a NUL in a mount destination")
def test_nul_in_a_mount_destination_mounts_nothing(rt, bundle):
    """Cut at the NUL, "/tmp\\0/x" would mount on /tmp; runc refuses it too."""
    edit(bundle, lambda c: c["mounts"].append({"destination": "/tmp\0/x", "type": "tmpfs", "source": "tmpfs"}))
    p = create(rt, bundle, "nulm", check=False)
    assert p.returncode != 0
    assert "nulm" not in rt.ids()


@pytest.mark.parametrize("change,expect", [
    (lambda c: c["mounts"].append({"destination": "/tmp\0/x", "type": "tmpfs", "source": "tmpfs"}),
     r"/mounts/\d+/destination: contains a NUL byte$"),
    (lambda c: c["process"].update(args=["echo", "a\0b"]), r"/process/args/1: contains a NUL byte$"),
    (lambda c: c["process"]["env"].append("A=b\0c"), r"/process/env/2: contains a NUL byte$"),
    (lambda c: c.update(hostname="h\0x"), r"/hostname: contains a NUL byte$"),
    (lambda c: c.update(annotations={"a\0b": "v"}), r"/annotations: key 'a\\x00b' contains a NUL byte$"),
    (lambda c: c["mounts"].append({"destination": "/tmp/\ud800", "type": "tmpfs", "source": "tmpfs"}),
     r"/mounts/\d+/destination: contains a lone surrogate \(\\ud800\), which is not text$"),
    (lambda c: c["process"].update(cwd="/\udfff"), r"/process/cwd: contains a lone surrogate \(\\udfff\)"),
], ids=["mount", "args", "env", "hostname", "key", "surrogate-mount", "surrogate-cwd"])
def test_config_strings_the_kernel_would_cut_are_refused(rt, bundle, tmp_path, change, expect):
    edit(bundle, change)
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "nul"], r"^create nul: config\.json: .*" + expect, "nul")


@pytest.mark.parametrize("fields,expect", [
    ({"args": ["echo", "a\0b"]}, r"/args/1: contains a NUL byte$"),
    ({"args": ["pwd"], "cwd": "/tmp\0/x"}, r"/cwd: contains a NUL byte$"),
    ({"args": ["echo", "\ud800"]}, r"/args/1: contains a lone surrogate \(\\ud800\), which is not text$"),
], ids=["args", "cwd", "surrogate"])
def test_process_json_strings_the_kernel_would_cut_are_refused(rt, running, tmp_path, fields, expect):
    path = write_process(tmp_path, **fields)
    check_failure(rt, tmp_path, ["exec", "-p", path, running], rf"^exec {running}: {re.escape(path)}: " + expect)


def test_api_strings_with_nul_are_refused(pyrunc_api, rt, bundle, running, tmp_path):
    """Only a Python caller can hand pyrunc a NUL outside a JSON document (argv cannot hold one)."""
    c = pyrunc_api.Container(running, root=rt.root)
    for kw, expect in [({"args": ["echo", "a\0b"]}, r"args: 'a\x00b' contains a NUL byte"),
                       ({"args": ["pwd"], "cwd": "/tmp\0/x"}, r"cwd: '/tmp\x00/x' contains a NUL byte"),
                       ({"args": ["true"], "env": ["A=\0"]}, r"env: 'A=\x00' contains a NUL byte"),
                       ({"args": ["true"], "user": "0\0"}, r"user: '0\x00' contains a NUL byte"),
                       ({"args": ["true"], "pid_file": "/tmp/p\0x"}, r"pid_file: '/tmp/p\x00x' contains a NUL byte"),
                       ({"process": {"args": ["echo", "a\0b"], "cwd": "/"}},
                        "process: /args/1: contains a NUL byte")]:
        with pytest.raises(pyrunc_api.Error) as e:
            c.exec(**kw)
        assert str(e.value) == expect
    with pytest.raises(pyrunc_api.Error, match=r"^bundle: .* contains a NUL byte$"):
        pyrunc_api.Container("apinul", root=rt.root).create(bundle.path + "\0/x")
    with pytest.raises(pyrunc_api.Error, match=r"^root: .* contains a NUL byte$"):
        pyrunc_api.Container("apinul", root=rt.root + "\0/x")


# ------------------------------------------------------------------ 3b: nesting

def test_deep_config_is_refused_at_parse(rt, bundle, tmp_path):
    """900 levels under an unknown key: accepted once, it broke every later exec (RecursionError)."""
    edit(bundle, lambda c: c["process"].update(x=nested(900)))
    check_failure(rt, tmp_path, ["create", "-b", bundle.path, "deep"],
                  r"^create deep: config\.json: /process/x(/k){98}: nested more than 100 levels deep$", "deep")


def test_deep_process_json_is_refused(rt, running, tmp_path):
    path = write_process(tmp_path, x=nested(900))
    check_failure(rt, tmp_path, ["exec", "-p", path, running],
                  rf"^exec {running}: {re.escape(path)}: /x(/k){{99}}: nested more than 100 levels deep$")


def test_config_at_the_nesting_limit_still_execs(rt, bundle):
    """What the limit lets through is shallow enough for everything that walks the saved process."""
    edit(bundle, lambda c: c["process"].update(x=nested(100)))
    bundle.set_args("sleep", "100")
    create(rt, bundle, "limit")
    rt.run("start", "limit")
    try:
        assert rt.run("exec", "limit", "echo", "ok").stdout == "ok\n"
    finally:
        rt.run("delete", "--force", "limit")


# ------------------------------------------------------------------ 3c: ids longer than a file name

@pytest.mark.agnostic
def test_an_id_of_255_characters_works(rt, bundle, tmp_path):
    cid = "b" * 255
    bundle.set_args("echo", "long")
    out = tmp_path / "long.out"
    with open(out, "w") as o:
        p = rt.run("create", "-b", bundle.path, cid, stdout=o, stderr=o, check=False)
    assert p.returncode == 0, read(out)
    rt.run("start", cid)
    wait_for(lambda: rt.status(cid) == "stopped", what="exit")
    rt.run("delete", cid)
    assert read(out) == "long\n"


@pytest.mark.parametrize("args", [["create", "-b", "BUNDLE"], ["start"], ["state"], ["kill"], ["delete"],
                                  ["delete", "--force"], ["exec"], ["pause"], ["ps"]],
                         ids=["create", "start", "state", "kill", "delete", "delete-force", "exec", "pause", "ps"])
def test_an_id_longer_than_a_file_name_is_one_line(rt, bundle, tmp_path, args):
    argv = [bundle.path if a == "BUNDLE" else a for a in args] + [LONG_ID] + (["true"] if args == ["exec"] else [])
    check_failure(rt, tmp_path, argv, rf"^{args[0]} {LONG_ID}: invalid container id: 300 characters long, "
                  r"at most 255 \(it names the state directory\)$", LONG_ID)


# ------------------------------------------------------------------ 4: pid files

def plant_links(directory, base, victim, n=3000):
    """Hard links to victim at every name a pid file's temporary had: runc's ".<base>", and pyrunc's
    ".<base>.<pid>" for the next n pids (the command's pid is the next one but for concurrent forks)."""
    with open("/proc/sys/kernel/ns_last_pid") as f:
        last = int(f.read())
    names = [f".{base}"] + [f".{base}.{pid}" for pid in range(last + 1, last + n)]
    for name in names:
        os.link(victim, os.path.join(directory, name))
    return names


def check_pid_file_temporary(rt, bundle, tmp_path, is_pyrunc, cid="pidf"):
    """A file planted where --pid-file writes its temporary is never opened: the victim stays intact."""
    shared = tmp_path / "shared"
    shared.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("VICTIM")
    bundle.set_args("sleep", "100")
    names = plant_links(shared, "pid", victim)
    try:
        p = create(rt, bundle, cid, extra=["--pid-file", str(shared / "pid")], check=is_pyrunc)
        if p.returncode == 0:
            if is_pyrunc:
                assert read(shared / "pid") == str(rt.state(cid)["pid"])
            rt.run("delete", "--force", cid)
    finally:
        for name in names:
            try:
                os.unlink(shared / name)
            except FileNotFoundError:
                pass
    return [] if read(victim) == "VICTIM" else [f"the victim now holds {read(victim)!r}"]


@pytest.mark.agnostic
def test_pid_file_temporary_never_opens_a_planted_file(rt, bundle, tmp_path, is_pyrunc):
    assert check_pid_file_temporary(rt, bundle, tmp_path, is_pyrunc) == []


def test_exec_pid_file_temporary_never_opens_a_planted_file(rt, running, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("VICTIM")
    names = plant_links(tmp_path, "epid", victim)
    with open(os.devnull, "w") as null:
        rt.run("exec", "-d", "--pid-file", str(tmp_path / "epid"), running, "sleep", "30", stdout=null, stderr=null)
    for name in names:
        os.unlink(tmp_path / name)
    assert read(victim) == "VICTIM"
    assert read(tmp_path / "epid").isdigit()


@pytest.mark.parametrize("verb", ["create", "run", "exec"])
def test_pid_file_failures_are_one_line(rt, bundle, running, tmp_path, verb):
    if verb == "exec":
        args = ["exec", "--pid-file", "/nonexistent/dir/x", running, "true"]
    else:
        args = [verb, "-b", bundle.path, "--pid-file", "/nonexistent/dir/x"] + (["-d"] if verb == "run" else []) + ["pf"]
    obj = running if verb == "exec" else "pf"
    check_failure(rt, tmp_path, args,
                  rf"^{verb} {obj}: cannot write the pid file /nonexistent/dir/x: No such file or directory$",
                  None if verb == "exec" else "pf")


# ------------------------------------------------------------------ 5: state roots and the seccomp cache

def foreign_root(tmp_path, how):
    root = tmp_path / f"root-{how}"
    root.mkdir()
    if how == "other-user":
        os.chown(root, NOBODY, NOBODY)
    else:
        root.chmod(int(how, 8))
    return root


@pytest.mark.parametrize("how", ["other-user", "0777", "0770", "0757", "1777"])
@pytest.mark.parametrize("verb", ["create", "state", "list", "kill", "delete"])
def test_a_root_others_could_write_is_refused(rt, bundle, tmp_path, how, verb):
    root = foreign_root(tmp_path, how)
    other = Runtime(rt.path, str(root))
    args = {"create": ["create", "-b", bundle.path, "r1"], "state": ["state", "r1"], "list": ["list"],
            "kill": ["kill", "r1"], "delete": ["delete", "--force", "r1"]}[verb]
    why = ("is owned by uid 65534, not by uid 0 (the caller)" if how == "other-user"
           else f"is writable by its group or others (mode {how})")
    obj = root if verb == "list" else "r1"
    check_failure(other, tmp_path, args, "^" + re.escape(f"{verb} {obj}: state root {root} {why}: refusing to use it") + "$")
    assert os.listdir(root) == []


def check_planted_state(path, tmp_path):
    """A container planted in a world-writable root names a host process: `kill` must not signal it."""
    root = tmp_path / "shared-root"
    root.mkdir()
    root.chmod(0o777)
    victim = subprocess.Popen(["sleep", "100"])
    try:
        with open(f"/proc/{victim.pid}/stat") as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        planted = root / "planted"
        planted.mkdir()
        (planted / "state.json").write_text(json.dumps({
            "id": "planted", "pid": victim.pid, "pid_start": start, "bundle": "/", "rootfs": "/",
            "created": "2024-01-01T00:00:00Z", "config": {"process": {"args": ["sh"]}}, "cgroup": {}}))
        for p in (planted, planted / "state.json"):
            os.chown(p, NOBODY, NOBODY)
        Runtime(path, str(root)).run("kill", "planted", "KILL", check=False)
        try:
            victim.wait(timeout=1)
            return ["a process named by a planted state.json was killed"]
        except subprocess.TimeoutExpired:
            return []
    finally:
        victim.kill()
        victim.wait()
        shutil.rmtree(root)


def test_planted_state_in_a_shared_root_is_not_acted_on(rt, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("runc 1.1 trusts any root")
    assert check_planted_state(rt.path, tmp_path) == []


@pytest.mark.parametrize("how", ["other-user", "0777"])
def test_front_end_leaves_a_root_others_could_write_to_python(rt, bundle, is_pyrunc, how):
    """start and delete, which the front end does without Python, refuse such a root too."""
    if not is_pyrunc:
        pytest.skip("pyrunc's front end")
    bundle.set_args("sleep", "100")
    create(rt, bundle, "fe")
    mode = os.stat(rt.root).st_mode & 0o7777
    try:
        if how == "other-user":
            os.chown(rt.root, NOBODY, NOBODY)
        else:
            os.chmod(rt.root, 0o777)
        for args in (["start", "fe"], ["delete", "--force", "fe"]):
            p = rt.run(*args, check=False)
            assert p.returncode == 1 and p.stderr.startswith(f"{args[0]} fe: state root {rt.root} "), p.stderr
    finally:
        os.chown(rt.root, 0, 0)
        os.chmod(rt.root, mode)
    assert rt.status("fe") == "created"
    assert not os.path.exists(os.path.join(rt.root, "fe", "trace.start"))
    rt.run("delete", "--force", "fe")


ALLOW_ALL = (0x06).to_bytes(2, sys.byteorder) + b"\0\0" + (0x7FFF0000).to_bytes(4, sys.byteorder)   # ret ALLOW


def check_planted_seccomp_cache(rt, bundle, tmp_path):
    """An allow-all program planted in another user's <root>/@seccomp never replaces a container's filter."""
    bundle.config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    bundle.set_args("sh", "-c", "mkdir /dev/shm/x && echo made || echo denied")
    scratch = tmp_path / "scratch-root"
    assert run_to_completion(Runtime(rt.path, str(scratch)), bundle, "probe").endswith("denied\n")
    (name,) = os.listdir(scratch / "@seccomp")      # the program's name in every root
    cache = os.path.join(rt.root, "@seccomp")
    os.mkdir(cache, 0o755)
    with open(os.path.join(cache, name), "wb") as f:
        f.write(ALLOW_ALL)
    for p in (cache, os.path.join(cache, name)):
        os.chown(p, NOBODY, NOBODY)
    p = create(rt, bundle, "planted", check=False)
    if p.returncode != 0:
        return []
    rt.run("start", "planted")
    wait_for(lambda: rt.status("planted") == "stopped", what="exit")
    rt.run("delete", "planted")
    return ["the planted program replaced the filter: mkdir went through"] if "made" in read(p.out_path) else []


def test_planted_seccomp_cache_is_refused(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's seccomp cache")
    assert check_planted_seccomp_cache(rt, bundle, tmp_path) == []
    p = create(rt, bundle, "again", check=False)
    assert p.returncode == 1
    assert read(p.out_path) == (f"create again: seccomp cache {rt.root}/@seccomp is owned by uid 65534, "
                                "not by uid 0 (the caller): refusing to use it\n")


# ------------------------------------------------------------------ the same checks catch a weakened pyrunc

@pytest.mark.parametrize("weakening,check", [
    ("sweep-ids", "lookalikes"),
    ("pid-file-truncate", "pid-file"),
    ("trust-private-dirs", "state"),
    ("trust-private-dirs", "seccomp"),
])
def test_checks_catch_a_weakened_build(rt, bundle, tmp_path, weakening, check, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("weakens pyrunc's own install")
    weak = Runtime(weakened(rt.path, weakening, tmp_path / "weak"), rt.root)
    if check == "lookalikes":
        problems = check_lookalikes_survive(weak, bundle)
    elif check == "pid-file":
        problems = check_pid_file_temporary(weak, bundle, tmp_path, True)
    elif check == "state":
        problems = check_planted_state(weak.path, tmp_path)
    else:
        problems = check_planted_seccomp_cache(weak, bundle, tmp_path)
    weak.cleanup()
    assert problems, f"the check did not notice the {weakening} weakening"
