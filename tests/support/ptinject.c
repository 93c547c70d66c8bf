/* ptinject: make another process run one mkdir(2) of our choosing, through ptrace (x86_64).
 *
 *   ptinject PID PATH     prints "mkdir N" (what it returned: 0 or -errno), or "error ..."
 *
 * The attack a process with CAP_SYS_PTRACE can make on a process of its pid
 * namespace that sits in a syscall: stop it, point its registers at
 * mkdir(PATH), step its own `syscall` instruction once, then put its memory
 * and registers back, so that it goes on as if nothing happened.  The mkdir
 * runs as that process: with its credentials, and its seccomp filter if it
 * has one yet.  The tests build it static, as sysc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#define WORDS 32

int main(int argc, char **argv)
{
    struct user_regs_struct saved, regs;
    unsigned long text[WORDS] = {0}, kept[WORDS], addr, code;
    pid_t pid;
    int status, i;

    if (argc != 3 || strlen(argv[2]) >= sizeof(text)) {
        fprintf(stderr, "usage: ptinject PID PATH\n");
        return 2;
    }
    pid = atoi(argv[1]);
    memcpy(text, argv[2], strlen(argv[2]));
    if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0) {
        printf("error attach %d\n", errno);
        return 1;
    }
    if (waitpid(pid, &status, __WALL) < 0 || ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0) {
        printf("error stop %d\n", errno);
        return 1;
    }
    /* stopped in a syscall: rip is just past its two-byte `syscall` instruction (0f 05) */
    errno = 0;
    code = (unsigned long)ptrace(PTRACE_PEEKTEXT, pid, saved.rip - 2, 0);
    if (errno || (code & 0xffff) != 0x050f) {
        printf("error not in a syscall\n");
        ptrace(PTRACE_DETACH, pid, 0, 0);
        return 1;
    }
    addr = (saved.rsp - 4096) & ~7UL;     /* well below its stack pointer and red zone */
    for (i = 0; i < WORDS; i++) {
        kept[i] = (unsigned long)ptrace(PTRACE_PEEKDATA, pid, addr + 8 * i, 0);
        ptrace(PTRACE_POKEDATA, pid, addr + 8 * i, text[i]);
    }
    regs = saved;
    regs.rip = saved.rip - 2;
    regs.rax = SYS_mkdir;
    regs.orig_rax = -1;                    /* no syscall restart in between */
    regs.rdi = addr;
    regs.rsi = 0755;
    ptrace(PTRACE_SETREGS, pid, 0, &regs);
    ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
    waitpid(pid, &status, __WALL);
    ptrace(PTRACE_GETREGS, pid, 0, &regs);
    printf("mkdir %ld\n", (long)regs.rax);
    for (i = 0; i < WORDS; i++)
        ptrace(PTRACE_POKEDATA, pid, addr + 8 * i, kept[i]);
    ptrace(PTRACE_SETREGS, pid, 0, &saved);
    ptrace(PTRACE_DETACH, pid, 0, 0);
    return 0;
}
