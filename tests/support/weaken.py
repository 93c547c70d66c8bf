"""Deliberately weakened copies of an installed pyrunc, to show that a security test can fail.

Each weakening undoes one defence by editing one line of the installed
package in a private copy; the CVE tests run their check against it and
expect the check to report the hole.
"""
import os
import shutil
import subprocess
import sys

WEAKENINGS = {
    # pyrunc-init exec'd from a copy the container's root may read: its memory the container's user
    # namespace's, where a pod member with CAP_SYS_PTRACE may stop it
    "readable-init": ("pyrunc/exeseal.py", '        return _memfd_copy(init_path(), "pyrunc-init", mode=0o711)\n',
                      '        return _memfd_copy(init_path(), "pyrunc-init")\n'),
    # CVE-2019-5736: exec pyrunc-init from its host file instead of a sealed read-only clone
    "no-seal": ("pyrunc/exeseal.py", '    return sealed(init_path(), "pyrunc-init")\n',
                '    return oslite.open(init_path(), oslite.O_PATH | oslite.O_CLOEXEC)\n'),
    # CVE-2016-9962 / CVE-2024-21626: stage 1 keeps every fd the CLI had (its state-dir lock included)
    "keep-fds": ("pyrunc/process/entry.py", "        S.close_range(lo, hi)\n", "        pass\n"),
    # CVE-2021-30465 / CVE-2024-45310: mount targets made and opened by path, following the
    # image's symlinks as the kernel does (what runc's MkdirAll + mount by path did)
    "path-targets": ("pyrunc/linux/rootfs.py",
                     "    try:\n        return resolve(root_fd, path)\n    except FileNotFoundError:\n        pass\n"
                     "    todo = ",
                     "    host_path = f'/proc/self/fd/{root_fd}{path}'\n"
                     "    oslite.makedirs_all(host_path, exist_ok=True) if is_dir else None\n"
                     "    return oslite.open(host_path, oslite.O_PATH | oslite.O_CLOEXEC)\n    todo = "),
    # CVE-2021-30465 class: a bind's read-only step acts on its destination looked up again after
    # the mount (runc's and pyrunc's old MS_BIND|MS_REMOUNT by path), not on the mount it made
    "path-remount": ("pyrunc/linux/rootfs.py",
                     '                _set_bind_flags(tree, flags, m["clear"])\n'
                     '            S.move_mount(tree, "", target, "", MOVE_FD_TO_FD)\n',
                     '                pass\n            S.move_mount(tree, "", target, "", MOVE_FD_TO_FD)\n'
                     '            if flags & ~(S.MS_BIND | S.MS_REC | S.MS_REMOUNT):\n'
                     '                _set_bind_flags(resolve(root_fd, m["dest"]), flags, m["clear"])\n'),
    # CVE-2019-16884 / CVE-2026-41579: trust a /proc or /dev that the image redirects
    "follow-proc-symlink": ("pyrunc/linux/rootfs.py", "    _refuse_symlinked(root_fd, m)\n", "    pass\n"),
    # CVE-2025-52881 class: mounts inside /proc allowed (a bind over a /proc/sys file redirects a sysctl)
    "proc-mounts": ("pyrunc/linux/rootfs.py",
                    '    """Refuse a bind onto /proc that is not of procfs, or onto anything below /proc but lxcfs\'s files."""\n',
                    '    """Refuse a bind onto /proc that is not of procfs, or onto anything below /proc but lxcfs\'s files."""\n'
                    '    return\n'),
    # CVE-2025-31133: mask with whatever /dev/null is
    "any-dev-null": ("pyrunc/linux/rootfs.py",
                     '    fd = S.openat2(root, "/dev/null", O_PATH | oslite.O_NOFOLLOW, S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)\n'
                     "    st = oslite.fstat(fd)\n    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != NULL_DEV:\n",
                     '    fd = resolve(root, "/dev/null")\n    if False:\n'),
    # hand every stdio fd to the process's user, the host's /dev/null included
    "stdio-dev-null": ("pyrunc/process/program.py",
                       "        if st.st_uid == uid or (stat.S_ISCHR(st.st_mode) and st.st_rdev == rootfs.NULL_DEV):\n",
                       "        if st.st_uid == uid:\n"),
    # a foreground run or exec hands its process the caller's own stdio, not pipes of its own
    "caller-stdio": ("pyrunc/process/bootstrap.py", '    if not stdio:\n        return\n', '    return\n'),
    # CVE-2025-52565: bind the pty over whatever /dev/console points to
    "console-symlink": ("pyrunc/linux/rootfs.py",
                        '        target = S.openat2(dev, "console", O_PATH, S.RESOLVE_BENEATH | S.RESOLVE_NO_SYMLINKS)\n',
                        '        target = S.openat2(dev, "console", O_PATH, 0)\n'),
    # CVE-2022-29162: --cap also lands in the inheritable set
    "inheritable-cap": ("pyrunc/execproc.py", '            for s in ("bounding", "effective", "permitted", "ambient"):\n',
                        '            for s in ("bounding", "effective", "permitted", "ambient", "inheritable"):\n'),
    # startContainer hooks run by the Python init with the runtime's privileges, as before
    "python-start-hooks": ("pyrunc/process/init.py", '    if plan["hooks"].get("startContainer"):\n',
                           '    if plan["hooks"].get("startContainer") and not hooks.run_all(\n'
                           '            "startContainer", plan["hooks"]["startContainer"], hook_state(plan, "created")):\n'),
    # CVE-2019-5736 through exec: a Python stage inside the container's pid namespace, as before
    "exec-python-in-pidns": ("pyrunc/process/execstage.py", "    M.ready_then_commit(chan, trace.marks())\n",
                             "    if oslite.fork() == 0:\n        for _ in range(3000000):\n            pass\n"
                             "        oslite._exit(0)\n    M.ready_then_commit(chan, trace.marks())\n"),
    # the init runs host Python in a pid namespace that other containers share
    "no-python-seal": ("pyrunc/process/entry.py",
                       "    if bootstrap.joins_shared_pid_namespace(plan) and not exeseal.running_sealed():\n",
                       "    if False:\n"),
    # stage 1 takes any executable of its own for a sealed one (it is when the front end started it)
    "exe-seal-unchecked": ("pyrunc/exeseal.py",
                           "        return bool(oslite.fstatvfs(fd).f_flag & oslite.ST_RDONLY)   # the mount it was opened through\n",
                           "        return True\n"),
    # exec opens the container's files before it is in the container's cgroups (device cgroup)
    "exec-cgroups-late": ("pyrunc/process/bootstrap.py",
                          '        join_cgroups(plan)\n        if plan["kind"] == "exec":\n'
                          '            execstage.main(plan, chan)   # never returns\n',
                          '        if plan["kind"] == "exec":\n            execstage.main(plan, chan)   # never returns\n'
                          '        join_cgroups(plan)\n'),
    # the cwd made and entered by path, following magic links (runc 1.1.5's MkdirAll)
    "cwd-by-path": ("pyrunc/process/program.py",
                    "        fd = rootfs.ensure(root, cwd) if create else rootfs.resolve(root, cwd)\n",
                    "        oslite.makedirs_all(cwd, 0o755, exist_ok=True) if create else None\n"
                    "        fd = oslite.open(cwd, oslite.O_PATH | oslite.O_CLOEXEC)\n"),
    # exec joins the namespaces by /proc/<pid>/ns path, after the lock is gone (as before)
    "exec-ns-by-path": ("pyrunc/process/execstage.py",
                        '    join_namespaces(plan["fds"]["pidfd"], plan["ns"], lambda: program.join_keyring(plan))\n',
                        "    from pyrunc.linux.namespaces import TYPES\n"
                        "    for flag, name in TYPES.values():\n"
                        '        if plan["ns"]["flags"] & flag:\n'
                        "            S.setns(oslite.open(f\"/proc/{plan['hook_state']['pid']}/ns/{name}\", oslite.O_RDONLY), flag)\n"),
    # a created container waits for `start` with the runtime's privileges (identity switched after the wait)
    "privileged-wait": ("csrc/pyrunc_init.c",
                        "    set_identity(&a);\n    if (!a.exec_mode) {\n",
                        "    if (!a.exec_mode && (a.fifo >= 0 || !a.prog))\n        wait_for_start(a.fifo, a.prog != NULL);\n"
                        "    set_identity(&a);\n    if (!a.exec_mode) {\n"),
    # a created container waits unfiltered (noNewPrivileges: the filter loaded only after `start`),
    # still holding the seccomp agent's socket
    "unfiltered-wait": ("csrc/pyrunc_init.c",
                        "        if (bpf && !(a.flags & F_SECCOMP_EARLY))\n"
                        "            lfd = load_seccomp(bpf, a.bpf_len, a.seccomp_flags);\n"
                        "        if (lfd >= 0)\n            lfd = listener_to_agent(&a, msg, a.self_pid, lfd);\n"
                        "        if (a.fifo >= 0 || !a.prog)\n            wait_for_start(a.fifo, a.prog != NULL);\n",
                        "        if (a.fifo >= 0 || !a.prog)\n            wait_for_start(a.fifo, a.prog != NULL);\n"
                        "        if (bpf && !(a.flags & F_SECCOMP_EARLY))\n"
                        "            lfd = load_seccomp(bpf, a.bpf_len, a.seccomp_flags);\n"
                        "        if (lfd >= 0)\n            lfd = listener_to_agent(&a, msg, a.self_pid, lfd);\n"),
    # CVE-2019-16884: write the AppArmor profile to whatever /proc the container has (a fake one takes it;
    # caught in the node VM, tests/node/test_apparmor.py: this host kind has no AppArmor)
    "label-any-fs": ("csrc/pyrunc_init.c",
                     '    if (st.f_type != PROC_SUPER_MAGIC)\n        label_failed(what, "open", path, "not on procfs");\n',
                     ""),
    # create's temporaries named like ids (".<pid>.<random>"): `delete --force` sweeps a container named so
    "sweep-ids": ("pyrunc/state.py", 'TEMPORARY = frontabi.TEMPORARY\n', 'TEMPORARY = "."\n'),
    # a pid file's temporary at a predictable name, opened without O_EXCL: a planted hard link is truncated
    "pid-file-truncate": ("pyrunc/oslite.py",
                          '.{getpid()}.{urandom(6).hex()}")\n        try:\n'
                          "            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL |",
                          '.{getpid()}")\n        try:\n            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC |'),
    # trust a state root or seccomp cache that another user owns or may write
    "trust-private-dirs": ("pyrunc/state.py", "        st = oslite.stat(path)\n    except FileNotFoundError:\n",
                           "        st = oslite.stat(path)\n        return\n    except FileNotFoundError:\n"),
}


