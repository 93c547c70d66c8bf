/* pyrunc-init: the last step of every container process, a static binary.
 *
 * The Python init (stage 2) sets up namespaces, mounts and the rest, then
 * execs this program from a sealed, read-only, detached copy (so that the
 * container's /proc/self/exe is never the host's Python: CVE-2019-5736).
 * It optionally waits for `start` on the exec fifo, then applies the
 * identity Python computed and execs the container's program.  All values
 * come from Python; the only logic here is the order of the syscalls, which
 * must happen with no interpreter left running:
 *
 *   1. PR_SET_DUMPABLE 0 (before anything else), comm "pyrunc-init";
 *   2. with a fifo fd: die on the usual deadly signals, block until `start`
 *      writes one byte (EOF: exit 1); the fifo then stays open, close-on-exec,
 *      so that its closing tells `start` that the program has been exec'd;
 *   3. every signal disposition to SIG_DFL and an empty mask (ignored
 *      dispositions would survive execve);
 *   4. fds >= first_cloexec marked close-on-exec (CVE-2024-21626);
 *   5. no_new_privs;
 *   6. seccomp now if no_new_privs is off (the filter then needs
 *      CAP_SYS_ADMIN, which only exists before the identity switch, as runc);
 *   7. drop the bounding set, KEEPCAPS, setgroups/setresgid/setresuid,
 *      capset, ambient set;
 *   8. seccomp now if no_new_privs is on;
 *   9. execve.
 * Steps 3 and 4 come before any filter, so a profile denying rt_sigaction
 * or close_range (runc's tests deny close_range) cannot break them.  After
 * loading a filter with a listener, the listener fd is sent at once over
 * the notify socket with its message, then both are closed: a notified
 * syscall before that would wait for an agent that has no fd yet.
 * Any failure: one line on stderr (the container's) and exit 127/126/1.
 *
 * argv (all numbers decimal unless noted):
 *   [1] fifo fd or -1      [2] first fd to close on exec
 *   [3] flags: 1 nnp, 2 set user, 4 set caps, 8 seccomp before the identity switch,
 *       16 setgroups allowed (not denied in this user namespace)
 *   [4] uid  [5] gid  [6] additional gids "1,2,3" (may be empty)
 *   [7..11] capability masks in hex: bounding effective permitted inheritable ambient
 *   [12] blob fd or -1 (seccomp BPF, then the notify message)  [13] BPF length in bytes
 *   [14] seccomp filter flags  [15] notify socket fd or -1  [16] notify message length
 *   [17] program path  [18...] the program's argv
 * envp: the program's environment, passed through as it is (a list: order
 * and duplicates kept; unlike argv it is not world-readable in /proc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define F_NNP 1
#define F_USER 2
#define F_CAPS 4
#define F_SECCOMP_EARLY 8
#define F_SETGROUPS 16
#define MAX_GROUPS 65536
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static const char *program = "";

static void die(const char *what, int err, int code)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "pyrunc-init: %s%s%s: %s\n", what, *program ? " " : "",
                     program, strerror(err));
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    _exit(code);
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

static void on_deadly_signal(int sig) { _exit(128 + sig); }

static void wait_for_start(int fifo)
{
    static const int deadly[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM};
    struct sigaction sa;
    char c;
    ssize_t n;
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_deadly_signal;
    /* PID 1 of a namespace gets no default signal actions: without handlers a
     * created container would ignore `kill ID TERM`. */
    for (i = 0; i < sizeof(deadly) / sizeof(deadly[0]); i++)
        sigaction(deadly[i], &sa, NULL);
    do
        n = read(fifo, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(1);
    /* Held until execve: `start` sees the fifo lose its last reader (POLLERR)
     * when the program runs, and only then runs the poststart hooks. */
    if (fcntl(fifo, F_SETFD, FD_CLOEXEC) < 0)
        die("fcntl", errno, 1);
}

