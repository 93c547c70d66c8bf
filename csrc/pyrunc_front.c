/* pyrunc-front: the installed `pyrunc` command, a static binary in front of the Python CLI.
 *
 * Why it exists (a measured exception to "C is thin", see README "Performance"):
 * every call of the Python CLI first starts CPython, 9-13 ms here against about
 * 1 ms for a static binary, and containerd makes at least three calls per
 * container.  Most of them are trivial for an ordinary container: `start` of a
 * created container (one byte into its exec fifo), `delete` of a stopped one
 * (rmdir its cgroups, remove its state directory), `state`, `kill`, `ps`,
 * `pause` and `resume` (a write to the freezer, and a wait), `update` of a pids limit or a cpuset
 * (a write of the value given).
 *
 * Python decides, this program only interprets.  Whenever Python saves a
 * container's state it also writes <root>/<id>/recipe (src/pyrunc/steps.py,
 * format in src/pyrunc/frontabi.py, whose constants this build includes as
 * pyrunc_front_abi.h): for each verb the front end may do, the conditions that
 * must hold and the steps to take.  This program checks the conditions and
 * runs the steps; at any doubt (another command or flag, --debug, a caller
 * that is not root, a root others could write, no recipe or another version,
 * a condition that does not hold, a step it does not know, a step that fails)
 * it execs the Python CLI with the same arguments, which does the whole
 * command and words any error.  It never prints: the only message it can write
 * is that the Python CLI cannot be run.
 *
 * For `create` and `run` it also starts stage 1's interpreter (<prefix>/lib/pyrunc/pyrunc-bootstrap)
 * before it execs the CLI, which adopts it (src/pyrunc/process/early.py): a mechanism only, the
 * process does nothing but import until the CLI sends it the plan.
 *
 * The Python CLI is <prefix>/lib/pyrunc/pyrunc-cli, found from /proc/self/exe
 * (<prefix>/bin/pyrunc), so a copied or relocated install stays consistent.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pyrunc_front_abi.h"

#define RECIPE_MAX 65536
#define MAX_ITEMS 64
#define MAX_SECTIONS 6
#define MAX_FLAGS 8

static char **saved_argv;

/* One `if` or `do` line of the recipe: its kind (enum cond or enum step) and its fields. */
struct item {
    int kind;
    char *a, *b, *c; /* fields; the last one given runs to the end of the line */
};

/* One `verb` section: conditions that must all hold, then its steps, and what undoes them. */
struct section {
    struct item conds[MAX_ITEMS], steps[MAX_ITEMS], undo[MAX_ITEMS];
    int nconds, nsteps, nundo;
};

/* The sections of the verb called, in the recipe's order: the first that holds is run. */
struct recipe {
    struct section sections[MAX_SECTIONS];
    int nsections;
};

static int signal_no = DEFAULT_SIGNAL;   /* kill's signal */
static struct { const char *name, *value; size_t len; } flags[MAX_FLAGS];   /* update's --NAME VALUE (name: len bytes) */
static int nflags;
static const struct section *running;   /* the section whose steps run: its undo steps, on a failure */

static int write_text(const char *path, const char *text);
static ssize_t read_file(int dir, const char *path, char *buf, size_t size);
static void collect_pids(int dir, FILE *out, int *count);

/* <prefix>/lib/pyrunc/<name>, from /proc/self/exe (<prefix>/bin/pyrunc); -1 if it does not fit. */
static int beside(char *out, size_t size, const char *name)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    int len;

    if (n <= 0)
        return -1;
    exe[n] = 0;
    slash = strrchr(exe, '/');            /* <prefix>/bin/pyrunc -> <prefix>/bin */
    if (slash)
        *slash = 0;
    slash = strrchr(exe, '/');            /* -> <prefix> */
    if (slash)
        *slash = 0;
    len = snprintf(out, size, "%s/lib/pyrunc/%s", exe, name);
    return len > 0 && (size_t)len < size ? 0 : -1;
}

