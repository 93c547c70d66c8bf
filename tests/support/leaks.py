"""What a test may leave behind: mounts, processes, cgroups, state dirs; snapshot and compare."""
import os

CGROUP_ROOT = "/sys/fs/cgroup"


def mounts():
    with open("/proc/self/mountinfo") as f:
        return {" ".join(line.split()[3:5]) for line in f}


def cgroup_dirs():
    out = set()
    for dirpath, dirnames, _ in os.walk(CGROUP_ROOT):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if os.path.exists(os.path.join(p, "cgroup.procs")):
                out.add(p)
    return out


def cgroup_pids():
    pids = set()
    for d in cgroup_dirs() | {CGROUP_ROOT + "/" + h for h in os.listdir(CGROUP_ROOT)}:
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
        except OSError:
            pass
    return {p for p in pids if _alive(p)}


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def dev_null_ok():
    st = os.stat("/dev/null")
    return st.st_uid == 0 and st.st_gid == 0 and oct(st.st_mode & 0o777) == oct(0o666)


def restore_dev_null():
    """Give the host's /dev/null back to root, 0666, after a runtime took it."""
    os.chown("/dev/null", 0, 0)
    os.chmod("/dev/null", 0o666)


def snapshot(state_root):
    return {
        "mounts": mounts(),
        "cgroups": cgroup_dirs(),
        "pids": cgroup_pids(),
        # the runtime's seccomp cache is meant to stay
        "state": set(os.listdir(state_root)) - {"@seccomp"} if os.path.isdir(state_root) else set(),
    }


def diff(before, after, own_pids=()):
    """Human-readable leftovers; empty when the test cleaned up."""
    problems = []
    new_mounts = after["mounts"] - before["mounts"]
    if new_mounts:
        problems.append(f"mounts left: {sorted(new_mounts)[:5]}")
    new_cg = after["cgroups"] - before["cgroups"]
    if new_cg:
        problems.append(f"cgroups left: {sorted(new_cg)[:5]}")
    new_pids = after["pids"] - before["pids"] - set(own_pids)
    if new_pids:
        cmds = []
        for p in sorted(new_pids)[:5]:
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                cmds.append(f"{p}:{cmd[:80]}")
            except OSError:
                pass
        if cmds:
            problems.append(f"processes left: {cmds}")
    new_state = after["state"] - before["state"]
    if new_state:
        problems.append(f"state dirs left: {sorted(new_state)}")
    if not dev_null_ok():
        problems.append("/dev/null lost its owner or mode")
    return problems
