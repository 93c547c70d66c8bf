/* pyrunc-init: the last step of every container process, a static binary.
 *
 * Python sets a container process up, then execs this program from a
 * sealed, read-only, detached copy, so that no process inside the container
 * ever has the host's Python (or any host file) as its executable
 * (CVE-2019-5736).  All values come from Python (the argv keys are defined
 * once, in src/pyrunc/linux/initabi.py, from which the build generates
 * pyrunc_init_abi.h); the logic here is the order of the syscalls, which
 * must happen with no interpreter left running.
 *
 * mode=init: the container's PID 1, exec'd by stage 2 after its set-up.
 *   1. PR_SET_DUMPABLE 0 (before anything else), comm "pyrunc-init";
 *   2. every signal disposition to SIG_DFL, an empty mask (ignored
 *      dispositions would survive execve); fds >= cloexec_from close-on-exec
 *      (CVE-2024-21626); both before any filter, so that a profile denying
 *      rt_sigaction or close_range cannot break them;
 *   3. the LSM labels the program is to be exec'd with (see set_exec_labels),
 *      before any filter and while still privileged, as runc's init;
 *      no_new_privs; the filter now if no_new_privs is off (loading it then
 *      needs CAP_SYS_ADMIN, which only exists before the identity switch, as
 *      runc); the identity switch (bounding set, KEEPCAPS, groups, gid, uid,
 *      capset, ambient set); die on the usual deadly signals (a created
 *      init is PID 1, which has no default actions); the filter now if
 *      no_new_privs is on.  A listener fd goes to the agent at once, with
 *      its message;
 *   4. with a fifo: block until `start` writes one byte (EOF: exit 1); the
 *      fifo then stays open, close-on-exec, so that its closing tells `start`
 *      that the program has been exec'd.  A created container thus waits
 *      with its process's identity and filter, as runc's init: a process
 *      `exec`'d into it sees PID 1, and one with CAP_SYS_PTRACE could make
 *      PID 1 run any syscall it likes were the filter not loaded yet (and
 *      take the agent's socket while the listener waits to be sent).
 *      Without a program (config.json has no process), wait until killed;
 *   5. (exec only) the filter now if no_new_privs is on;
 *   6. startContainer hooks, each forked from here: they run with the
 *      container process's credentials, capabilities, no_new_privs and
 *      filter, and with this sealed program as their parent's executable
 *      (runc runs them at the same point);
 *   7. execve.
 *
 * mode=exec: exec'd by stage 1 of `exec`, in the host's pid namespace (the
 *   container cannot see it) but already in the container's cgroups and its
 *   other namespaces.  Steps 1, 2, 3 and 5 as above, except that every fd
 *   the program must not inherit is closed (not only marked) first; then
 *   5. fork (CLONE_PARENT, so that it is the CLI's child): the child is the first process of this `exec` inside the
 *      container's pid namespace, and it already has the container
 *      process's identity and filter, so nothing privileged and nothing of
 *      the host ever shows there;
 *   6. the parent sends the listener with the child's pid, writes the pid
 *      into the report page (pyrunc reads it once we exit: no syscall is
 *      needed under the filter) and exits 0; on a failure before that, the
 *      error goes into the page and we exit 1;
 *   7. the child closes the listener and its socket (the page is not
 *      inherited: MADV_DONTFORK), starts a session, takes the terminal as
 *      its controlling tty, writes the LSM labels (only the child can: it
 *      is in the pid namespace the container's /proc shows) and execs the
 *      program.
 *
 * Any failure once the program's stdio is set up: one line on stderr (the
 * container's) and exit 1, as runc's init.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/openat2.h>
#include <time.h>
#include <unistd.h>

#include "pyrunc_init_abi.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#define MAX_GROUPS 65536
#define MAX_HOOK_ARGS 4096
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

struct args {
    int exec_mode, fifo, cloexec_from, blob, notify_sock, hooks, report;
    unsigned flags, seccomp_flags;
    uid_t uid;
    gid_t gid;
    const char *groups, *apparmor, *selinux;
    uint64_t caps[5];
    size_t bpf_len, msg_len, pid_off;
    long self_pid;
    char **prog; /* path, then the program's argv; NULL: no process */
};