/* The Python CLI does the whole command: the answer to anything unusual.  Once steps have run, their
 * section's undo steps first (best effort: Python decides from what is left). */
static void __attribute__((noreturn)) python(void)
{
    char cli[PATH_MAX + 32];
    int i;

    for (i = 0; running && i < running->nundo; i++)
        (void)write_text(running->undo[i].b, running->undo[i].a);
    running = NULL;
    if (beside(cli, sizeof(cli), "pyrunc-cli") == 0)
        execv(cli, saved_argv);
    fprintf(stderr, "pyrunc: cannot run the pyrunc CLI beside /proc/self/exe: %s\n", strerror(errno));
    exit(127);
}

/* exec the script (#!INTERPRETER [ARG], as the kernel would) with its interpreter run from a detached,
 * read-only clone of the interpreter's mount, as pyrunc-init is (src/pyrunc/exeseal.py): stage 1 and the
 * init it forks then show no writable host executable even in a pid namespace other containers share,
 * and need not re-exec themselves from such a clone (process/entry.py checks /proc/self/exe itself).
 * Returns only if that cannot be done (no CAP_SYS_ADMIN, an old kernel): the caller execs it plainly. */
static void exec_script_sealed(char *script, char **args)
{
    char line[PATH_MAX + 64], *interp, *arg, *end, *argv[8];
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    ssize_t n = read_file(AT_FDCWD, script, line, sizeof(line));
    int fd, i = 0;

    if (n < 3 || strncmp(line, "#!", 2) || !(end = strchr(line, '\n')))
        return;
    *end = 0;
    interp = line + 2 + strspn(line + 2, " \t");
    arg = interp + strcspn(interp, " \t");
    if (*arg) {
        *arg++ = 0;
        arg += strspn(arg, " \t");
    }
    fd = (int)syscall(SYS_open_tree, AT_FDCWD, interp, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fd < 0)
        return;
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0) {
        argv[i++] = interp;
        if (*arg)
            argv[i++] = arg;
        argv[i++] = script;
        for (; *++args && i < 7;)
            argv[i++] = *args;
        argv[i] = NULL;
        syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
    }
    close(fd);
}

/* create and run: start the bootstrap process's interpreter now, while the CLI's starts (mechanism, no
 * decision: what it does comes from the CLI, over the socket pair, or it exits when the CLI's end closes).
 * Python's stage 1 is otherwise a fork of the CLI, which then pays a copy-on-write fault for every page
 * either process touches (src/pyrunc/process/early.py).  Any failure here: the CLI forks as before. */
