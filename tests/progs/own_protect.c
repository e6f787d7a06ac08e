/* own_protect.c: a program protecting pages of a marked block itself: a
 * page of code (read+exec) and a guard page (no access). Freezing must
 * leave both as the program set them: after a fork the code still runs,
 * the guard page still faults into the program's own handler, and the
 * block's other pages are frozen as usual (a write to one is trapped and
 * goes on). Prints "ok" and exits 0 when all held, in parent and child. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

static sigjmp_buf back;
static volatile unsigned char *guard;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    if (si->si_addr == (void *)guard) siglongjmp(back, 1);
    signal(SIGSEGV, SIG_DFL); /* anything else: die as usual */
}

static int checks(unsigned char *b)
{
    int ok = 1;
    ((void (*)(void))b)(); /* the code page runs */
    if (sigsetjmp(back, 1) == 0) {
        (void)*guard; /* the guard page faults into our handler */
        ok = 0;
    }
    b[2 * 4096 + 5] = 'w'; /* an ordinary page of the block: frozen, trapped, goes on */
    return ok && b[2 * 4096 + 5] == 'w';
}

int main(void)
{
    unsigned char *b = NULL;
    cowguard_readonly_begin(); /* page-aligned, with or without cowguard */
    if (posix_memalign((void **)&b, 4096, 1 << 20) != 0) return 2;
    cowguard_readonly_end();
    memset(b, 0xc3, 1 << 20); /* ret */
    mprotect(b, 4096, PROT_READ | PROT_EXEC);
    guard = b + 4096;
    mprotect((void *)guard, 4096, PROT_NONE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(checks(b) ? 0 : 1);
    int st;
    waitpid(pid, &st, 0);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && checks(b);
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