/* Exit, even when the seccomp filter refuses exit_group and exit (a profile whose default
 * action is an errno and that allows neither): libc's _exit retries them forever, a PID 1
 * spinning at full CPU as "running".  A trap needs no syscall: the kernel forces its SIGILL
 * to the default action, fatal even to a namespace's PID 1 (force_sig_info_to_task clears
 * SIGNAL_UNKILLABLE), and no core is written (not dumpable).  runc's Go init dies the same
 * way, by its runtime's write to address 0. */
static void __attribute__((noreturn)) leave(int code)
{
    syscall(SYS_exit_group, code);
    syscall(SYS_exit, code);
    __builtin_trap();
}

static const char *program = "";
static char *report_page; /* exec mode, until the fork */

/* The error, one line: into the report page until exec mode's fork, else on stderr. */
static void __attribute__((noreturn)) fail(const char *msg, int code)
{
    size_t n = strlen(msg);
    if (report_page) {
        memcpy(report_page + 8, msg, n < REPORT_SIZE - 9 ? n : REPORT_SIZE - 9);
    } else {
        char line[600];
        int m = snprintf(line, sizeof(line), "pyrunc-init: %s\n", msg);
        if (m > 0)
            (void)!write(2, line, (size_t)m < sizeof(line) ? (size_t)m : sizeof(line) - 1);
    }
    leave(code);
}

/* An errno in the words runc's Go prints, capitalized (initabi.errno_texts: musl words some otherwise) */
static const char *errno_text(int err)
{
    static char unknown[32];
    if (err > 0 && (size_t)err < sizeof(errno_texts) / sizeof(errno_texts[0]) && errno_texts[err])
        return errno_texts[err];
    snprintf(unknown, sizeof(unknown), "errno %d", err);
    return unknown;
}

/* an errno as Go prints it (runc's words): lowercase */
static const char *go_reason(int err)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "%s", errno_text(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] += 'a' - 'A';
    return buf;
}

static void __attribute__((noreturn)) die(const char *what, int err, int code)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s%s: %s", what, *program ? " " : "", program, errno_text(err));
    fail(buf, code);
}

static unsigned long long num(const char *s, int base)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end || end == s)
        die("bad argument", EINVAL, 1);
    return v;
}

static long snum(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s)
        die("bad argument", EINVAL, 1);
    return v;
}

/* "a,b,c" -> up to n numbers */
static void nums(const char *s, int base, unsigned long long *out, int n)
{
    char tmp[256];
    char *p = tmp, *comma;
    int i;
    if (strlen(s) >= sizeof(tmp))
        die("bad argument", EINVAL, 1);
    strcpy(tmp, s);
    for (i = 0; i < n; i++) {
        comma = strchr(p, ',');
        if ((comma == NULL) != (i == n - 1))
            die("bad argument", EINVAL, 1);
        if (comma)
            *comma = 0;
        out[i] = num(p, base);
        p = comma + 1;
    }
}

