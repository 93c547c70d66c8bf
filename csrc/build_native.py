"""cffi build script for pyrunc._native and pyrunc._seccomp (API mode, out-of-line); runs at build time only.

_seccomp is its own module so that only the commands that compile a seccomp
profile load libseccomp; the hot path (start, state, kill, delete) never does.
"""
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ["syscalls.c"]

CDEF = """
long pr_unshare(int flags);
long pr_setns(int fd, int nstype);
long pr_mount(const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data);
long pr_umount2(const char *target, int flags);
long pr_pivot_root(const char *new_root, const char *put_old);
long pr_openat2(int dirfd, const char *path, unsigned long long flags,
                unsigned long long mode, unsigned long long resolve);
long pr_close_range(unsigned int first, unsigned int last, unsigned int flags);
long pr_setdomainname(const char *name, size_t len);
long pr_sethostname(const char *name, size_t len);
long pr_personality(unsigned long persona);
long pr_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
              unsigned long a5);
long pr_keyctl(int cmd, unsigned long a2, unsigned long a3, unsigned long a4,
               unsigned long a5);
long pr_open_tree(int dirfd, const char *path, unsigned int flags);
long pr_move_mount(int from_dirfd, const char *from_path, int to_dirfd,
                   const char *to_path, unsigned int flags);
long pr_mount_setattr(int dirfd, const char *path, unsigned int flags,
                      unsigned long long attr_set, unsigned long long attr_clr,
                      unsigned long long propagation, unsigned long long userns_fd);
long pr_fsopen(const char *fstype, unsigned int flags);
long pr_fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux);
long pr_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
long pr_fspick(int dirfd, const char *path, unsigned int flags);
long pr_sched_setattr(int pid, uint32_t policy, uint64_t flags, int32_t nice,
                      uint32_t priority, uint64_t runtime, uint64_t deadline,
                      uint64_t period);
long pr_ioprio_set(int which, int who, int ioprio);
long pr_set_mempolicy(int mode, const unsigned long *nodemask, unsigned long maxnode);
long pr_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                  unsigned int flags);
long pr_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);
long pr_fstatfs_type(int fd);
long pr_statx_mnt_id(int dirfd, const char *path, int flags, unsigned int mask, uint64_t *id);
long pr_statmount(uint64_t mnt_id, uint64_t mask, void *buf, size_t size);
long pr_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_cnt,
                      const char *license, char *log_buf, uint32_t log_size);
long pr_bpf_prog_attach(int target_fd, int prog_fd, uint32_t attach_type, uint32_t flags,
                        int replace_fd);
long pr_bpf_prog_detach(int target_fd, int prog_fd, uint32_t attach_type);
long pr_bpf_prog_query(int target_fd, uint32_t attach_type, uint32_t *ids, uint32_t *count);
long pr_bpf_prog_get_fd_by_id(uint32_t id);
"""

# Constants whose values differ between architectures, taken from the headers (cffi fills them in)
# rather than copied: the terminal ioctls.
CONSTANTS = """
#define TIOCSPTLCK ...
#define TIOCGPTPEER ...
#define TIOCSCTTY ...
#define TIOCSWINSZ ...
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF + CONSTANTS)
ffibuilder.set_source(
    "pyrunc._native",
    "#include <stdint.h>\n#include <stddef.h>\n#include <sys/ioctl.h>\n" + CDEF,
    sources=[os.path.relpath(os.path.join(HERE, s)) for s in SOURCES],
    extra_compile_args=["-O2", "-Wall", "-Werror"],
)

SECCOMP_CDEF = """
void *pr_scmp_init(uint32_t def_action);
void pr_scmp_release(void *ctx);
long pr_scmp_arch_add(void *ctx, uint32_t arch);
uint32_t pr_scmp_arch_resolve_name(const char *name);
uint32_t pr_scmp_arch_native(void);
long pr_scmp_syscall_resolve_name(const char *name);
long pr_scmp_syscall_resolve_name_arch(uint32_t arch, const char *name);
long pr_scmp_attr_set(void *ctx, int attr, uint32_t value);
long pr_scmp_rule_add(void *ctx, uint32_t action, int nr, unsigned int n, const unsigned int *arg,
                      const int *op, const uint64_t *datum_a, const uint64_t *datum_b);
long pr_scmp_export_bpf(void *ctx, int fd);
unsigned int pr_scmp_version(void);
long pr_seccomp(unsigned int op, unsigned int flags, void *args);
"""

seccompbuilder = FFI()
seccompbuilder.cdef(SECCOMP_CDEF)
seccompbuilder.set_source(
    "pyrunc._seccomp",
    "#include <stdint.h>\n" + SECCOMP_CDEF,
    sources=[os.path.relpath(os.path.join(HERE, "seccomp.c"))],
    libraries=["seccomp"],
    extra_compile_args=["-O2", "-Wall", "-Werror"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
    seccompbuilder.compile(verbose=True)
