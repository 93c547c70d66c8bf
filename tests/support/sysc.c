/* sysc: make one raw syscall from inside a test container and print what it returned.
 *
 *   sysc NR [ARG...]     prints "ok RESULT" or "errno N"
 *
 * Numbers are decimal or 0x-hex.  The tests build it static (gcc -static)
 * so that seccomp argument filters can be driven with exact values, which
 * busybox applets cannot do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long a[6] = {0, 0, 0, 0, 0, 0}, nr, r;
    int i;

    if (argc < 2 || argc > 8) {
        fprintf(stderr, "usage: sysc NR [ARG...]\n");
        return 2;
    }
    nr = strtol(argv[1], NULL, 0);
    for (i = 2; i < argc; i++)
        a[i - 2] = (long)strtoull(argv[i], NULL, 0);
    errno = 0;
    r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (r == -1 && errno)
        printf("errno %d\n", errno);
    else
        printf("ok %ld\n", r);
    return 0;
}