static void parse_args(int argc, char **argv, struct args *a)
{
    unsigned long long v[5];
    int i, k;

    memset(a, 0, sizeof(*a));
    a->fifo = a->blob = a->notify_sock = a->hooks = a->report = -1;
    a->cloexec_from = 3;
    a->groups = "";
    for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            die("usage: pyrunc-init is started by pyrunc only", EINVAL, 1);
        for (k = 0; k < K_COUNT; k++)
            if ((size_t)(eq - argv[i]) == strlen(abi_keys[k]) && !strncmp(argv[i], abi_keys[k], eq - argv[i]))
                break;
        const char *val = eq + 1;
        switch (k) {
        case K_MODE:
            if (strcmp(val, "init") && strcmp(val, "exec"))
                die("bad argument", EINVAL, 1);
            a->exec_mode = !strcmp(val, "exec");
            break;
        case K_FIFO: a->fifo = (int)snum(val); break;
        case K_CLOEXEC_FROM: a->cloexec_from = (int)num(val, 10); break;
        case K_FLAGS: a->flags = (unsigned)num(val, 10); break;
        case K_UID: a->uid = (uid_t)num(val, 10); break;
        case K_GID: a->gid = (gid_t)num(val, 10); break;
        case K_GROUPS: a->groups = val; break;
        case K_CAPS:
            nums(val, 16, v, 5);
            memcpy(a->caps, v, sizeof(a->caps));
            break;
        case K_SECCOMP:
            nums(val, 10, v, 3);
            a->blob = (int)v[0];
            a->bpf_len = v[1];
            a->seccomp_flags = (unsigned)v[2];
            break;
        case K_NOTIFY:
            nums(val, 10, v, 3);
            a->notify_sock = (int)v[0];
            a->msg_len = v[1];
            a->pid_off = v[2];
            break;
        case K_SELF_PID: a->self_pid = snum(val); break;
        case K_HOOKS: a->hooks = (int)snum(val); break;
        case K_REPORT: a->report = (int)snum(val); break;
        case K_APPARMOR: a->apparmor = val; break;
        case K_SELINUX: a->selinux = val; break;
        default: die("usage: pyrunc-init is started by pyrunc only", EINVAL, 1);
        }
    }
    if (i >= argc)
        die("usage: pyrunc-init is started by pyrunc only", EINVAL, 1);
    a->prog = i + 1 < argc ? argv + i + 1 : NULL;
    if (a->prog && !a->prog[1])
        die("bad argument", EINVAL, 1);
    if (a->prog)
        program = a->prog[0];
}

static void on_deadly_signal(int sig) { leave(128 + sig); }

static void die_on_deadly_signals(void)
{
    static const int deadly[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM};
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_deadly_signal;
    /* PID 1 of a namespace gets no default signal actions: without handlers a
     * created container would ignore `kill ID TERM`. */
    for (i = 0; i < sizeof(deadly) / sizeof(deadly[0]); i++)
        sigaction(deadly[i], &sa, NULL);
}

static void wait_for_start(int fifo, int has_program)
{
    char c;
    ssize_t n;

    if (!has_program)
        for (;;)
            pause(); /* `start` refuses a container without a process */
    do
        n = read(fifo, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        leave(1);
    /* Held until execve: `start` sees the fifo lose its last reader (POLLERR)
     * when the program runs, and only then runs the poststart hooks. */
    if (fcntl(fifo, F_SETFD, FD_CLOEXEC) < 0)
        die("fcntl", errno, 1);
}

/* rt_sigaction's own struct: libc's sigaction refuses the signals a libc keeps for itself
 * (glibc 32 and 33, musl 32 to 34), yet an ignored one would survive execve like any other */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

static void reset_signals(void)
{
    struct kernel_sigaction sa = { SIG_DFL, 0, NULL, 0 };
    sigset_t empty;
    int sig;

    for (sig = 1; sig < NSIG; sig++) /* SIGKILL, SIGSTOP: EINVAL, harmless */
        syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask));
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
}

/* exec mode: the forked process must not hold any fd of ours, even before its execve */
static void close_all_but(int from, int keep)
{
    if (keep >= from) {
        if (keep > from && syscall(SYS_close_range, from, keep - 1, 0) < 0)
            die("close_range", errno, 1);
        from = keep + 1;
    }
    if (syscall(SYS_close_range, from, ~0U, 0) < 0)
        die("close_range", errno, 1);
}

static char *read_fd(int fd, size_t len)
{
    char *buf = malloc(len + 1);
    if (!buf || pread(fd, buf, len, 0) != (ssize_t)len)
        die("reading pyrunc's instructions", errno ? errno : EIO, 1);
    buf[len] = 0;
    close(fd);
    return buf;
}

