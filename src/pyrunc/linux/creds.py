"""Who the container process will be (init process): rlimits now; the identity checked now, applied by pyrunc-init."""
import os
import resource

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
    masks = p["caps"]
    if masks is None:
        return
    have = caps.status_mask("CapPrm")
    missing = (masks["permitted"] | masks["effective"]) & ~have
    if missing:
        raise Error(f"capabilities {', '.join(caps.names(missing))} are not available to pyrunc here")
    if masks["effective"] & ~masks["permitted"]:
        raise Error(f"effective capabilities {', '.join(caps.names(masks['effective'] & ~masks['permitted']))} "
                    "are not in the permitted set")
    if masks["inheritable"] & ~(masks["bounding"] | caps.status_mask("CapInh")):
        raise Error(f"inheritable capabilities {', '.join(caps.names(masks['inheritable'] & ~masks['bounding']))} "
                    "are not in the bounding set")


def _class_bits(st, p):
    """The rwx bits of st's mode that apply to p's user, as the kernel picks them: owner, else
    group (fsgid or a supplementary group), else other."""
    if st.st_uid == p["uid"]:
        return st.st_mode >> 6 & 7
    if st.st_gid == p["gid"] or st.st_gid in p["groups"]:
        return st.st_mode >> 3 & 7
    return st.st_mode & 7


def _owner_mapped(st, in_userns):
    """Do the file's uid and gid exist in our user namespace (capable_wrt_inode_uidgid)?  An
    unmapped id reads as the overflow id; a mapped overflow id is taken as mapped."""
    if not in_userns:
        return True
    return not (_mapped([st.st_uid], "uid_map") or _mapped([st.st_gid], "gid_map"))


def check_executable(path, p, in_userns=False):
    """Would the kernel let the container's process execute `path`?  Its mode bits for the
    process's user, else CAP_DAC_OVERRIDE in its effective set, which the kernel honours for a
    regular file with at least one execute bit (generic_permission).  A file with a POSIX ACL
    is left to the kernel: nothing it would run is refused here."""
    st = os.stat(path)
    if _class_bits(st, p) & 1:
        return
    eff = (p["caps"] or {}).get("effective", 0)
    if st.st_mode & 0o111 and eff >> caps.NUMBER["CAP_DAC_OVERRIDE"] & 1 and _owner_mapped(st, in_userns):
        return
    try:
        os.getxattr(path, "system.posix_acl_access")
        return
    except OSError:
        pass
    raise Error(f'exec: "{path}": permission denied')
