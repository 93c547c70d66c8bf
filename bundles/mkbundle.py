#!/usr/bin/env python3
"""Build test bundles offline from Debian's static busybox (build tool, host side).

    mkbundle.py OUT_DIR [VARIANT]   # VARIANT: a JSON merge patch in variants/ (RFC 7386)

The rootfs holds /bin/busybox with its applet links and a minimal /etc; the
config is `pyrunc spec`'s example with terminal off and args `sh`, then the
variant's merge patch on top.  Nothing is downloaded; nothing binary is kept
in git.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))


def find_static_busybox():
    for p in BUSYBOX_CANDIDATES:
        if os.path.exists(p):
            out = subprocess.run(["file", "-L", p], capture_output=True, text=True).stdout \
                if shutil.which("file") else "statically linked"
            if "dynamically linked" not in out:
                return p
    sys.exit("mkbundle: no static busybox: apt-get install busybox-static")


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def make_rootfs(rootfs):
    bb = find_static_busybox()
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user", "var", "run", "usr/bin"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    shutil.copy2(bb, os.path.join(rootfs, "bin", "busybox"))
    applets = subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        link = os.path.join(rootfs, "bin", a)
        if a != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
                "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write("root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n")
    os.chown(os.path.join(rootfs, "home", "user"), 1000, 1000)


def base_config():
    from pyrunc.spec import example
    c = example(cgroupns=True)   # the same base on every host: tests that need no cgroup namespace drop it
    c["ociVersion"] = "1.0.2"   # older runtimes (crun 1.8) reject newer versions; the tests compare them
    c["process"]["terminal"] = False
    c["process"]["args"] = ["sh"]
    c["root"]["readonly"] = False
    return c


def build(out, variant=None):
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    make_rootfs(os.path.join(tmp, "rootfs"))
    config = base_config()
    if variant:
        with open(os.path.join(HERE, "variants", variant + ".json")) as f:
            config = merge_patch(config, json.load(f))
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    return out


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    print(build(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None))