static void load_seccomp(const void *bpf, size_t len, unsigned int flags, int notify_sock,
                         const char *msg, size_t msg_len)
{
    struct sock_fprog prog = {(unsigned short)(len / sizeof(struct sock_filter)),
                              (struct sock_filter *)bpf};
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (fd < 0)
        die("loading the seccomp filter", errno, 1);
    if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {(void *)msg, msg_len};
        struct msghdr mh;
        struct cmsghdr *cm;
        int lfd = (int)fd;

        memset(&mh, 0, sizeof(mh));
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
        if (sendmsg(notify_sock, &mh, MSG_NOSIGNAL) < 0)
            die("sending the seccomp listener", errno, 1);
        close(lfd);
        close(notify_sock);
    }
}

static void set_identity(unsigned flags, uid_t uid, gid_t gid, const char *groups,
                         const uint64_t caps[5])
{
    static gid_t gids[MAX_GROUPS];
    size_t ngids = 0;
    const char *p = groups;
    int c;

    if (flags & F_CAPS) {
        for (c = 0; c < 64; c++)
            if (!(caps[0] >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                die("dropping from the bounding set", errno, 1);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            die("PR_SET_KEEPCAPS", errno, 1);
    }
    if (flags & F_USER) {
        while (*p && ngids < MAX_GROUPS) {
            char *end;
            gids[ngids++] = (gid_t)strtoul(p, &end, 10);
            p = *end == ',' ? end + 1 : end;
        }
        if ((flags & F_SETGROUPS) && setgroups(ngids, gids) < 0)
            die("setgroups", errno, 1);
        if (setresgid(gid, gid, gid) < 0)
            die("setresgid", errno, 1);
        if (setresuid(uid, uid, uid) < 0)
            die("setresuid", errno, 1);
    }
    if (flags & F_CAPS) {
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

int main(int argc, char **argv, char **envp)
{
    struct sigaction sa;
    sigset_t empty;
    uint64_t caps[5];
    unsigned flags, seccomp_flags;
    int fifo, first_cloexec, blob, notify_sock, i, sig;
    size_t bpf_len, msg_len;
    char *bpf = NULL, *msg = NULL;

    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NAME, "pyrunc-init", 0, 0, 0);
    if (argc < 19)
        die("usage: pyrunc-init is started by pyrunc only", EINVAL, 1);
    fifo = (int)strtol(argv[1], NULL, 10);
    first_cloexec = (int)num(argv[2], 10);
    flags = (unsigned)num(argv[3], 10);
    for (i = 0; i < 5; i++)
        caps[i] = num(argv[7 + i], 16);
    blob = (int)strtol(argv[12], NULL, 10);
    bpf_len = num(argv[13], 10);
    seccomp_flags = (unsigned)num(argv[14], 10);
    notify_sock = (int)strtol(argv[15], NULL, 10);
    msg_len = num(argv[16], 10);
    program = argv[17];

    if (blob >= 0) {
        bpf = malloc(bpf_len + msg_len + 1);
        if (!bpf || pread(blob, bpf, bpf_len + msg_len, 0) != (ssize_t)(bpf_len + msg_len))
            die("reading the seccomp filter", errno ? errno : EIO, 1);
        msg = bpf + bpf_len;
        close(blob);
    }
    if (fifo >= 0)
        wait_for_start(fifo);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* SIGKILL, SIGSTOP: EINVAL, harmless */
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    if (syscall(SYS_close_range, first_cloexec, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        die("close_range", errno, 1);
    if ((flags & F_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("PR_SET_NO_NEW_PRIVS", errno, 1);
    if (bpf && (flags & F_SECCOMP_EARLY))
        load_seccomp(bpf, bpf_len, seccomp_flags, notify_sock, msg, msg_len);
    set_identity(flags, (uid_t)num(argv[4], 10), (gid_t)num(argv[5], 10), argv[6], caps);
    if (bpf && !(flags & F_SECCOMP_EARLY))
        load_seccomp(bpf, bpf_len, seccomp_flags, notify_sock, msg, msg_len);

    execve(program, argv + 18, envp);
    die("exec", errno, errno == EACCES ? 126 : 127);
    return 1;
}
