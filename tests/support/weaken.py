"""Deliberately weakened copies of an installed pyrunc, to show that a security test can fail.

Each weakening undoes one defence by editing one line of the installed
package in a private copy; the CVE tests run their check against it and
expect the check to report the hole.
"""
import os
import shutil
import subprocess

WEAKENINGS = {
    # CVE-2019-5736: exec pyrunc-init from its host file instead of a sealed read-only clone
    "no-seal": ("pyrunc/exeseal.py", '    path = init_path()\n    try:\n',
                '    path = init_path()\n    return os.open(path, os.O_PATH | os.O_CLOEXEC)\n    try:\n'),
    # CVE-2016-9962 / CVE-2024-21626: stage 1 keeps every fd the CLI had (its state-dir lock included)
    "keep-fds": ("pyrunc/process/entry.py", "            S.close_range(lo, hi)\n", "            pass\n"),
    # CVE-2021-30465 / CVE-2024-45310: mount targets made and opened by path, following the
    # image's symlinks as the kernel does (what runc's MkdirAll + mount by path did)
    "path-targets": ("pyrunc/linux/rootfs.py",
                     "    try:\n        return resolve(root_fd, path)\n    except FileNotFoundError:\n        pass\n"
                     "    todo = ",
                     "    host_path = f'/proc/self/fd/{root_fd}{path}'\n"
                     "    os.makedirs(host_path, exist_ok=True) if is_dir else None\n"
                     "    return os.open(host_path, os.O_PATH | os.O_CLOEXEC)\n    todo = "),
    # CVE-2019-16884 / CVE-2026-41579: trust a /proc or /dev that the image redirects
    "follow-proc-symlink": ("pyrunc/linux/rootfs.py", "        _refuse_symlinked(root_fd, m)\n", "        pass\n"),
    # CVE-2025-31133: mask with whatever /dev/null is
    "any-dev-null": ("pyrunc/linux/rootfs.py",
                     '    fd = S.openat2(root, "/dev/null", O_PATH | os.O_NOFOLLOW, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)\n'
                     "    st = os.fstat(fd)\n    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != NULL_DEV:\n",
                     '    fd = resolve(root, "/dev/null")\n    if False:\n'),
    # CVE-2025-52565: bind the pty over whatever /dev/console points to
    "console-symlink": ("pyrunc/linux/rootfs.py",
                        '        target = S.openat2(dev, "console", O_PATH, S.RESOLVE_BENEATH | S.RESOLVE_NO_SYMLINKS)\n',
                        '        target = S.openat2(dev, "console", O_PATH, 0)\n'),
    # CVE-2022-29162: --cap also lands in the inheritable set
    "inheritable-cap": ("pyrunc/execproc.py", '            for s in ("bounding", "effective", "permitted", "ambient"):\n',
                        '            for s in ("bounding", "effective", "permitted", "ambient", "inheritable"):\n'),
    # create's temporaries named like ids (".<pid>.<random>"): `delete --force` sweeps a container named so
    "sweep-ids": ("pyrunc/state.py", 'TEMPORARY = "@creating."\n', 'TEMPORARY = "."\n'),
    # a pid file's temporary at a predictable name, opened without O_EXCL: a planted hard link is truncated
    "pid-file-truncate": ("pyrunc/oslite.py",
                          '.{getpid()}.{urandom(6).hex()}")\n        try:\n'
                          "            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL |",
                          '.{getpid()}")\n        try:\n            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC |'),
    # trust a state root or seccomp cache that another user owns or may write
    "trust-private-dirs": ("pyrunc/state.py", "        st = os.stat(path)\n    except FileNotFoundError:\n",
                           "        st = os.stat(path)\n        return\n    except FileNotFoundError:\n"),
}


def weakened(pyrunc, name, dest):
    """A copy of the install that `pyrunc` (PREFIX/bin/pyrunc) belongs to, with one defence removed."""
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(pyrunc)))
    dest = str(dest)
    subprocess.run(["cp", "-a", prefix, dest], check=True)
    # bin/pyrunc (the front end) finds lib/pyrunc/pyrunc-cli beside itself; that script names its lib
    cli = os.path.join(dest, "lib", "pyrunc", "pyrunc-cli")
    with open(cli) as f:
        text = f.read().replace(os.path.join(prefix, "lib"), os.path.join(dest, "lib"))
    with open(cli, "w") as f:
        f.write(text)
    module, old, new = WEAKENINGS[name]
    path = os.path.join(dest, "lib", "pyrunc", module)
    with open(path) as f:
        src = f.read()
    assert src.count(old) == 1, f"weakening {name}: the line to change is not in {module} exactly once"
    with open(path, "w") as f:
        f.write(src.replace(old, new))
    shutil.rmtree(os.path.join(os.path.dirname(path), "__pycache__"))
    return os.path.join(dest, "bin", "pyrunc")
