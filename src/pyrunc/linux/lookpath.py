"""Find the container's program like Go's exec.LookPath (init process, inside the container)."""
import os
import stat

from pyrunc.errors import Error


def env_value(env, name):
    """The last `name=` entry wins, as when runc sets the environment one entry at a time."""
    value = None
    prefix = name + "="
    for e in env:
        if e.startswith(prefix):
            value = e[len(prefix):]
    return value


def _check(path, stat_fn):
    st = stat_fn(path)
    if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
        raise PermissionError(13, "permission denied", path)


def find(arg0, env, stat_fn=os.stat):
    """The path of the program, as Go's exec.LookPath finds it; stat_fn: how a path is looked up
    (`check` resolves it in the rootfs)."""
    if "/" in arg0:
        try:
            _check(arg0, stat_fn)
        except OSError as e:
            raise Error(f'exec: "{arg0}": {e.strerror.lower() if e.strerror else e}') from None
        return arg0
    denied = None
    path_var = env_value(env, "PATH")
    for d in path_var.split(":") if path_var else ():
        p = os.path.join(d or ".", arg0)
        try:
            _check(p, stat_fn)
            return p
        except PermissionError:
            denied = denied or p
        except OSError:
            pass
    if denied:
        raise Error(f'exec: "{arg0}": permission denied')
    raise Error(f'exec: "{arg0}": executable file not found in $PATH')
