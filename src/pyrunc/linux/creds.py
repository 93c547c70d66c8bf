"""Who the container process will be (init process): rlimits now; the identity checked now, applied by pyrunc-init."""
from pyrunc import oslite  # posix without os.py: see oslite
import resource

from pyrunc.errors import Error
from pyrunc.linux import caps, procself


def apply_rlimits(rlimits):
    for res, soft, hard in rlimits:
        try:
            resource.prlimit(0, res, (signed_rlim(soft), signed_rlim(hard)))
        except (OSError, ValueError) as e:
            raise Error(f"error setting rlimit type {res}: {getattr(e, 'strerror', None) or e}") from None


def signed_rlim(value):
    """A config's u64 limit as the C long Python's resource module takes, the same 64 bits: 2**64-1
    (RLIM_INFINITY, podman's `--ulimit X=-1` and its copies of the host's unlimited ones) is -1."""
    return value - (1 << 64) if value >= 1 << 63 else value


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


def capability_problems(masks, permitted, inheritable):
    """Why pyrunc-init cannot give the process the capability sets `masks`, with these sets of its own.

    [(the capabilities at fault as a mask, the reason)]."""
    out = []
    missing = (masks["permitted"] | masks["effective"]) & ~permitted
    if missing:
        out.append((missing, f"capabilities {', '.join(caps.names(missing))} are not available to pyrunc here"))
    extra = masks["effective"] & ~masks["permitted"]
    if extra:
        out.append((extra, f"effective capabilities {', '.join(caps.names(extra))} are not in the permitted set"))
    unbounded = masks["inheritable"] & ~(masks["bounding"] | inheritable)
    if unbounded:
        out.append((unbounded, f"inheritable capabilities {', '.join(caps.names(masks['inheritable'] & ~masks['bounding']))} "
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
    uids, gids = _ranges("uid_map"), _ranges("gid_map")
    if uids is None or gids is None:
        return True
    return (any(lo <= st.st_uid < lo + n for lo, _outside, n in uids)
            and any(lo <= st.st_gid < lo + n for lo, _outside, n in gids))


def check_executable(path, p, in_userns=False, stat_fn=oslite.stat):
    """Would the kernel let the container's process execute `path`?  Its mode bits for the
    process's user, else CAP_DAC_OVERRIDE in its effective set, which the kernel honours for a
    regular file with at least one execute bit (generic_permission).  A file with a POSIX ACL
    is left to the kernel: nothing it would run is refused here.  stat_fn: how `path` is looked
    up (`check` resolves it in the rootfs, and cannot see its ACL)."""
    st = stat_fn(path)
    if _class_bits(st, p) & 1:
        return
    eff = (p["caps"] or {}).get("effective", 0)
    if st.st_mode & 0o111 and eff >> caps.NUMBER["CAP_DAC_OVERRIDE"] & 1 and _owner_mapped(st, in_userns):
        return
    if stat_fn is oslite.stat:
        try:
            oslite.getxattr(path, "system.posix_acl_access")
            return
        except OSError:
            pass
    raise Error(f'exec: "{path}": permission denied')