def copy_install(pyrunc, dest):
    """A working copy at `dest` of the install that `pyrunc` (PREFIX/bin/pyrunc) belongs to."""
    from tests.support.runtime import install_prefix
    prefix = install_prefix(pyrunc)
    subprocess.run(["cp", "-a", prefix, dest], check=True)
    # bin/pyrunc (the front end) finds lib/pyrunc/pyrunc-cli and pyrunc-bootstrap beside itself;
    # those scripts name their lib
    for script in ("pyrunc-cli", "pyrunc-bootstrap"):
        path = os.path.join(dest, "lib", "pyrunc", script)
        with open(path) as f:
            text = f.read().replace(os.path.join(prefix, "lib"), os.path.join(dest, "lib"))
        with open(path, "w") as f:
            f.write(text)


def weakened(pyrunc, name, dest):
    """A copy of the install that `pyrunc` (PREFIX/bin/pyrunc) belongs to, with one defence removed."""
    dest = str(dest)
    copy_install(pyrunc, dest)
    module, old, new = WEAKENINGS[name]
    if module.startswith("csrc/"):
        _rebuild_init(dest, module, old, new, name)
    else:
        path = os.path.join(dest, "lib", "pyrunc", module)
        with open(path) as f:
            src = f.read()
        assert src.count(old) == 1, f"weakening {name}: the line to change is not in {module} exactly once"
        with open(path, "w") as f:
            f.write(src.replace(old, new))
        shutil.rmtree(os.path.join(os.path.dirname(path), "__pycache__"))
    # the same entry point as the runtime under test: the front end, or the Python CLI alone
    if os.path.basename(pyrunc) == "pyrunc-cli":
        return os.path.join(dest, "lib", "pyrunc", "pyrunc-cli")
    return os.path.join(dest, "bin", "pyrunc")


def _rebuild_init(dest, module, old, new, name):
    """A C weakening: pyrunc-init rebuilt from the project's source with the change, into the copy."""
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(project, module)) as f:
        src = f.read()
    assert src.count(old) == 1, f"weakening {name}: the line to change is not in {module} exactly once"
    build = os.path.join(dest, "weak-build")
    os.makedirs(build)
    with open(os.path.join(build, os.path.basename(module)), "w") as f:
        f.write(src.replace(old, new))
    subprocess.run([sys.executable, os.path.join(project, "src", "pyrunc", "linux", "initabi.py"),
                    os.path.join(build, "pyrunc_init_abi.h")], check=True)
    subprocess.run(["gcc", "-O2", "-static", "-I", build, "-o", os.path.join(dest, "lib", "pyrunc", "pyrunc", "pyrunc-init"),
                    os.path.join(build, os.path.basename(module))], check=True)