static int load_seccomp(const void *bpf, size_t len, unsigned int flags)
{
    struct sock_fprog prog = {(unsigned short)(len / sizeof(struct sock_filter)),
                              (struct sock_filter *)bpf};
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (fd < 0)
        die("loading the seccomp filter", errno, 1);
    return (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? (int)fd : -1;
}

/* The listener fd to the agent, with runtime-spec's message: pid goes at pid_off.  0 or an errno. */
static int send_listener(int sock, const char *msg, size_t len, size_t pid_off, long pid, int lfd)
{
    char cbuf[CMSG_SPACE(sizeof(int))], digits[24];
    struct iovec iov[3] = {{(void *)msg, pid_off}, {digits, 0}, {(void *)(msg + pid_off), len - pid_off}};
    struct msghdr mh;
    struct cmsghdr *cm;

    iov[1].iov_len = (size_t)snprintf(digits, sizeof(digits), "%ld", pid);
    memset(&mh, 0, sizeof(mh));
    memset(cbuf, 0, sizeof(cbuf));
    mh.msg_iov = iov;
    mh.msg_iovlen = 3;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
    return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? errno : 0;
}

static int listener_to_agent(const struct args *a, const char *msg, long pid, int lfd)
{
    int err = send_listener(a->notify_sock, msg, a->msg_len, a->pid_off, pid, lfd);
    if (err) {
        if (a->exec_mode)
            kill((pid_t)pid, SIGKILL); /* its notified syscalls would wait forever */
        die("sending the seccomp listener", err, 1);
    }
    close(lfd);
    close(a->notify_sock);
    return -1;
}

static void set_identity(const struct args *a)
{
    static gid_t gids[MAX_GROUPS];
    size_t ngids = 0;
    const char *p = a->groups;
    const uint64_t *caps = a->caps;
    int c;

    if (a->flags & F_CAPS) {
        for (c = 0; c < 64; c++)
            if (!(caps[0] >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                die("dropping from the bounding set", errno, 1);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            die("PR_SET_KEEPCAPS", errno, 1);
    }
    if (a->flags & F_USER) {
        while (*p && ngids < MAX_GROUPS) {
            char *end;
            gids[ngids++] = (gid_t)strtoul(p, &end, 10);
            p = *end == ',' ? end + 1 : end;
        }
        if ((a->flags & F_SETGROUPS) && setgroups(ngids, gids) < 0)
            die("setgroups", errno, 1);
        if (setresgid(a->gid, a->gid, a->gid) < 0)
            die("setresgid", errno, 1);
        if (setresuid(a->uid, a->uid, a->uid) < 0)
            die("setresuid", errno, 1);
    }
    if (a->flags & F_CAPS) {
        struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        uint64_t amb = caps[4] & caps[2] & caps[3];

        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
            die("PR_SET_KEEPCAPS", errno, 1);
        data[0].effective = (uint32_t)caps[1];
        data[1].effective = (uint32_t)(caps[1] >> 32);
        data[0].permitted = (uint32_t)caps[2];
        data[1].permitted = (uint32_t)(caps[2] >> 32);
        data[0].inheritable = (uint32_t)caps[3];
        data[1].inheritable = (uint32_t)(caps[3] >> 32);
        if (syscall(SYS_capset, &hdr, data) < 0)
            die("capset", errno, 1);
        /* like runc: ambient caps not both permitted and inheritable are skipped */
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        for (c = 0; c < 64; c++)
            if (amb >> c & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                die("raising an ambient capability", errno, 1);
    }
}

/* ------------------------------------------------------------ LSM labels */

/* "what: op path: reason" in runc's words, exit 1 */
static void __attribute__((noreturn)) label_failed(const char *what, const char *op, const char *path,
                                                   const char *reason)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s: %s %s: %s", what, op, path, reason);
    fail(buf, 1);
}

/* Write value to an attribute of this thread in the container's /proc (attr, or fallback when
 * attr does not exist), as runc's change-on-exec: the kernel applies it at our next execve.
 * That /proc is the container's: a fake one (a tmpfs or a directory mounted over it) would take
 * the write and the program would run unconfined, the profile silently never applied
 * (CVE-2019-16884).  So the attribute is reached from /proc without a symlink leading out of it
 * or a mount crossed (a procfs file bound over the attribute: CVE-2025-52881), and must be on
 * procfs. */
static void write_attr(const char *what, const char *attr, const char *fallback, const char *value)
{
    struct open_how how = {O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0,
                           RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
    struct statfs st;
    char path[64];
    int proc, fd;

    proc = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (proc < 0)
        label_failed(what, "open", "/proc", go_reason(errno));
    fd = (int)syscall(SYS_openat2, proc, attr, &how, sizeof(how));
    if (fd < 0 && errno == ENOENT && fallback) {
        attr = fallback;
        fd = (int)syscall(SYS_openat2, proc, attr, &how, sizeof(how));
    }
    snprintf(path, sizeof(path), "/proc/%s", attr);
    if (fd < 0)
        label_failed(what, "open", path, go_reason(errno));
    close(proc);
    if (fstatfs(fd, &st) < 0)
        label_failed(what, "fstatfs", path, go_reason(errno));
    if (st.f_type != PROC_SUPER_MAGIC)
        label_failed(what, "open", path, "not on procfs");
    if (write(fd, value, strlen(value)) < 0)
        label_failed(what, "write", path, go_reason(errno));
    close(fd);
}

/* The program's SELinux label and AppArmor profile, for its execve (runc's SetExecLabel and
 * ApplyProfile: "exec PROFILE", AppArmor's own attribute directory first, as runc) */
static void set_exec_labels(const struct args *a)
{
    char value[4096];

    if (a->selinux)
        write_attr("can't set process label", "thread-self/attr/exec", NULL, a->selinux);
    if (a->apparmor) {
        if ((size_t)snprintf(value, sizeof(value), "exec %s", a->apparmor) >= sizeof(value))
            die("apparmor failed to apply profile: the profile name is too long", E2BIG, 1);
        write_attr("apparmor failed to apply profile", "thread-self/attr/apparmor/exec", "thread-self/attr/exec",
                   value);
    }
}

/* ------------------------------------------------------------ startContainer hooks */

struct hook_failure {
    char reason[96];
    char output[HOOK_OUTPUT_MAX + 1];
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep the last HOOK_OUTPUT_MAX bytes of what the hook wrote (for its error). */
static void append_output(struct hook_failure *f, size_t *len, const char *buf, size_t n)
{
    if (n >= HOOK_OUTPUT_MAX) {
        memcpy(f->output, buf + n - HOOK_OUTPUT_MAX, HOOK_OUTPUT_MAX);
        *len = HOOK_OUTPUT_MAX;
        return;
    }
    if (*len + n > HOOK_OUTPUT_MAX) {
        size_t drop = *len + n - HOOK_OUTPUT_MAX;
        memmove(f->output, f->output + drop, *len - drop);
        *len -= drop;
    }
    memcpy(f->output + *len, buf, n);
    *len += n;
}

/* 0 on success; else the reason is in f.  The state reaches the hook on stdin
 * from a sealed memfd (no pipe to fill, so a large state cannot block us past
 * the timeout); its output goes to a pipe we drain while we wait. */
static int run_hook(const char *path, long timeout, char **argv, char **envp, int state_fd,
                    off_t state_off, struct hook_failure *f)
{
    int out[2], status = 0, done = 0;
    size_t len = 0;
    long long deadline = timeout > 0 ? now_ms() + timeout * 1000 : 0;
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) < 0)
        die("pipe", errno, 1);
    pid = fork();
    if (pid < 0)
        die("fork", errno, 1);
    if (pid == 0) {
        setpgid(0, 0); /* a timeout kills the hook with everything it started */
        if (lseek(state_fd, state_off, SEEK_SET) < 0 || dup2(state_fd, 0) < 0 || dup2(out[1], 1) < 0 ||
            dup2(out[1], 2) < 0)
            leave(127);
        execve(path, argv, envp);
        leave(127);
    }
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    while (!done) {
        struct pollfd pfd = {out[0], POLLIN, 0};
        char buf[4096];
        long long wait_ms = 50;
        ssize_t n;

        if (deadline) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                kill(-pid, SIGKILL);
                waitpid(pid, NULL, 0);
                close(out[0]);
                snprintf(f->reason, sizeof(f->reason), "timed out after %lds", timeout);
                f->output[0] = 0;
                return -1;
            }
            if (left < wait_ms)
                wait_ms = left;
        }
        /* a daemon the hook left behind may keep the pipe open: poll the exit too */
        poll(&pfd, 1, (int)wait_ms);
        while ((n = read(out[0], buf, sizeof(buf))) > 0)
            append_output(f, &len, buf, (size_t)n);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            while ((n = read(out[0], buf, sizeof(buf))) > 0)
                append_output(f, &len, buf, (size_t)n);
            done = 1;
        }
    }
    close(out[0]);
    f->output[len] = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && access(path, X_OK) < 0)
        snprintf(f->reason, sizeof(f->reason), "cannot execute: not found or not executable");
    else if (WIFEXITED(status))
        snprintf(f->reason, sizeof(f->reason), "exit status %d", WEXITSTATUS(status));
    else
        snprintf(f->reason, sizeof(f->reason), "killed by signal %d", WTERMSIG(status));
    return -1;
}

