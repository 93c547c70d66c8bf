"""Find the container's program like Go's exec.LookPath (init process, inside the container)."""
from pyrunc import oslite  # posix without os.py: see oslite
import stat

from pyrunc.errors import Error, go_text


def env_value(env, name):
    """The last `name=` entry wins, as when runc sets the environment one entry at a time."""
    value = None
    prefix = name + "="
    for e in env:
        if e.startswith(prefix):
            value = e[len(prefix):]
    return value


def _check(path, stat_fn):
    """Go's findExecutable: a stat error as it is, a directory or a file without any execute
    bit as permission denied."""
    st = stat_fn(path)
    if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
        raise PermissionError(13, "permission denied")


def _go_error(e):
    """An OSError worded as Go's findExecutable returns it: os.Stat's *PathError (it names the
    file), or a bare permission denied."""
    return f"stat {e.filename}: {go_text(e)}" if e.filename else go_text(e)


def find(arg0, env, stat_fn=oslite.stat):
    """The program's path, as runc's exec.LookPath finds it, or Error worded as Go's:
    `exec: "/x": stat /x: no such file or directory`, `exec: "/x": permission denied`, and
    `exec: "x": executable file not found in $PATH` for any miss in $PATH.  stat_fn: how a path
    is looked up (`check` resolves it in the rootfs)."""
    if "/" in arg0:
        try:
            _check(arg0, stat_fn)
        except OSError as e:
            raise Error(f'exec: "{arg0}": {_go_error(e)}') from None
        return arg0
    path_var = env_value(env, "PATH")
    for d in path_var.split(":") if path_var else ():
        p = oslite.path.join(d or ".", arg0)
        try:
            _check(p, stat_fn)
            return p
        except OSError:
            pass
    raise Error(f'exec: "{arg0}": executable file not found in $PATH')
