/* Thin wrappers over libseccomp for pyrunc._seccomp (CLI process only).
 *
 * The CLI turns a profile into a BPF program with these, in the parent and
 * never inside a container; pyrunc-init later loads the raw bytes itself.
 * Rules: one library call (or syscall) per function, no policy; results are
 * returned as libseccomp gives them (>= 0, or -errno), pointers as NULL on
 * failure, so Python raises.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_ARGS 6

void *pr_scmp_init(uint32_t def_action) { return seccomp_init(def_action); }
void pr_scmp_release(void *ctx) { seccomp_release(ctx); }
long pr_scmp_arch_add(void *ctx, uint32_t arch) { return seccomp_arch_add(ctx, arch); }
uint32_t pr_scmp_arch_resolve_name(const char *name) { return seccomp_arch_resolve_name(name); }
uint32_t pr_scmp_arch_native(void) { return seccomp_arch_native(); }

long pr_scmp_syscall_resolve_name(const char *name) { return seccomp_syscall_resolve_name(name); }

long pr_scmp_syscall_resolve_name_arch(uint32_t arch, const char *name)
{
    return seccomp_syscall_resolve_name_arch(arch, name);
}

long pr_scmp_attr_set(void *ctx, int attr, uint32_t value)
{
    return seccomp_attr_set(ctx, (enum scmp_filter_attr)attr, value);
}

/* The conditions come as parallel arrays (cffi stays free of libseccomp's
 * enum-typed struct); they are AND'd by libseccomp in one rule. */
long pr_scmp_rule_add(void *ctx, uint32_t action, int nr, unsigned int n, const unsigned int *arg,
                      const int *op, const uint64_t *datum_a, const uint64_t *datum_b)
{
    struct scmp_arg_cmp cmp[MAX_ARGS];
    unsigned int i;

    if (n > MAX_ARGS)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        cmp[i].arg = arg[i];
        cmp[i].op = (enum scmp_compare)op[i];
        cmp[i].datum_a = datum_a[i];
        cmp[i].datum_b = datum_b[i];
    }
    return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

long pr_scmp_export_bpf(void *ctx, int fd) { return seccomp_export_bpf(ctx, fd); }

unsigned int pr_scmp_version(void)
{
    const struct scmp_version *v = seccomp_version();
    return v->major << 16 | v->minor << 8 | v->micro;
}

/* seccomp(2) itself: SECCOMP_GET_ACTION_AVAIL and flag probes (a NULL
 * program gives EFAULT once the flags are known to the kernel). */
long pr_seccomp(unsigned int op, unsigned int flags, void *args)
{
    long r = syscall(SYS_seccomp, op, flags, args);
    return r < 0 ? -errno : r;
}