static const char *next_str(const char **p, const char *end)
{
    const char *s = *p;
    const char *nul = memchr(s, 0, (size_t)(end - s));
    if (!nul)
        die("reading the startContainer hooks", EINVAL, 1);
    *p = nul + 1;
    return s;
}

static void run_start_hooks(int fd, char **prog_env)
{
    static struct hook_failure f;
    struct stat st;
    const char *p, *end;
    char *blob, *argv[MAX_HOOK_ARGS + 1], *envv[MAX_HOOK_ARGS + 1];
    long count, i, j, n;

    if (fstat(fd, &st) < 0)
        die("reading the startContainer hooks", errno, 1);
    blob = malloc((size_t)st.st_size + 1);
    if (!blob || pread(fd, blob, (size_t)st.st_size, 0) != st.st_size)
        die("reading the startContainer hooks", errno ? errno : EIO, 1);
    p = blob;
    end = blob + st.st_size;
    count = snum(next_str(&p, end));
    /* parse everything first: the state follows the last hook */
    const char *hook_at = p;
    for (i = 0; i < count; i++) {
        next_str(&p, end);
        next_str(&p, end);
        for (n = snum(next_str(&p, end)), j = 0; j < n; j++)
            next_str(&p, end);
        for (n = snum(next_str(&p, end)), j = 0; j < n; j++)
            next_str(&p, end);
    }
    off_t state_off = p - blob;
    p = hook_at;
    for (i = 0; i < count; i++) {
        const char *path = next_str(&p, end);
        long timeout = snum(next_str(&p, end));
        char **envp = prog_env;
        n = snum(next_str(&p, end));
        if (n > MAX_HOOK_ARGS)
            die("too many hook arguments", E2BIG, 1);
        for (j = 0; j < n; j++)
            argv[j] = (char *)next_str(&p, end);
        argv[n] = NULL;
        n = snum(next_str(&p, end));
        if (n > MAX_HOOK_ARGS)
            die("too many hook variables", E2BIG, 1);
        if (n >= 0) {
            for (j = 0; j < n; j++)
                envv[j] = (char *)next_str(&p, end);
            envv[n] = NULL;
            envp = envv;
        }
        if (run_hook(path, timeout, argv, envp, fd, state_off, &f) < 0) {
            char *c;
            size_t lead;
            for (c = f.output; *c; c++)
                if (*c == '\n' || *c == '\r')
                    *c = ' ';
            for (lead = 0; f.output[lead] == ' '; lead++)
                ;
            for (c = f.output + strlen(f.output); c > f.output + lead && c[-1] == ' '; c--)
                c[-1] = 0;
            dprintf(2, "pyrunc: startContainer hook #%ld (%s): %s%s%s\n", i, path, f.reason,
                    f.output[lead] ? ": " : "", f.output + lead);
            leave(1);
        }
    }
    free(blob);
    close(fd);
}

