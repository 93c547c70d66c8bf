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


def _mapped(ids, map_name):
    try:
        ranges = [tuple(int(x) for x in line.split()) for line in procself.read(map_name).splitlines() if line.strip()]
    except OSError:
        return []
    return [i for i in ids if not any(lo <= i < lo + n for lo, _host, n in ranges)]


def check_identity(p, in_userns):
    """Fail at create, with a clear reason, where pyrunc-init's identity switch would fail at start."""
    if in_userns:
        bad = _mapped([p["uid"]], "uid_map") + _mapped([p["gid"], *p["groups"]], "gid_map")
        if bad:
            raise Error(f"user {p['uid']}:{p['gid']} (groups {p['groups']}): id {bad[0]} is not mapped "
                        "in the container's user namespace")
    m = p["caps"]
    if m is None:
        return
    have = caps.status_mask("CapPrm")
    missing = (m["permitted"] | m["effective"]) & ~have
    if missing:
        raise Error(f"capabilities {', '.join(caps.names(missing))} are not available to pyrunc here")
    if m["effective"] & ~m["permitted"]:
        raise Error(f"effective capabilities {', '.join(caps.names(m['effective'] & ~m['permitted']))} "
                    "are not in the permitted set")
    if m["inheritable"] & ~(m["bounding"] | caps.status_mask("CapInh")):
        raise Error(f"inheritable capabilities {', '.join(caps.names(m['inheritable'] & ~m['bounding']))} "
                    "are not in the bounding set")


def check_executable(path, p):
    """May the container's user execute `path`?  (mode bits as the kernel checks them, without ACLs)"""
    st = os.stat(path)
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
