"""The images critest pulls, built offline from Debian's binaries and pushed to a loopback registry (host side, make cri-validation).

critest asks for fixed names on registry.k8s.io and gcr.io (see images()); the
registry serves them under the same paths, and containerd's hosts.toml makes it
the only host for those registries.  All images share one layer: Debian's
dynamically linked busybox (busybox-static's sh runs applets in-process, but the
masked-paths test masks /bin/ls and expects `sh -c ls` to fail with EACCES: the
package's sh execs an external /bin/ls, a separate copy, since masking a symlink
would mask busybox itself), procps' pgrep and util-linux's ipcs (busybox lacks
both), Debian's nginx, a static pause for the pod sandbox (the pod's PID 1:
critest's `pgrep sleep` must not find it), a setuid-root program for the
no-new-privileges test, and the users and groups the user tests expect.  The
images differ only in their config (user, command, a label), so that the
"three distinct images" tests get three image ids.  Nothing is downloaded here:
`make peers` fetches the busybox package (`apt-get download`: it conflicts with
busybox-static, which the project installs) into the peers' cache.
"""
import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "bundles")
sys.path.insert(0, BUNDLES)
import mkbundle  # noqa: E402
import mkimage  # noqa: E402

E2E = "e2e-test-images/"
STAGING = "k8s-staging-cri-tools/"
# the hosts whose paths the registry serves (critest's fixed names)
MIRRORED = ("registry.k8s.io", "k8s.gcr.io", "gcr.io")
NGINX = ["nginx", "-g", "daemon off;"]    # PID 1's cmdline becomes "nginx: master process ..."
PASSWD = ("root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\n"
          "default-user:x:1000:1000::/home/default-user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
GROUP = ("root:x:0:\nwww-data:x:33:\ndefault-user:x:1000:\n"
         "group-defined-in-image:x:50000:default-user\nnogroup:x:65534:\n")
NGINX_CONF = """user www-data;
worker_processes 1;
pid /var/run/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log /dev/stdout;
    server {{ listen {port}; root /www; }}
}}
"""
NNP_C = r"""#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", (int)geteuid()); return 0; }
"""
# Kubernetes' pause: sleep until SIGTERM/SIGINT, reap the pod's orphans (PID 1 of the pod)
PAUSE_C = r"""#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) ; }
int main(void) {
    signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
    for (;;) pause();
}
"""
# the pod sandbox image (containerd's pinned sandbox image), pulled through the mirror
SANDBOX = "registry.k8s.io/pause:3.10"


class CannotRun(Exception):
    """Something the run needs is missing: a peer, a package, a service that did not come up."""


def images():
    """{registry path:tag -> image config}: every name critest pulls but the one by digest."""
    out = {
        E2E + "busybox:1.29-2": {"Cmd": ["sh"]},
        E2E + "nginx:1.14-2": {"Cmd": NGINX, "ExposedPorts": {"80/tcp": {}}},
        E2E + "httpd:2.4.39-4": {"Cmd": ["sh", "-c", "echo httpd: serving /www on port 80; exec httpd -f -v -p 80 -h /www"]},
        E2E + "nonewprivs:1.3": {"Cmd": ["/usr/local/bin/nonewprivs"]},
        "pause:3.9": {"Cmd": ["/pause"], "Labels": {"name": "pause"}},
        SANDBOX.split("/", 1)[1]: {"Cmd": ["/pause"]},
        STAGING + "hostnet-nginx-amd64:latest": {"Cmd": NGINX[:1] + ["-c", "/etc/nginx/hostnet.conf"] + NGINX[1:]},
        STAGING + "test-image-user-uid:latest": {"Cmd": ["sh"], "User": "1002"},
        STAGING + "test-image-user-username:latest": {"Cmd": ["sh"], "User": "www-data"},
        STAGING + "test-image-user-uid-group:latest": {"Cmd": ["sh"], "User": "1003:1004"},
        STAGING + "test-image-user-username-group:latest": {"Cmd": ["sh"], "User": "www-data:1004"},
        STAGING + "test-image-predefined-group:latest": {"Cmd": ["sh"], "User": "1000"},
        STAGING + "test-image-latest:latest": {"Cmd": ["sh"], "Labels": {"name": "latest"}},
        STAGING + "test-image-tag:test": {"Cmd": ["sh"], "Labels": {"name": "tag"}},
        STAGING + "test-image-tag:all": {"Cmd": ["sh"], "Labels": {"name": "tag"}},
    }
    for i in (1, 2, 3):
        out[STAGING + f"test-image-{i}:latest"] = {"Cmd": ["sh"], "Labels": {"name": f"image-{i}"}}
        out[STAGING + f"test-image-tags:{i}"] = {"Cmd": ["sh"], "Labels": {"name": "tags"}}
    return out


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _copy_libs(rootfs, binary):
    """The shared objects ldd names for a dynamically linked binary, at their paths in rootfs."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for f in (w for line in out.splitlines() for w in line.split() if w.startswith("/")):
        os.makedirs(os.path.dirname(rootfs + f), exist_ok=True)
        shutil.copy2(os.path.realpath(f), rootfs + f)


def debian_busybox(cache, tmp):
    """Debian's dynamically linked busybox, from the package tests/peers/build.sh downloads into cache/debs."""
    debs = os.path.join(cache, "debs")
    found = [f for f in os.listdir(debs) if f.startswith("busybox_") and f.endswith(".deb")] \
        if os.path.isdir(debs) else []
    if not found:
        raise CannotRun(f"no busybox_*.deb in {debs} (make peers downloads it)")
    subprocess.run(["dpkg-deb", "-x", os.path.join(debs, sorted(found)[-1]), os.path.join(tmp, "busybox")], check=True)
    return os.path.join(tmp, "busybox", "bin", "busybox")


def _compile(tmp, name, source, dest):
    src = os.path.join(tmp, name + ".c")
    _write(src, source)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    subprocess.run(["gcc", "-static", "-O2", "-o", dest, src], check=True)


def make_rootfs(rootfs, tmp, cache):
    mkbundle.make_rootfs(rootfs)
    bb = debian_busybox(cache, tmp)
    applets = set(subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout.split())
    bindir = os.path.join(rootfs, "bin")
    for name in os.listdir(bindir):
        if os.path.islink(os.path.join(bindir, name)) and name not in applets:
            os.unlink(os.path.join(bindir, name))
    shutil.copy2(bb, os.path.join(bindir, "busybox"))
    os.unlink(os.path.join(bindir, "ls"))
    shutil.copy2(bb, os.path.join(bindir, "ls"))
    _copy_libs(rootfs, bb)
    for binary in ("/usr/bin/pgrep", "/usr/bin/ipcs", "/usr/sbin/nginx"):
        os.makedirs(os.path.dirname(rootfs + binary), exist_ok=True)
        shutil.copy2(binary, rootfs + binary)
        _copy_libs(rootfs, binary)
    _compile(tmp, "pause", PAUSE_C, os.path.join(rootfs, "pause"))
    _write(os.path.join(rootfs, "etc", "passwd"), PASSWD)
    _write(os.path.join(rootfs, "etc", "group"), GROUP)
    _write(os.path.join(rootfs, "etc", "hostname"), "busybox\n")
    _write(os.path.join(rootfs, "etc", "nginx", "nginx.conf"), NGINX_CONF.format(port=80))
    _write(os.path.join(rootfs, "etc", "nginx", "hostnet.conf"), NGINX_CONF.format(port=12003))
    _write(os.path.join(rootfs, "www", "index.html"), "<html><body>pyrunc critest</body></html>\n")
    for d in ("var/run", "var/log/nginx", "var/lib/nginx", "tmp"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    nnp = os.path.join(rootfs, "usr", "local", "bin", "nonewprivs")
    _compile(tmp, "nonewprivs", NNP_C, nnp)
    os.chown(nnp, 0, 0)
    os.chmod(nnp, 0o4755)   # setuid root: what no_new_privs must neutralise


def build(tmp, cache):
    """(layer blob, {name: (manifest bytes, config bytes)})."""
    rootfs = os.path.join(tmp, "rootfs")
    make_rootfs(rootfs, tmp, cache)
    tar = mkimage.layer_tar(rootfs)
    layer = mkimage.gzip_bytes(tar)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    layer_desc = mkimage.blob({}, layer, mkimage.MEDIA["layer"])
    out = {}
    for name, conf in images().items():
        config = mkimage.json_bytes({"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
                                     "config": dict({"Env": mkimage.ENV, "WorkingDir": "/"}, **conf),
                                     "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
        manifest = mkimage.json_bytes({"schemaVersion": 2, "mediaType": mkimage.MEDIA["manifest"],
                                       "layers": [layer_desc],
                                       "config": mkimage.blob({}, config, mkimage.MEDIA["config"])})
        out[name] = (manifest, config)
    return layer, out


class Registry:
    """The HTTP API of a registry (distribution v2) on 127.0.0.1:port, for pushing."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Location"), r.read()
        finally:
            c.close()

    def push_blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.request("HEAD", f"/v2/{repo}/blobs/{digest}")[0] == 200:
            return
        status, location, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"push {repo}: upload refused ({status}): {body[:200]!r}")
        sep = "&" if "?" in location else "?"
        status, _, body = self.request("PUT", f"{location}{sep}digest={digest}", data,
                                       {"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RuntimeError(f"push {repo}: blob {digest} refused ({status}): {body[:200]!r}")

    def push(self, name, layer, manifest, config):
        repo, tag = name.rsplit(":", 1)
        self.push_blob(repo, layer)
        self.push_blob(repo, config)
        status, _, body = self.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                                       {"Content-Type": mkimage.MEDIA["manifest"]})
        if status != 201:
            raise RuntimeError(f"push {name}: manifest refused ({status}): {body[:200]!r}")


def push_all(port, cache):
    """Build the images and push every name; returns how many."""
    with tempfile.TemporaryDirectory(prefix="cri-images.") as tmp:
        layer, out = build(tmp, cache)
    reg = Registry(port)
    for name, (manifest, config) in out.items():
        reg.push(name, layer, manifest, config)
    return len(out)


def hosts_toml(port):
    """containerd's hosts.toml for each mirrored registry: the loopback registry is its only host."""
    url = f"http://127.0.0.1:{port}"
    return f'server = "{url}"\n\n[host."{url}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n'


if __name__ == "__main__":
    print(push_all(int(sys.argv[1]), sys.argv[2]))
