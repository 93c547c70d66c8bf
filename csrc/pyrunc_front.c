/* pyrunc-front: the installed `pyrunc` command, a static binary in front of the Python CLI.
 *
 * Why it exists (a measured exception to "C is thin", see README "Performance"):
 * every call of the Python CLI first starts CPython, 9-13 ms here against about
 * 1 ms for a static binary, and containerd makes at least three calls per
 * container.  Two of them are trivial for an ordinary container: `start` of a
 * created container (one byte into its exec fifo) and `delete` of a stopped one
 * (rmdir its cgroups, remove its state directory).  `create` leaves the facts
 * these two need in <root>/<id>/fast (state.py, fast_facts), and only when no hook
 * has to run; this program does those two cases itself.
 *
 * It never decides anything it could get wrong: any other command, a flag it
 * does not know, --debug, a caller that is not root, a root directory that is not
 * root's alone (another user could have planted the facts), a missing fact, a fact that
 * does not hold (init dead for start, alive for delete, a frozen cgroup, a busy
 * cgroup, a subdirectory in the state dir) or an error before it changed
 * anything, and it execs the Python CLI with the same arguments, which does the
 * whole command and words any error.  So it never prints and never fails on its
 * own: the only message it can write is that the Python CLI cannot be run.
 *
 * The Python CLI is <prefix>/lib/pyrunc/pyrunc-cli, found from /proc/self/exe
 * (<prefix>/bin/pyrunc), so a copied or relocated install stays consistent.
 *
 * Facts file, one per line, a keyword then a space then the rest of the line:
 *   pid N              the init's pid
 *   start N            its start time in clock ticks (/proc/N/stat field 22)
 *   thawed V PATH      the freezer file and its content when not frozen
 *   cgroup PATH        a cgroup directory of the container (one per hierarchy)
 *   start-ok           `start` needs nothing but the fifo (a process, no poststart hook)
 *   delete-ok          `delete` needs nothing but removal (no poststop hook)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ROOT "/run/pyrunc"
#define FACTS_MAX 65536
#define MAX_CGROUPS 64

static char **saved_argv;

struct facts {
    long pid;
    unsigned long long start;
    const char *thawed_value, *thawed_path;
    const char *cgroups[MAX_CGROUPS];
    int ncgroups, start_ok, delete_ok;
};

/* The Python CLI does the whole command: the answer to anything unusual. */
static void __attribute__((noreturn)) python(void)
{
    char exe[PATH_MAX], cli[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    int len;

    if (n > 0) {
        exe[n] = 0;
        slash = strrchr(exe, '/');            /* <prefix>/bin/pyrunc -> <prefix>/bin */
        if (slash)
            *slash = 0;
        slash = strrchr(exe, '/');            /* -> <prefix> */
        if (slash)
            *slash = 0;
        len = snprintf(cli, sizeof(cli), "%s/lib/pyrunc/pyrunc-cli", exe);
        if (len > 0 && (size_t)len < sizeof(cli))
            execv(cli, saved_argv);
    }
    fprintf(stderr, "pyrunc: cannot run the pyrunc CLI beside %s: %s\n", n > 0 ? exe : "/proc/self/exe",
            strerror(errno));
    exit(127);
}

static int is_id(const char *s)
{
    const char *p;
    if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_+-.", *p)))
            return 0;
    return 1;
}

/* Owned by us and writable by nobody else: the only root whose facts this program may act on. */
static int private_dir(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH));
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);   /* the clock of Python's time.monotonic_ns */
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The file at path (relative to dir) as a string in buf, never a symlink; -1 if it cannot be read. */
static ssize_t read_file(int dir, const char *path, char *buf, size_t size)
{
    size_t got = 0;
    ssize_t n = 0;
    int fd = openat(dir, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) != 0) {
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0)
            got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    return n < 0 ? -1 : (ssize_t)got;
}

static int parse_facts(char *text, struct facts *f)
{
    char *line, *next, *rest;
    memset(f, 0, sizeof(*f));
    for (line = text; *line; line = next) {
        next = strchr(line, '\n');
        if (!next)
            return -1;             /* every line ends with a newline: a torn file is no fact */
        *next++ = 0;
        rest = strchr(line, ' ');
        if (rest)
            *rest++ = 0;
        if (!strcmp(line, "pid") && rest)
            f->pid = strtol(rest, NULL, 10);
        else if (!strcmp(line, "start") && rest)
            f->start = strtoull(rest, NULL, 10);
        else if (!strcmp(line, "thawed") && rest && (f->thawed_path = strchr(rest, ' '))) {
            *(char *)f->thawed_path++ = 0;
            f->thawed_value = rest;
        } else if (!strcmp(line, "cgroup") && rest && f->ncgroups < MAX_CGROUPS)
            f->cgroups[f->ncgroups++] = rest;
        else if (!strcmp(line, "start-ok"))
            f->start_ok = 1;
        else if (!strcmp(line, "delete-ok"))
            f->delete_ok = 1;
        else
            return -1;
    }
    return f->pid > 0 && f->start > 0 ? 0 : -1;
}

