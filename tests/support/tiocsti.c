/* tiocsti: push text into the input of the terminal on fd 0, as if it were typed (TIOCSTI).
 *
 *   tiocsti TEXT     prints "ok" or "errno N"
 *
 * The attack a process could make on the terminal of whoever started it, were
 * its stdin that terminal: with CAP_SYS_ADMIN (or as that terminal's session)
 * the text runs in the caller's shell once the caller reads again.  The tests
 * build it static (gcc -static), as sysc.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>

int main(int argc, char **argv)
{
    const char *p;

    if (argc != 2) {
        fprintf(stderr, "usage: tiocsti TEXT\n");
        return 2;
    }
    for (p = argv[1]; *p; p++) {
        if (ioctl(0, TIOCSTI, p) < 0) {
            printf("errno %d\n", errno);
            return 1;
        }
    }
    printf("ok\n");
    return 0;
}
