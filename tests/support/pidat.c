/* pidat: run a command as a process with exactly the given pid (test helper, host side, root).
 *
 *   pidat PID COMMAND [ARGS...]
 *
 * clone3 with set_tid makes the child take PID (free, in our pid namespace);
 * it execs COMMAND; we wait for it and exit with its status.  The tests use
 * it to put an impostor at the pid of a container init that just died.
 */
#define _GNU_SOURCE
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    pid_t tid, pid;
    struct clone_args args;
    int status;

    if (argc < 3)
        return 2;
    tid = (pid_t)atoi(argv[1]);
    memset(&args, 0, sizeof(args));
    args.exit_signal = SIGCHLD;
    args.set_tid = (uintptr_t)&tid;
    args.set_tid_size = 1;
    pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid < 0) {
        perror("pidat: clone3");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("pidat: exec");
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