static void spawn_bootstrap(void)
{
    char path[PATH_MAX + 32], parent[24], fd[24], env[48];
    int sv[2];
    pid_t pid;

    if (beside(path, sizeof(path), BOOTSTRAP_SCRIPT) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    snprintf(parent, sizeof(parent), "%d", (int)getpid());
    snprintf(fd, sizeof(fd), "%d", sv[1]);
    pid = fork();
    if (pid == 0) {
        char *args[] = {path, parent, fd, NULL};
        if (fcntl(sv[1], F_SETFD, 0) == 0) {
            exec_script_sealed(path, args);
            execv(path, args);
        }
        _exit(127);
    }
    close(sv[1]);
    if (pid < 0 || fcntl(sv[0], F_SETFD, 0) < 0) {
        close(sv[0]);
        return;    /* a child that could not be handed over sees EOF and exits */
    }
    snprintf(env, sizeof(env), "%d,%d", (int)pid, sv[0]);
    setenv(EARLY_BOOTSTRAP_ENV, env, 1);
}

/* A directory name in the root: the id's rule is Python's, which wrote the recipe this must match. */
static int plain_name(const char *s)
{
    return *s && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/');
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

static int lookup(const char *name, const char *const *names, int count)
{
    int i;
    for (i = 0; i < count; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

/* Undo frontabi.escape and frontabi.word in place: \\ \n \s. */
static char *unescape(char *s)
{
    char *in = s, *out = s;
    for (; *in; in++)
        *out++ = *in == '\\' && in[1] ? (*++in == 'n' ? '\n' : *in == 's' ? ' ' : *in) : *in;
    *out = 0;
    return s;
}

/* Split off the next space-separated field of *rest (the last field takes the rest of the line). */
static char *field(char **rest, int last)
{
    char *f = *rest, *sp;
    if (!f || !*f)
        return NULL;
    if (last) {
        *rest = NULL;
        return f;
    }
    sp = strchr(f, ' ');
    if (sp)
        *sp++ = 0;
    *rest = sp;
    return f;
}

/* Fill r with the sections of `verb`; -1 if the recipe is not one this program may follow. */
static int parse_recipe(char *text, const char *id, const char *verb, struct recipe *r)
{
    char *line, *next, *rest, *word;
    struct section *sec = NULL;
    int in_verb = 0, ended = 0, lineno = 0;
    memset(r, 0, sizeof(*r));
    for (line = text; *line; line = next, lineno++) {
        next = strchr(line, '\n');
        if (!next || ended)
            return -1;             /* every line ends with a newline, nothing after end */
        *next++ = 0;
        rest = line;
        word = field(&rest, 0);
        if (!word)
            return -1;
        if (lineno == 0) {
            if (strcmp(word, "pyrunc-recipe") || !rest || strtol(rest, NULL, 10) != RECIPE_VERSION)
                return -1;
        } else if (lineno == 1) {
            if (strcmp(word, "id") || !rest || strcmp(rest, id))
                return -1;
        } else if (!strcmp(word, "end")) {
            ended = 1;
        } else if (!strcmp(word, "verb")) {
            if (!rest || lookup(rest, verb_names, VERB_COUNT) < 0)
                return -1;
            in_verb = !strcmp(rest, verb);
            if (in_verb) {
                if (r->nsections >= MAX_SECTIONS)
                    return -1;
                sec = &r->sections[r->nsections++];
            }
        } else if (!strcmp(word, "if") || !strcmp(word, "do") || !strcmp(word, "undo")) {
            int is_if = word[0] == 'i', is_undo = word[0] == 'u', kind, fields;
            struct item *it;
            char *name = field(&rest, 0);
            if (!name)
                return -1;
            kind = is_if ? lookup(name, cond_names, COND_COUNT) : lookup(name, step_names, STEP_COUNT);
            if (kind < 0 || (is_undo && kind != STEP_WRITE))
                return -1;         /* a condition or step this build does not know */
            if (!in_verb)
                continue;
            if ((is_if ? sec->nconds : is_undo ? sec->nundo : sec->nsteps) >= MAX_ITEMS)
                return -1;
            it = is_if ? &sec->conds[sec->nconds++] : is_undo ? &sec->undo[sec->nundo++] : &sec->steps[sec->nsteps++];
            it->kind = kind;
            /* how many fields each takes: alive|dead PID START, equals|differs TEXT PATH, exists|absent NAME, empty DIR,
             * fifo-start NAME, rmdir DIR, print TEXT, signal PID START, pids DIR, write TEXT PATH, await LINE PATH,
             * flag NAME KIND PATH */
            if (!is_if && kind == STEP_FLAG) {
                it->a = field(&rest, 0);
                it->b = field(&rest, 0);
                it->c = field(&rest, 1);
                if (!it->c || lookup(it->b, kind_names, KIND_COUNT) < 0)
                    return -1;
                continue;
            }
            if (is_if)
                fields = kind == COND_EXISTS || kind == COND_ABSENT || kind == COND_EMPTY ? 1 : 2;
            else if (kind == STEP_SIGNAL || kind == STEP_WRITE || kind == STEP_AWAIT)
                fields = 2;
            else
                fields = kind == STEP_FIFO_START || kind == STEP_RMDIR || kind == STEP_PRINT || kind == STEP_PIDS;
            if (fields == 2)
                it->a = field(&rest, 0);
            if (fields)
                *(fields == 2 ? &it->b : &it->a) = field(&rest, 1);
            if (fields && (!it->a || (fields == 2 && !it->b)))
                return -1;
            if (is_if ? kind == COND_EQUALS || kind == COND_DIFFERS : kind == STEP_WRITE || kind == STEP_AWAIT)
                unescape(it->a);   /* a TEXT or LINE that is not last on its line (frontabi.word) */
        } else {
            return -1;
        }
    }
    return ended && r->nsections ? 0 : -1;
}

/* Is the process pid the one that started at `start` clock ticks, and not a zombie? */
static int process_alive(const char *pid, const char *start)
{
    char path[64], buf[1024], *p;
    int field_no;
    snprintf(path, sizeof(path), "/proc/%ld/stat", strtol(pid, NULL, 10));
    if (read_file(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return 0;
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
        return 0;
    for (field_no = 3, p += 2; field_no < 22 && p; field_no++)   /* p: field 3 (state) -> 22 (starttime) */
        if ((p = strchr(p, ' ')))
            p++;
    return p && strtoull(p, NULL, 10) == strtoull(start, NULL, 10);
}

/* 1 if the file holds text (trailing whitespace aside), 0 if it holds something else, -1 if unreadable. */
static int file_equals(const char *path, const char *text)
{
    char buf[256];
    size_t n;
    if (read_file(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return -1;
    n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return !strcmp(buf, text);
}

/* 1 if one line of the file is `line`, 0 if none is, -1 if unreadable. */
static int file_has_line(const char *path, const char *line)
{
    char buf[4096], *p, *end;
    size_t n = strlen(line);
    if (read_file(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return -1;
    for (p = buf; *p; p = end + 1) {
        end = strchrnul(p, '\n');
        if ((size_t)(end - p) == n && !strncmp(p, line, n))
            return 1;
        if (!*end)
            break;
    }
    return 0;
}

/* write: the text into an existing file (a cgroup file: one write, as Python's), -1 on failure. */
static int write_text(const char *path, const char *text)
{
    size_t n = strlen(text);
    int ok, fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

/* await: poll the file until it has the line, at most AWAIT_MS; -1 if it never did. */
static int await_line(const char *path, const char *line)
{
    long long deadline = now_ns() + AWAIT_MS * 1000000LL;
    struct timespec pause = {0, 20000};   /* 20 us, doubling to 1 ms: freezing a few tasks is quick */
    int got;
    while ((got = file_has_line(path, line)) == 0 && now_ns() < deadline) {
        nanosleep(&pause, NULL);
        if (pause.tv_nsec < 1000000)
            pause.tv_nsec *= 2;
    }
    return got == 1 ? 0 : -1;
}

/* empty: the cgroup directory exists and holds no process, nor does any cgroup below it. */
static int cgroup_empty(const char *path)
{
    int count = 0, dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return 0;
    collect_pids(dir, NULL, &count);
    close(dir);
    return count == 0;
}

static int holds(int dir, const struct item *c)
{
    switch (c->kind) {
    case COND_ALIVE: return process_alive(c->a, c->b);
    case COND_DEAD: return !process_alive(c->a, c->b);
    case COND_EQUALS: return file_equals(c->b, c->a) == 1;
    case COND_DIFFERS: return file_equals(c->b, c->a) == 0;
    case COND_EXISTS: return faccessat(dir, c->a, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
    case COND_ABSENT: return faccessat(dir, c->a, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
    case COND_EMPTY: return cgroup_empty(c->a);
    }
    return 0;
}

/* print: Python's answer, unescaped (frontabi.escape), on stdout. */
static void print_text(char *text)
{
    size_t n = strlen(unescape(text)), done = 0;
    ssize_t w;
    while (done < n) {
        w = write(1, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            exit(1);   /* as Python's CLI, whose write to a closed stdout fails the call */
        done += (size_t)w;
    }
}

/* pids: the cgroup.procs of dir and every cgroup below it, in the order of Python's walk
 * (the directory, then each subdirectory as readdir lists it), as one JSON list (out NULL: counted only). */
static void collect_pids(int dir, FILE *out, int *count)
{
    static char procs[1 << 16];
    char *p, *end;
    struct dirent *e;
    DIR *d;
    int sub;
    if (read_file(dir, "cgroup.procs", procs, sizeof(procs)) >= 0)
        for (p = procs; *p; p = end) {
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            if (out)
                fprintf(out, *count ? ",%ld" : "[%ld", pid);
            ++*count;
        }
    d = fdopendir(dup(dir));
    if (!d)
        return;
    while ((e = readdir(d)))
        if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            sub = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                collect_pids(sub, out, count);
                close(sub);
            }
        }
    closedir(d);
}

static void print_pids(const char *path)
{
    int count = 0, dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        collect_pids(dir, stdout, &count);
        close(dir);
    }
    fputs(count ? "]\n" : "null\n", stdout);
    if (fflush(stdout) != 0)
        exit(1);
}

/* signal: the call's signal to the init, pinned by a pidfd and checked to be that process. */
static void signal_init(const char *pid, const char *start)
{
    struct pollfd p;
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)strtol(pid, NULL, 10), 0);
    if (fd < 0 || !process_alive(pid, start))
        python();      /* gone since the condition: Python says what it is now */
    if (syscall(SYS_pidfd_send_signal, fd, signal_no, NULL, 0) < 0 && errno != ESRCH)
        python();
    if (signal_no == SIGKILL) {   /* as lifecycle.kill_init: the init is gone when kill returns */
        p.fd = fd;
        p.events = POLLIN;
        while (poll(&p, 1, 5000) < 0 && errno == EINTR)
            ;
    }
    close(fd);
}

static void write_start_trace(int dir, long long began)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "cli start %lld\nexec %lld\n", began, now_ns());
    int fd = openat(dir, START_TRACE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)!write(fd, buf, (size_t)n);   /* a diagnostic: its loss changes nothing */
        close(fd);
    }
}

/* fifo-start: what lets the init exec the program (steps.py says the same for Python). */
static void fifo_start(int dir, const char *name)
{
    int fifo = openat(dir, name, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fifo < 0)
        python();      /* running already (no fifo), or the init stopped reading: Python says which */
    /* unlink first: a start killed here leaves "running", never a "created"
     * container that has in fact started */
    if (unlinkat(dir, name, 0) < 0 || write(fifo, "0", 1) != 1) {
        close(fifo);
        python();      /* the fifo is gone now: Python reports the state the init is in */
    }
    close(fifo);
}

/* remove-state: the state directory, if it holds only plain files (anything else is Python's). */
static void remove_state(int root, const char *id, int dir)
{
    struct dirent *e;
    DIR *d = fdopendir(dup(dir));
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
}

/* Does the value have the kind a `flag` step names (frontabi.FLAG_KINDS)?  natural: what Python's int()
 * gives back as it is (no sign, no leading zero: the kernel would read "010" as octal), within int64. */
static int of_kind(const char *value, const char *kind)
{
    size_t digits = strspn(value, "0123456789");
    switch (lookup(kind, kind_names, KIND_COUNT)) {
    case KIND_NATURAL: return value[0] >= '1' && value[0] <= '9' && !value[digits] && digits <= 18;
    case KIND_LINE: return *value && !strchr(value, '\n');
    }
    return 0;
}

/* The value the call gave for --name (its first len bytes; len 0: all of it), or NULL. */
static const char *flag_given(const char *name, size_t len)
{
    int i;
    if (!len)
        len = strlen(name);
    for (i = 0; i < nflags; i++)
        if (flags[i].len == len && !strncmp(flags[i].name, name, len))
            return flags[i].value;
    return NULL;
}

/* update: every flag the call gave is named by one of the section's flag steps, with a value of its kind
 * (checked before any step runs: a call Python must do is handed over untouched). */
static void check_flags(const struct section *sec)
{
    int i, j;
    for (i = 0; i < nflags; i++) {
        for (j = 0; j < sec->nsteps; j++) {
            const struct item *s = &sec->steps[j];
            if (s->kind == STEP_FLAG && strlen(s->a) == flags[i].len && !strncmp(s->a, flags[i].name, flags[i].len))
                break;
        }
        if (j == sec->nsteps || !of_kind(flags[i].value, sec->steps[j].b))
            python();
    }
}

/* The first section whose conditions hold, else NULL. */
static const struct section *holding(int dir, const struct recipe *r)
{
    int i, j;
    for (i = 0; i < r->nsections; i++) {
        for (j = 0; j < r->sections[i].nconds && holds(dir, &r->sections[i].conds[j]); j++)
            ;
        if (j == r->sections[i].nconds)
            return &r->sections[i];
    }
    return NULL;
}

static void run_steps(int root, const char *id, int dir, const struct recipe *r, long long began)
{
    const char *v;
    int i;
    const struct section *sec = holding(dir, r);
    if (!sec)
        python();
    check_flags(sec);
    running = sec;
    for (i = 0; i < sec->nsteps; i++) {
        const struct item *s = &sec->steps[i];
        switch (s->kind) {
        case STEP_FIFO_START: fifo_start(dir, s->a); break;
        case STEP_TRACE_START: write_start_trace(dir, began); break;
        case STEP_RMDIR:
            if (rmdir(s->a) < 0 && errno != ENOENT)
                python();  /* processes left (no pid namespace) or children: Python kills and retries */
            break;
        case STEP_REMOVE_STATE: remove_state(root, id, dir); break;
        case STEP_PRINT: print_text(s->a); break;
        case STEP_SIGNAL: signal_init(s->a, s->b); break;
        case STEP_PIDS: print_pids(s->a); break;
        case STEP_WRITE:
            if (write_text(s->b, s->a) < 0)
                python();
            break;
        case STEP_AWAIT:
            if (await_line(s->b, s->a) < 0)
                python();  /* still freezing: the undo thaws, Python retries as runc does */
            break;
        case STEP_FLAG:
            if ((v = flag_given(s->a, 0)) && write_text(s->c, v) < 0)
                python();  /* Python writes every limit again and words the kernel's refusal */
            break;
        default: python();
        }
    }
    exit(0);
}

/* delete --force of an id without a directory: done, as Python's lifecycle.delete, unless a create's
 * temporary is there for Python to sweep (frontabi.TEMPORARY). */
static void __attribute__((noreturn)) delete_missing(int root)
{
    struct dirent *e;
    DIR *d = fdopendir(openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d)
        python();
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, TEMPORARY, strlen(TEMPORARY)))
            python();
    exit(0);
}

/* kill's SIGNAL when it is a plain number parse_signal takes as itself (frontabi); else Python parses it. */
static int decimal_signal(const char *s)
{
    char *end;
    long n;
    if (*s < '0' || *s > '9')
        python();
    n = strtol(s, &end, 10);
    if (*end || n > SIGNAL_MAX)
        python();
    return (int)n;
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

/* A boolean flag: --name or --name=VALUE (Go's flag package takes no separate value for one). */
static int bool_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);

    return !strncmp(arg, name, n) && (!arg[n] || arg[n] == '=');
}

int main(int argc, char **argv)
{
    long long began = now_ns();
    const char *root = DEFAULT_ROOT, *logpath = NULL, *fmt = "text", *id = NULL, *v, *verb;
    static char buf[RECIPE_MAX];
    static struct recipe r;
    int i = 1, rootfd, dir, fd, ps_json = 0, force = 0, all = 0, others = 0;

    saved_argv = argv;
    /* fds 0-2 open, /dev/null where the caller closed one (runc's os/exec gives a process /dev/null
     * for a missing one): else the first file opened here or in Python takes that number, and a
     * stage would hand it to the container as its stdio */
    for (fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            open("/dev/null", O_RDWR);     /* the lowest free number: fd */
    if (geteuid() != 0)
        python();      /* rootless: another root directory and other rules */
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((v = flag_value(argc, argv, &i, "--root")))
            root = v;
        else if ((v = flag_value(argc, argv, &i, "--log-format")))
            fmt = v;
        else if ((v = flag_value(argc, argv, &i, "--log")))
            logpath = v;
        else if (flag_value(argc, argv, &i, "--criu") || flag_value(argc, argv, &i, "--rootless") ||
                 bool_flag(argv[i], "--debug") || bool_flag(argv[i], "--systemd-cgroup"))
            others = 1;    /* runc's other global flags: known, so the verb is found, but Python's */
        else
            python();
    }
    if (i >= argc || !*root || (strcmp(fmt, "text") && strcmp(fmt, "json")))
        python();
    verb = argv[i++];
    if (!strcmp(verb, "create") || !strcmp(verb, "run")) {
        spawn_bootstrap();
        python();
    }
    if (others || lookup(verb, verb_names, VERB_COUNT) < 0 || !strcmp(verb, "kill-all"))
        python();      /* kill-all names the sections of `kill --all`, no command */
    for (; i < argc; i++) {
        /* --force changes nothing for a stopped container, what delete's recipe requires */
        if (!strcmp(verb, "delete") && (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force"))) {
            force = 1;
            continue;
        }
        /* kill --all: its own sections (kill-all) */
        if (!strcmp(verb, "kill") && (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))) {
            all = 1;
            continue;
        }
        /* ps: only `--format json` (its table runs ps(1): Python's) */
        if (!strcmp(verb, "ps") && !id && (v = flag_value(argc, argv, &i, "--format"))) {
            ps_json |= !strcmp(v, "json") ? 1 : 2;
            continue;
        }
        if (!strcmp(verb, "ps") && !id && !strcmp(argv[i], "-f") && i + 1 < argc) {
            ps_json |= !strcmp(argv[++i], "json") ? 1 : 2;
            continue;
        }
        /* update: --NAME VALUE or --NAME=VALUE, each name once (check_flags then wants them in the recipe) */
        if (!strcmp(verb, "update") && !strncmp(argv[i], "--", 2) && argv[i][2] && argv[i][2] != '=') {
            const char *name = argv[i] + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (nflags == MAX_FLAGS || (!eq && i + 1 >= argc) || flag_given(name, len))
                python();
            flags[nflags].name = name;
            flags[nflags].len = len;
            flags[nflags].value = eq ? eq + 1 : argv[++i];
            nflags++;
            continue;
        }
        if (argv[i][0] == '-')
            python();
        else if (!id)
            id = argv[i];
        else if (!strcmp(verb, "kill") && signal_no == DEFAULT_SIGNAL && i == argc - 1)
            signal_no = decimal_signal(argv[i]);
        else
            python();
    }
    if (!id || !plain_name(id) || (!strcmp(verb, "ps") && ps_json != 1) || (!strcmp(verb, "update") && !nflags))
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
    if (dir < 0 && errno == ENOENT && force)
        delete_missing(rootfd);
    if (dir < 0 && errno == ENOENT && all)
        exit(0);       /* as Python's lifecycle.kill: containerd's cleanup sends it after delete */
    if (all)
        verb = "kill-all";
    /* state and ps read without the lock, as Python's (the recipe is replaced by rename, never rewritten) */
    if (dir < 0 || (strcmp(verb, "state") && strcmp(verb, "ps") && flock(dir, LOCK_EX) < 0))
        python();
    /* the lock fd is close-on-exec: handing over to Python releases the lock */
    if (read_file(dir, RECIPE_FILE, buf, sizeof(buf)) < 0 || parse_recipe(buf, id, verb, &r) < 0)
        python();
    signal(SIGPIPE, SIG_IGN);   /* an init gone between open and write: EPIPE, then Python */
    run_steps(rootfd, id, dir, &r, began);
    return 0;
}