/* ------------------------------------------------------------ exec mode */

/* A failed execve is reported as runc's init reports it, on the program's stderr, and exits 1:
 * "exec /x: no such file or directory" (go_reason). */
static void __attribute__((noreturn)) exec_program(char **prog, char **envp)
{
    execve(prog[0], prog + 1, envp);
    dprintf(2, "exec %s: %s\n", prog[0], go_reason(errno));
    leave(1);
}

static void __attribute__((noreturn)) fork_into_container(const struct args *a, int lfd, const char *msg,
                                                          char **envp)
{
    /* CLONE_PARENT: the process is the child of pyrunc's CLI (as runc's nsexec makes its
     * children), which waits for it in the foreground without becoming a subreaper */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0)
        die("fork into the container", errno, 1);
    if (pid == 0) {
        report_page = NULL; /* not inherited (MADV_DONTFORK): errors go to stderr now */
        if (lfd >= 0)
            close(lfd);
        if (a->notify_sock >= 0)
            close(a->notify_sock);
        if (setsid() < 0)
            die("setsid", errno, 1);
        if ((a->flags & F_TTY) && ioctl(0, TIOCSCTTY, 0) < 0)
            die("setting the controlling terminal", errno, 1);
        set_exec_labels(a);
        exec_program(a->prog, envp);
    }
    if (lfd >= 0)
        listener_to_agent(a, msg, pid, lfd);
    memcpy(report_page, &pid, sizeof(pid));
    leave(0);
}

