/* exescan: CVE-2019-5736 as a container process with CAP_SYS_PTRACE tries it (test helper, static, runs inside a container).
 *
 *   exescan STOPFILE
 *
 * Until STOPFILE exists, scan /proc/<pid>/exe of every other process and
 * keep an O_PATH fd of each executable (by device and inode) not seen
 * before.  Then, as the attack does once the runtime's process is gone,
 * try to reopen each of them for writing through /proc/self/fd/N (O_WRONLY,
 * nothing is ever written) and print one line per executable:
 *
 *   <readlink of its exe> <dev>:<ino> <ro|rw> <seals> writable|<strerror>
 *
 * ro/rw: its mount's read-only flag; seals: F_GET_SEALS of a memfd (-1
 * otherwise).  A file being executed elsewhere refuses writers (ETXTBSY)
 * whatever its mount: only ro or F_SEAL_WRITE say that it is sealed.
 *
 * and "scans N" last, so that the test knows the scanner really ran.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_SEEN 256

struct seen {
    dev_t dev;
    ino_t ino;
    int fd;
    char name[256];
};

int main(int argc, char **argv)
{
    static struct seen seen[MAX_SEEN];
    int nseen = 0, i;
    long scans = 0;
    pid_t self = getpid();

    if (argc != 2)
        return 2;
    while (access(argv[1], F_OK) != 0) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        if (!d)
            return 3;
        while ((e = readdir(d))) {
            char path[64], name[256];
            struct stat st;
            int fd;
            ssize_t n;
            if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == self)
                continue;
            snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
            fd = open(path, O_PATH | O_CLOEXEC);
            if (fd < 0)
                continue;
            if (fstat(fd, &st) < 0) {
                close(fd);
                continue;
            }
            for (i = 0; i < nseen; i++)
                if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino)
                    break;
            if (i < nseen || nseen == MAX_SEEN) {
                close(fd);
                continue;
            }
            n = readlink(path, name, sizeof(name) - 1);
            name[n > 0 ? n : 0] = 0;
            seen[nseen].dev = st.st_dev;
            seen[nseen].ino = st.st_ino;
            seen[nseen].fd = fd;
            strcpy(seen[nseen].name, n > 0 ? name : "?");
            nseen++;
        }
        closedir(d);
        scans++;
    }
    for (i = 0; i < nseen; i++) {
        char path[64];
        struct statvfs sv;
        int fd, seals = -1, ro = fstatvfs(seen[i].fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", seen[i].fd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            seals = fcntl(fd, F_GET_SEALS);
            close(fd);
        }
        fd = open(path, O_WRONLY | O_CLOEXEC);
        printf("%s %lu:%lu %s %d %s\n", seen[i].name, (unsigned long)seen[i].dev, (unsigned long)seen[i].ino,
               ro ? "ro" : "rw", seals, fd >= 0 ? "writable" : strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    printf("scans %ld\n", scans);
    return 0;
}
