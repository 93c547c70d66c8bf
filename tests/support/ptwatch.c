/* ptwatch STOPFILE: a pod member with CAP_SYS_PTRACE in the pod's user namespace, watching the pid
 * namespace it shares with the pod's next containers.
 *
 * Every process that appears after the first look at /proc is attached (PTRACE_ATTACH, retried
 * until it succeeds, the process is gone or STOPFILE exists); each one stopped is reported on stdout,
 * "stopped PID NAME Seccomp=N CapEff=HEX", and let go.  A runtime that exec's its init after joining
 * the user namespace from a file the container's root may read lets this stop the init before it
 * has its identity and seccomp filter (its memory is then that namespace's: kernel would_dump).
 * Exits when STOPFILE exists. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static int stop_asked(const char *stopfile) { return access(stopfile, F_OK) == 0; }

static void field(int pid, const char *key, char *out, size_t len)
{
    char path[64], line[256];
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    snprintf(out, len, "?");
    if (!(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
            char *v = line + strlen(key) + 1;
            v += strspn(v, " \t");
            v[strcspn(v, "\n")] = 0;
            snprintf(out, len, "%s", v);
        }
    fclose(f);
}

/* 1 once the process was stopped and reported, 0 if it went away or we were told to stop */
static int catch(int pid, const char *stopfile)
{
    char name[64], seccomp[16], capeff[32];
    int status;
    while (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0) {
        if (errno == ESRCH || stop_asked(stopfile))
            return 0;
    }
    if (waitpid(pid, &status, __WALL) < 0)
        return 0;
    field(pid, "Name", name, sizeof(name));
    field(pid, "Seccomp", seccomp, sizeof(seccomp));
    field(pid, "CapEff", capeff, sizeof(capeff));
    printf("stopped %d %s Seccomp=%s CapEff=%s\n", pid, name, seccomp, capeff);
    fflush(stdout);
    ptrace(PTRACE_DETACH, pid, 0, 0);
    return 1;
}

int main(int argc, char **argv)
{
    static char seen[1 << 22];
    int first = 1, self = getpid();
    if (argc != 2) {
        fprintf(stderr, "usage: ptwatch STOPFILE\n");
        return 2;
    }
    printf("watching\n");
    fflush(stdout);
    while (!stop_asked(argv[1])) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid >= (int)sizeof(seen) || seen[pid] || pid == self)
                continue;
            seen[pid] = 1;
            if (!first)
                catch(pid, argv[1]);
        }
        if (d)
            closedir(d);
        first = 0;
        usleep(1000);
    }
    return 0;
}
