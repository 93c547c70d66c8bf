"""Who the container process will be (init process): rlimits now; the identity checked now, applied by pyrunc-init."""
import os
import resource
import stat

from pyrunc.errors import Error
from pyrunc.linux import caps, procself


def apply_rlimits(rlimits):
    for res, soft, hard in rlimits:
        try:
            resource.prlimit(0, res, (soft, hard))
        except (OSError, ValueError) as e:
            raise Error(f"error setting rlimit type {res}: {getattr(e, 'strerror', None) or e}") from None


def setgroups_allowed():
    try:
        return procself.read("setgroups").strip() != "deny"
    except OSError:
        return True


def unmapped(p, uid_ranges, gid_ranges):
    """Why the process's user cannot be in a user namespace with these [(inside, outside, size)] maps, or ""."""
    bad = [i for i, ranges in [(p["uid"], uid_ranges), *((g, gid_ranges) for g in [p["gid"], *p["groups"]])]
           if not any(lo <= i < lo + n for lo, _outside, n in ranges)]
    if not bad:
        return ""
    return (f"user {p['uid']}:{p['gid']} (groups {p['groups']}): id {bad[0]} is not mapped "
            "in the container's user namespace")


def _ranges(map_name):
    try:
        return [tuple(int(x) for x in line.split()) for line in procself.read(map_name).splitlines() if line.strip()]
    except OSError:
        return None


def capability_problems(m, permitted, inheritable):
    """Why pyrunc-init cannot give the process the capability sets `m`, with these sets of its own.

    [(the capabilities at fault as a mask, the reason)]."""
    out = []
    missing = (m["permitted"] | m["effective"]) & ~permitted
    if missing:
        out.append((missing, f"capabilities {', '.join(caps.names(missing))} are not available to pyrunc here"))
    extra = m["effective"] & ~m["permitted"]
    if extra:
        out.append((extra, f"effective capabilities {', '.join(caps.names(extra))} are not in the permitted set"))
    unbounded = m["inheritable"] & ~(m["bounding"] | inheritable)
    if unbounded:
        out.append((unbounded, f"inheritable capabilities {', '.join(caps.names(m['inheritable'] & ~m['bounding']))} "
                               "are not in the bounding set"))
    return out


def check_identity(p, in_userns):
    """Fail at create, with a clear reason, where pyrunc-init's identity switch would fail at start."""
    if in_userns:
        uids, gids = _ranges("uid_map"), _ranges("gid_map")
        why = unmapped(p, uids, gids) if uids is not None and gids is not None else ""
        if why:
            raise Error(why)
    why = capability_problems(p["caps"], caps.status_mask("CapPrm"), caps.status_mask("CapInh")) if p["caps"] else []
    if why:
        raise Error(why[0][1])


def check_executable(path, p, stat_fn=os.stat):
    """May the container's user execute `path`?  (mode bits as the kernel checks them, without ACLs)

    stat_fn: how `path` is looked up (`check` resolves it in the rootfs)."""
    st = stat_fn(path)
    if p["uid"] == 0:
        ok = st.st_mode & 0o111
    elif st.st_uid == p["uid"]:
        ok = st.st_mode & stat.S_IXUSR
    elif st.st_gid == p["gid"] or st.st_gid in p["groups"]:
        ok = st.st_mode & stat.S_IXGRP
    else:
        ok = st.st_mode & stat.S_IXOTH
    if not ok:
        raise Error(f'exec: "{path}": permission denied')
