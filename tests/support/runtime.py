"""How tests call the runtime under test: pyrunc (installed) or, with OCI_RUNTIME, runc or crun."""
import json
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_PYRUNC = os.path.join(PROJECT, "build", "prefix", "bin", "pyrunc")


def runtime_path():
    """OCI_RUNTIME (runc, crun, a path) picks a reference runtime; else PYRUNC or the test install."""
    name = os.environ.get("OCI_RUNTIME")
    if name:
        return shutil.which(name) or name
    return os.environ.get("PYRUNC", DEFAULT_PYRUNC)


def runtime_name():
    """runc, crun, or pyrunc (the installed command or, PYRUNC=<prefix>/lib/pyrunc/pyrunc-cli, its Python CLI alone)."""
    name = os.path.basename(runtime_path())
    return "pyrunc" if name == "pyrunc-cli" else name


def uses_front_end():
    """Is the runtime under test pyrunc's installed front end (not its Python CLI alone)?"""
    return os.path.basename(runtime_path()) == "pyrunc"


def install_prefix(pyrunc):
    """PREFIX of a pyrunc install, from PREFIX/bin/pyrunc or PREFIX/lib/pyrunc/pyrunc-cli."""
    path = os.path.realpath(pyrunc)
    up = 3 if os.path.basename(path) == "pyrunc-cli" else 2
    for _ in range(up):
        path = os.path.dirname(path)
    return path


def python_cli(pyrunc):
    """The Python CLI behind an installed front end."""
    return os.path.join(install_prefix(pyrunc), "lib", "pyrunc", "pyrunc-cli")


class Runtime:
    """One runtime binary with a private --root."""

    def __init__(self, path, root):
        self.path = path
        self.root = root

    def argv(self, *args, log=None, log_format=None, debug=False):
        a = [self.path, "--root", self.root]
        if debug:
            a.append("--debug")
        if log:
            a += ["--log", log]
        if log_format:
            a += ["--log-format", log_format]
        return a + [str(x) for x in args]

    def run(self, *args, check=True, input=None, timeout=60, log=None, log_format=None, stdin=None,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(), debug=False):
        if stdin is None and input is None:
            # an empty pipe, never the caller's stdin: that is often the host's /dev/null, and
            # crun 1.8 fchowns a process's stdio to its user
            input = ""
        p = subprocess.run(self.argv(*args, log=log, log_format=log_format, debug=debug), input=input, stdin=stdin,
                           stdout=stdout, stderr=stderr, timeout=timeout, pass_fds=pass_fds,
                           text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def state(self, cid):
        return json.loads(self.run("state", cid).stdout)

    def status(self, cid):
        return self.state(cid)["status"]

    def ids(self):
        out = self.run("list", "-q", check=False).stdout
        return [line for line in out.split() if line]

    def cleanup(self):
        for cid in self.ids():
            self.run("delete", "--force", cid, check=False)