int main(int argc, char **argv, char **envp)
{
    struct args a;
    char *bpf = NULL, *msg = NULL;
    int lfd = -1;

    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NAME, "pyrunc-init", 0, 0, 0);
    parse_args(argc, argv, &a);
    if (a.report >= 0) {
        report_page = mmap(NULL, REPORT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a.report, 0);
        if (report_page == MAP_FAILED) {
            report_page = NULL;
            die("mapping the report page", errno, 1);
        }
        close(a.report);
        if (madvise(report_page, REPORT_SIZE, MADV_DONTFORK) < 0)
            die("madvise", errno, 1);
    }
    if (a.exec_mode && (!report_page || !a.prog))
        die("usage: pyrunc-init is started by pyrunc only", EINVAL, 1);
    if (a.blob >= 0) {
        bpf = read_fd(a.blob, a.bpf_len + a.msg_len);
        msg = bpf + a.bpf_len;
    }
    reset_signals();
    if (a.exec_mode)
        close_all_but(a.cloexec_from, a.notify_sock);
    else if (syscall(SYS_close_range, a.cloexec_from, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        die("close_range", errno, 1);
    if (!a.exec_mode)
        set_exec_labels(&a); /* startContainer hooks get them too, as under runc */
    if ((a.flags & F_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("PR_SET_NO_NEW_PRIVS", errno, 1);
    /* init: the listener goes to the agent as soon as it exists, since any
     * later syscall could be one it must answer; exec: after the fork, the
     * message needs the new process's pid (seccomp.py refuses profiles that
     * notify a syscall made in between) */
    if (bpf && (a.flags & F_SECCOMP_EARLY))
        lfd = load_seccomp(bpf, a.bpf_len, a.seccomp_flags);
    if (lfd >= 0 && !a.exec_mode)
        lfd = listener_to_agent(&a, msg, a.self_pid, lfd);
    set_identity(&a);
    if (!a.exec_mode) {
        /* a created container waits as its process will run, never privileged and already
         * filtered (as runc's init): see 4. above */
        die_on_deadly_signals();
        if (bpf && !(a.flags & F_SECCOMP_EARLY))
            lfd = load_seccomp(bpf, a.bpf_len, a.seccomp_flags);
        if (lfd >= 0)
            lfd = listener_to_agent(&a, msg, a.self_pid, lfd);
        if (a.fifo >= 0 || !a.prog)
            wait_for_start(a.fifo, a.prog != NULL);
    } else {
        if (bpf && !(a.flags & F_SECCOMP_EARLY))
            lfd = load_seccomp(bpf, a.bpf_len, a.seccomp_flags);
        fork_into_container(&a, lfd, msg, envp);
    }
    if (a.hooks >= 0)
        run_start_hooks(a.hooks, envp);
    exec_program(a.prog, envp);
}
