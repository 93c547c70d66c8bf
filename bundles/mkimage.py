#!/usr/bin/env python3
"""Build a busybox OCI image archive offline from Debian's static busybox (build tool, host side).

    mkimage.py OUT.tar

OUT.tar is an OCI image layout (image-spec 1.0) with two tags over one layer:
`latest` runs `sh`, `pause` runs `sleep` (the CRI pod sandbox image).  It is
what `ctr images import --base-name NAME` and `podman pull oci-archive:OUT.tar:TAG`
read.  The rootfs is mkbundle's; the archive is byte-for-byte reproducible
(fixed mtimes and owners, gzip without a timestamp), so a rebuild imports as
the same image.  Nothing is downloaded.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mkbundle  # noqa: E402

TAGS = {"latest": ["sh"], "pause": ["/bin/sleep", "2147483647"]}
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
MEDIA = {"manifest": "application/vnd.oci.image.manifest.v1+json",
         "config": "application/vnd.oci.image.config.v1+json",
         "layer": "application/vnd.oci.image.layer.v1.tar+gzip"}


def layer_tar(rootfs):
    """The rootfs as an uncompressed tar, sorted, owned by root, mtime 0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                paths.append(os.path.join(dirpath, name))
        for p in sorted(paths):
            info = tar.gettarinfo(p, arcname=os.path.relpath(p, rootfs))
            owner = os.lstat(p)
            info.uid, info.gid = owner.st_uid, owner.st_gid
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isfile():
                with open(p, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def gzip_bytes(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(data)
    return out.getvalue()


def blob(blobs, data, media):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media, "digest": digest, "size": len(data)}


def json_bytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build(out):
    """Write the OCI archive to `out` (atomically) and return its path."""
    with tempfile.TemporaryDirectory(prefix="mkimage.") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        mkbundle.make_rootfs(rootfs)
        with open(os.path.join(rootfs, "etc", "hostname"), "w") as f:
            f.write("busybox\n")
        tar = layer_tar(rootfs)
    blobs = {}
    layer = blob(blobs, gzip_bytes(tar), MEDIA["layer"])
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    platform = {"architecture": "amd64", "os": "linux"}
    manifests = []
    for tag, cmd in TAGS.items():
        config = dict(platform, created="1970-01-01T00:00:00Z",
                      config={"Env": ENV, "Cmd": cmd, "WorkingDir": "/"},
                      rootfs={"type": "layers", "diff_ids": [diff_id]},
                      history=[{"created": "1970-01-01T00:00:00Z", "created_by": "pyrunc bundles/mkimage.py"}])
        manifest = {"schemaVersion": 2, "mediaType": MEDIA["manifest"],
                    "config": blob(blobs, json_bytes(config), MEDIA["config"]), "layers": [layer]}
        desc = blob(blobs, json_bytes(manifest), MEDIA["manifest"])
        desc["platform"] = platform
        desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
        manifests.append(desc)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    files = [("oci-layout", json_bytes({"imageLayoutVersion": "1.0.0"})), ("index.json", json_bytes(index))]
    files += [("blobs/sha256/" + d.split(":", 1)[1], data) for d, data in sorted(blobs.items())]
    tmp_out = out + ".tmp"
    with tarfile.open(tmp_out, "w", format=tarfile.PAX_FORMAT) as archive:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    os.replace(tmp_out, out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(build(sys.argv[1]))
