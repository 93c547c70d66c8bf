"""`pyrunc check`: the preflight, on our bundles and on every captured containerd/podman config."""
import json
import os
import shutil

import pytest

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
    for m in doc.get("mounts", ()):
        src = m.get("source", "")
        if src.startswith(str(d)) and not os.path.exists(src):
            os.makedirs(os.path.dirname(src), exist_ok=True)
            open(src, "w").close()
    with open(d / "config.json", "w") as f:
        json.dump(doc, f)
    return str(d)


@pytest.mark.skipif(not os.path.isdir(CONFIGS), reason="the captured configs are not beside the project")
def test_every_captured_config(rt, bundle, tmp_path, is_pyrunc):
    if not is_pyrunc:
        pytest.skip("pyrunc's own command")
    names = sorted(n for n in os.listdir(CONFIGS) if n.endswith(".json") and "exec-process" not in n)
    assert len(names) > 20
    for name in names:
        report = check(rt, materialize(name, tmp_path, bundle.rootfs))
        errs = errors(report)
        if name in FAILS_HERE:
            assert FAILS_HERE[name] in errs, (name, errs)
        else:
            assert report["ok"], (name, errs)
