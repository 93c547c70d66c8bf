/* Thin wrappers for the Linux syscalls CPython 3.11 does not expose.
 *
 * Rules: one syscall per function, no policy, never fork.  Every function
 * returns its result (>= 0) or -errno, so the caller in Python turns a
 * negative value into an OSError.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RET(expr) do { long r_ = (long)(expr); return r_ < 0 ? -errno : r_; } while (0)

long pr_unshare(int flags) { RET(unshare(flags)); }
long pr_setns(int fd, int nstype) { RET(setns(fd, nstype)); }

long pr_mount(const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data)
{
    RET(mount(source, target, fstype, flags, data));
}

long pr_umount2(const char *target, int flags) { RET(umount2(target, flags)); }

long pr_pivot_root(const char *new_root, const char *put_old)
{
    RET(syscall(SYS_pivot_root, new_root, put_old));
}

long pr_openat2(int dirfd, const char *path, unsigned long long flags,
                unsigned long long mode, unsigned long long resolve)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    RET(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

long pr_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    RET(syscall(SYS_close_range, first, last, flags));
}

long pr_setdomainname(const char *name, size_t len) { RET(setdomainname(name, len)); }
long pr_sethostname(const char *name, size_t len) { RET(sethostname(name, len)); }

long pr_personality(unsigned long persona)
{
    /* personality(2) reports failure as -1 with errno, like any other. */
    RET(personality(persona));
}

long pr_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
              unsigned long a5)
{
    RET(prctl(option, a2, a3, a4, a5));
}

long pr_keyctl(int cmd, unsigned long a2, unsigned long a3, unsigned long a4,
               unsigned long a5)
{
    RET(syscall(SYS_keyctl, cmd, a2, a3, a4, a5));
}

long pr_open_tree(int dirfd, const char *path, unsigned int flags)
{
    RET(syscall(SYS_open_tree, dirfd, path, flags));
}

long pr_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                   const char *to_path, unsigned int flags)
{
    RET(syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}

long pr_mount_setattr(int dirfd, const char *path, unsigned int flags,
                      unsigned long long attr_set, unsigned long long attr_clr,
                      unsigned long long propagation, unsigned long long userns_fd)
{
    struct mount_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.attr_set = attr_set;
    attr.attr_clr = attr_clr;
    attr.propagation = propagation;
    attr.userns_fd = userns_fd;
    RET(syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr)));
}

/* The new mount API (Linux 5.2; mount_setattr 5.12): a filesystem instance built
 * in a context fd, mounted detached, and moved onto an fd of its target. */
long pr_fsopen(const char *fstype, unsigned int flags)
{
    RET(syscall(SYS_fsopen, fstype, flags));
}

long pr_fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux)
{
    RET(syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

long pr_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
    RET(syscall(SYS_fsmount, fd, flags, attr_flags));
}

long pr_fspick(int dirfd, const char *path, unsigned int flags)
{
    RET(syscall(SYS_fspick, dirfd, path, flags));
}

long pr_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice,
                      uint32_t priority, uint64_t runtime, uint64_t deadline,
                      uint64_t period)
{
    /* struct sched_attr, SCHED_ATTR_SIZE_VER0 layout (glibc 2.36 lacks it). */
    struct {
        uint32_t size, sched_policy;
        uint64_t sched_flags;
        int32_t sched_nice;
        uint32_t sched_priority;
        uint64_t sched_runtime, sched_deadline, sched_period;
    } attr = {48, policy, flags, nice, priority, runtime, deadline, period};
    RET(syscall(SYS_sched_setattr, pid, &attr, 0));
}

long pr_ioprio_set(int which, int who, int ioprio)
{
    RET(syscall(SYS_ioprio_set, which, who, ioprio));
}

long pr_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode)
{
    RET(syscall(SYS_set_mempolicy, mode, nodemask, maxnode));
}

#include <sys/vfs.h>

/* f_type of the filesystem holding fd (statfs magic numbers). */
long pr_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -errno;
    return (long)(unsigned long)st.f_type;
}

/* The mount id statx reports for path (mask: STATX_MNT_ID, or STATX_MNT_ID_UNIQUE on 6.8+) in *id;
 * returns the stx_mask the kernel filled, so the caller sees whether it knew that field. */
long pr_statx_mnt_id(int dirfd, const char *path, int flags, unsigned int mask, uint64_t *id)
{
    struct statx stx;
    if (statx(dirfd, path, flags, mask, &stx) < 0)
        return -errno;
    *id = stx.stx_mnt_id;
    return (long)stx.stx_mask;
}

#ifndef SYS_statmount
#define SYS_statmount 457    /* the same number on every architecture (6.8) */
#endif

/* statmount(2) of the mount with that unique id: the struct statmount (and its strings) into buf. */
long pr_statmount(uint64_t mnt_id, uint64_t mask, void *buf, size_t size)
{
    struct { uint32_t size, spare; uint64_t mnt_id, param; } req = {24, 0, mnt_id, mask};
    RET(syscall(SYS_statmount, &req, buf, size, 0));
}

long pr_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    RET(syscall(SYS_execveat, dirfd, path, argv, envp, flags));
}

long pr_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                  unsigned int flags)
{
    RET(syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags));
}

/* bpf(2) for the cgroup v2 device filter: one command per function. */
#include <linux/bpf.h>

long pr_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt,
                      const char *license, char *log_buf, uint32_t log_size)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = prog_type;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = insn_cnt;
    attr.license = (uint64_t)(uintptr_t)license;
    attr.log_buf = (uint64_t)(uintptr_t)log_buf;
    attr.log_size = log_size;
    attr.log_level = log_size ? 1 : 0;
    RET(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)));
}

long pr_bpf_prog_attach(int target_fd, int prog_fd, uint32_t attach_type, uint32_t flags,
                        int replace_fd)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    attr.replace_bpf_fd = replace_fd;
    RET(syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)));
}

long pr_bpf_prog_detach(int target_fd, int prog_fd, uint32_t attach_type)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    RET(syscall(SYS_bpf, BPF_PROG_DETACH, &attr, sizeof(attr)));
}

/* The ids of the programs attached to target_fd; *count: room in, attached out. */
long pr_bpf_prog_query(int target_fd, uint32_t attach_type, uint32_t *ids, uint32_t *count)
{
    union bpf_attr attr;
    long r;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = target_fd;
    attr.query.attach_type = attach_type;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = *count;
    r = syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr));
    *count = attr.query.prog_cnt;
    return r < 0 ? -errno : r;
}

long pr_bpf_prog_get_fd_by_id(uint32_t id)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    RET(syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof(attr)));
}
