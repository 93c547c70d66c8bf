"""`pyrunc check`: the preflight, on our bundles and on every captured containerd/podman config."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from tests.support.cgroups import DRIVERS, frozen_cgroup
from tests.support.helpers import read


CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "configs")
# what cannot run on this machine kind, and the field that says why (see the configs' README)
FAILS_HERE = {"cri-sandbox-unrestricted.json": "/process/oomScoreAdj",
              "podman-default.json": "/process/rlimits/0/hard"}


def check(rt, bundle_path):
    p = rt.run("check", "--bundle", bundle_path, "--format", "json", check=False)
    assert p.returncode in (0, 1), p.stderr
    report = json.loads(p.stdout)
    for f in report["findings"]:
        assert f["pointer"].startswith("/") and f["message"] and f["severity"] in ("error", "warning", "info")
    assert report["ok"] == (p.returncode == 0)
    return report


def errors(report):
    return {f["pointer"]: f["message"] for f in report["findings"] if f["severity"] == "error"}


def test_good_bundle(rt, bundle, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    report = check(rt, bundle.path)
    assert report["ok"], errors(report)
    assert any(f["pointer"] == "/process/args/0" and "resolves to /bin/sh" in f["message"] for f in report["findings"])
    text = rt.run("check", "--bundle", bundle.path).stdout
    assert text.rstrip().endswith("will run here")


def test_bad_bundle_names_every_field(rt, bundle, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    bundle.config["process"]["args"] = ["no-such-program"]
    bundle.config["process"]["capabilities"]["bounding"].append("CAP_SYS_RESOURCE")
    bundle.config["process"]["capabilities"]["permitted"].append("CAP_SYS_RESOURCE")
    bundle.config["hooks"] = {"prestart": [{"path": "/nonexistent/hook"}]}
    bundle.config["mounts"].append({"destination": "/d", "type": "bind", "source": "/nonexistent/src"})
    bundle.config["linux"]["resources"]["memory"] = {"limit": "lots"}
    bundle.save()
    report = check(rt, bundle.path)
    assert not report["ok"]
    errs = errors(report)
    assert "/linux/resources/memory/limit" in errs      # the typed loader; the schema warns too
    assert any(f["pointer"] == "/linux/resources/memory/limit" and "schema" in f["message"]
               for f in report["findings"])
    # a field of the wrong type hides nothing else
    assert {"/process/args/0", "/hooks/prestart/0/path"} <= set(errs)
    bundle.config["linux"]["resources"]["memory"] = {"limit": 1 << 26}
    bundle.save()
    errs = errors(check(rt, bundle.path))
    assert "/process/args/0" in errs
    assert "/hooks/prestart/0/path" in errs
    assert any(p.startswith("/mounts/") and p.endswith("/source") for p in errs)
    with open("/proc/self/status") as f:
        bnd = int(next(line for line in f if line.startswith("CapBnd")).split()[1], 16)
    if not bnd >> 24 & 1:
        assert any(p.startswith("/process/capabilities/permitted/") for p in errs)


@pytest.fixture
def open_tmp():
    """A directory every user may search, outside pytest's private (0700) base directory: a container's root
    in a user namespace must reach its bundle (and other test sessions reset the base directory's mode)."""
    d = tempfile.mkdtemp(prefix="pyrunc-check.")
    os.chmod(d, 0o711)
    yield pathlib.Path(d)
    shutil.rmtree(d)


def materialize(name, tmp_path, rootfs_template):
    """A captured config made runnable here: placeholders replaced by real paths of ours."""
    d = tmp_path / name.replace(".json", "")
    shutil.copytree(rootfs_template, d / "rootfs", symlinks=True)
    for sub in ("hostdir-ro", "hostdir-rw", "bundle", "rundir", "ctrd-root", "ctrd-state"):
        (d / sub).mkdir()
    text = open(os.path.join(CONFIGS, name)).read()
    for placeholder, value in (("@BUNDLE@", d / "bundle"), ("@ROOTFS@", d / "rootfs"), ("@RUNDIR@", d / "rundir"),
                               ("@CTRD_ROOT@", d / "ctrd-root"), ("@CTRD_STATE@", d / "ctrd-state"),
                               ("@NETNS@", "/proc/self/ns/net"), ("@SANDBOX_PID@", os.getpid()),
                               ("@HOSTDIR_RO@", d / "hostdir-ro"), ("@HOSTDIR_RW@", d / "hostdir-rw"),
                               ("@POD_LOG_DIR@", d)):
        text = text.replace(placeholder, str(value))
    doc = json.loads(text)
    mounts = doc.get("mounts", ())
    for i, m in enumerate(mounts):
        src = m.get("source", "")
        if src.startswith(str(d)) and not os.path.exists(src):
            # a directory where the mount replaces an earlier one (the sandbox's shm on /dev/shm), else a file
            if any(e.get("destination") == m.get("destination") for e in mounts[:i]):
                os.makedirs(src)
            else:
                os.makedirs(os.path.dirname(src), exist_ok=True)
                open(src, "w").close()
    with open(d / "config.json", "w") as f:
        json.dump(doc, f)
    shift_rootfs(doc, str(d / "rootfs"))
    return str(d)


def shift_rootfs(doc, rootfs):
    """With a new user namespace, the rootfs belongs to the container's root, as the clients' snapshotters make it."""
    linux = doc.get("linux", {})
    if not any(ns["type"] == "user" and not ns.get("path") for ns in linux.get("namespaces", ())):
        return
    uid, gid = (next(m["hostID"] for m in linux[k] if m["containerID"] == 0) for k in ("uidMappings", "gidMappings"))
    for root, dirs, files in os.walk(rootfs):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(name, uid, gid)


@pytest.mark.skipif(not os.path.isdir(CONFIGS), reason="the captured configs are not beside the project")
def test_every_captured_config(rt, bundle, open_tmp, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    names = sorted(n for n in os.listdir(CONFIGS) if n.endswith(".json") and "exec-process" not in n)
    assert len(names) > 20
    for name in names:
        report = check(rt, materialize(name, open_tmp, bundle.rootfs))
        errs = errors(report)
        if name in FAILS_HERE:
            assert FAILS_HERE[name] in errs, (name, errs)
        else:
            assert report["ok"], (name, errs)


# ------------------------------------------------------------ check says "will run" exactly when create succeeds
CORPUS = os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus")


def corpus_bundle(name, tmp_path, rootfs_template):
    """A fuzz corpus input as a bundle: the bytes as they are, beside a copy of our rootfs."""
    d = tmp_path / f"corpus-{name[:12]}"
    shutil.copytree(rootfs_template, d / "rootfs", symlinks=True)
    shutil.copy(os.path.join(CORPUS, name), d / "config.json")
    return str(d)


def create_outcome(rt, bundle_path, cid, tmp_path):
    """(did create succeed, its output); a created container is deleted, the cgroups create made removed.

    A config asking for a terminal gets a --console-socket, as every client creates one (`create` refuses a
    terminal without it, whatever the bundle)."""
    from tests.support.console import ConsoleSocket
    from tests.support.leaks import cgroup_dirs
    try:
        with open(os.path.join(bundle_path, "config.json"), "rb") as f:
            terminal = json.loads(f.read()).get("process", {}).get("terminal") is True
    except (ValueError, AttributeError):
        terminal = False
    before = cgroup_dirs()
    console = ConsoleSocket(tmp_path / f"{cid}.sock") if terminal else None
    out = tmp_path / f"{cid}.out"
    try:
        with open(out, "w") as o:
            p = rt.run("create", "--bundle", bundle_path, *(["--console-socket", console.path] if console else []),
                       cid, stdin=subprocess.DEVNULL, stdout=o, stderr=o, check=False, timeout=60)
        if p.returncode == 0:
            if console:
                for fd in console.receive(timeout=10)[1]:
                    os.close(fd)
            rt.run("delete", "--force", cid)
    finally:
        if console:
            console.close()
        # create made the parents of an absolute cgroupsPath, which delete leaves (as runc does)
        for d in sorted(cgroup_dirs() - before, key=len, reverse=True):
            os.rmdir(d)
    return p.returncode == 0, out.read_text().strip()


def disagreements(rt, cases, tmp_path):
    """One line per bundle where check's verdict and create's outcome differ."""
    wrong = []
    for i, (name, path) in enumerate(cases):
        report = check(rt, path)
        created, out = create_outcome(rt, path, f"eq{i}", tmp_path)
        if report["ok"] != created:
            wrong.append(f"{name}: check {'accepts' if report['ok'] else 'refuses'} {errors(report)}, "
                         f"create {'succeeds' if created else 'fails'}: {out}")
    return "\n".join(wrong)


@pytest.mark.skipif(not os.path.isdir(CONFIGS), reason="the captured configs are not beside the project")
def test_check_says_will_run_exactly_when_create_succeeds_on_real_configs(rt, bundle, tmp_path, open_tmp,
                                                                         is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    names = sorted(n for n in os.listdir(CONFIGS) if n.endswith(".json") and "exec-process" not in n)
    cases = [(n, materialize(n, open_tmp, bundle.rootfs)) for n in names]
    wrong = disagreements(rt, cases, tmp_path)
    assert not wrong, wrong


def test_check_says_will_run_exactly_when_create_succeeds_on_the_fuzz_corpus(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    names = sorted(os.listdir(CORPUS))
    cases = [(n, corpus_bundle(n, tmp_path, bundle.rootfs)) for n in names]
    wrong = disagreements(rt, cases, tmp_path)
    assert not wrong, wrong


def both_refuse(rt, bundle, cid, tmp_path, pointer):
    """check refuses the bundle at `pointer`, and create fails on it."""
    bundle.save()
    report = check(rt, bundle.path)
    created, out = create_outcome(rt, bundle.path, cid, tmp_path)
    assert not report["ok"] and pointer in errors(report), report["findings"]
    assert not created and cid not in rt.ids(), out


def test_check_refuses_what_the_stages_would_fail_on(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    bundle.config["process"]["terminal"] = False
    mounts = bundle.config["mounts"]
    # a file bound on a directory of the rootfs (runc: "not a directory")
    (tmp_path / "afile").write_text("x")
    mounts.append({"destination": "/etc", "type": "bind", "source": str(tmp_path / "afile"), "options": ["bind"]})
    both_refuse(rt, bundle, "st1", tmp_path, f"/mounts/{len(mounts) - 1}/destination")
    # a parameter the filesystem does not take, and a filesystem the kernel does not have
    mounts[-1] = {"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["noosuid"]}
    both_refuse(rt, bundle, "st2", tmp_path, f"/mounts/{len(mounts) - 1}/options")
    mounts[-1] = {"destination": "/x", "type": "nosuchfs", "source": "none"}
    both_refuse(rt, bundle, "st3", tmp_path, f"/mounts/{len(mounts) - 1}/type")


def test_check_refuses_a_rootfs_out_of_the_user_namespaces_reach(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shutil.move(bundle.path, private / "bundle")
    bundle.path = str(private / "bundle")
    linux = bundle.config["linux"]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    both_refuse(rt, bundle, "us1", tmp_path, "/root/path")


@pytest.mark.parametrize("version", DRIVERS)
def test_check_runs_the_cgroup_drivers_dry_run(rt, bundle, tmp_path, is_pyrunc, version):
    """What the driver's create refuses: an existing frozen cgroup, resources the kernel cannot take."""
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    bundle.config["process"]["terminal"] = False
    bundle.config["linux"]["cgroupsPath"] = "/dr1"
    with frozen_cgroup(version, "dr1") as (knob, frozen):
        both_refuse(rt, bundle, "dr1", tmp_path, "/linux/cgroupsPath")
        assert read(knob).strip() == frozen
    bundle.config["linux"]["cgroupsPath"] = "/dr2"
    if version == "v1":
        bundle.config["linux"]["resources"]["memory"] = {"swappiness": 101}
        both_refuse(rt, bundle, "dr2", tmp_path, "/linux/resources/memory/swappiness")
    else:
        bundle.config["linux"]["resources"]["unified"] = {"nosuch.max": "1"}
        both_refuse(rt, bundle, "dr2", tmp_path, "/linux/resources")
