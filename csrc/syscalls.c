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

/* Capability sets as three 64-bit masks (kernel ABI v3: two 32-bit words). */
long pr_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)effective;
    data[1].effective = (uint32_t)(effective >> 32);
    data[0].permitted = (uint32_t)permitted;
    data[1].permitted = (uint32_t)(permitted >> 32);
    data[0].inheritable = (uint32_t)inheritable;
    data[1].inheritable = (uint32_t)(inheritable >> 32);
    RET(syscall(SYS_capset, &hdr, data));
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

#include <sys/vfs.h>

/* f_type of the filesystem holding path / fd (statfs magic numbers). */
long pr_statfs_type(const char *path)
{
    struct statfs st;
    if (statfs(path, &st) < 0)
        return -errno;
    return (long)(unsigned long)st.f_type;
}

long pr_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -errno;
    return (long)(unsigned long)st.f_type;
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