/* Is the init still the process create started (same start time, not a zombie)? */
static int init_alive(const struct facts *f)
{
    char path[64], buf[1024], *p;
    int field;
    snprintf(path, sizeof(path), "/proc/%ld/stat", f->pid);
    if (read_file(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return 0;
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
        return 0;
    for (field = 3, p += 2; field < 22 && p; field++)   /* p: field 3 (state) -> 22 (starttime) */
        if ((p = strchr(p, ' ')))
            p++;
    return p && strtoull(p, NULL, 10) == f->start;
}

static int thawed(const struct facts *f)
{
    char buf[64];
    size_t n;
    if (!f->thawed_path)
        return 1;
    if (read_file(AT_FDCWD, f->thawed_path, buf, sizeof(buf)) < 0)
        return 0;
    n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return !strcmp(buf, f->thawed_value);
}

static void write_start_trace(int dir, long long began)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "cli start %lld\nexec %lld\n", began, now_ns());
    int fd = openat(dir, "trace.start", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)!write(fd, buf, (size_t)n);   /* a diagnostic: its loss changes nothing */
        close(fd);
    }
}

/* start of a created container: what Runtime.start does when there is no poststart hook. */
static void start(int dir, const struct facts *f, long long began)
{
    int fifo;
    if (!f->start_ok || !init_alive(f) || !thawed(f))
        python();
    fifo = openat(dir, "exec.fifo", O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fifo < 0)
        python();      /* running already (no fifo), or the init stopped reading: Python says which */
    /* unlink first, as Runtime.start: a start killed here leaves "running", never a
     * "created" container that has in fact started */
    if (unlinkat(dir, "exec.fifo", 0) < 0 || write(fifo, "0", 1) != 1) {
        close(fifo);
        python();      /* the fifo is gone now: Python reports the state the init is in */
    }
    close(fifo);
    write_start_trace(dir, began);
    exit(0);
}

/* delete of a stopped container: what Runtime.delete does when there is no poststop hook. */
static void delete(int root, const char *id, int dir, const struct facts *f)
{
    struct dirent *e;
    DIR *d;
    int i;
    if (!f->delete_ok || init_alive(f))
        python();
    for (i = 0; i < f->ncgroups; i++)
        if (rmdir(f->cgroups[i]) < 0 && errno != ENOENT)
            python();  /* processes left (no pid namespace) or children: Python kills and retries */
    /* only plain entries: anything else is for Python's remove(), before we touch any */
    d = fdopendir(dup(dir));
    if (!d)
        python();
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && e->d_type != DT_REG && e->d_type != DT_FIFO) {
            closedir(d);
            python();
        }
    rewinddir(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && unlinkat(dir, e->d_name, 0) < 0 &&
            errno != ENOENT) {
            closedir(d);
            python();
        }
    closedir(d);
    if (unlinkat(root, id, AT_REMOVEDIR) < 0)
        python();
    exit(0);
}

/* The value of `--name value` or `--name=value` at argv[*i], or NULL if argv[*i] is not --name. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n))
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] || *i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

int main(int argc, char **argv)
{
    long long began = now_ns();
    const char *root = DEFAULT_ROOT, *logpath = NULL, *fmt = "text", *id = NULL, *v, *verb;
    char buf[FACTS_MAX];
    struct facts f;
    int i = 1, rootfd, dir, fd;

    saved_argv = argv;
    if (geteuid() != 0)
        python();      /* rootless: another root directory and other rules */
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((v = flag_value(argc, argv, &i, "--root")))
            root = v;
        else if ((v = flag_value(argc, argv, &i, "--log-format")))
            fmt = v;
        else if ((v = flag_value(argc, argv, &i, "--log")))
            logpath = v;
        else
            python();
    }
    if (i >= argc || !*root || (strcmp(fmt, "text") && strcmp(fmt, "json")))
        python();
    verb = argv[i++];
    if (strcmp(verb, "start") && strcmp(verb, "delete"))
        python();
    for (; i < argc; i++) {
        /* --force changes nothing for a stopped container, the only kind deleted here */
        if (!strcmp(verb, "delete") && (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force")))
            continue;
        if (argv[i][0] == '-' || id)
            python();
        else
            id = argv[i];
    }
    if (!id || !is_id(id))
        python();
    if (logpath) {     /* the Python CLI creates the log file on every call, so does this */
        fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            python();
        close(fd);
    }
    rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0 || !private_dir(rootfd))
        python();      /* Python refuses a root another user could have written (state.py) */
    dir = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0 || flock(dir, LOCK_EX) < 0)
        python();
    /* the lock fd is close-on-exec: handing over to Python releases the lock */
    if (read_file(dir, "fast", buf, sizeof(buf)) < 0 || parse_facts(buf, &f) < 0)
        python();
    signal(SIGPIPE, SIG_IGN);   /* an init gone between open and write: EPIPE, then Python */
    if (!strcmp(verb, "start"))
        start(dir, &f, began);
    delete(rootfd, id, dir, &f);
    return 0;
}
