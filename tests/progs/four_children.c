/* four_children.c: four children write 10, 20, 30 and 40 distinct frozen
 * pages of a marked table, then leave by exit, _exit, SIGKILL and SIGTERM.
 * The first two print what the kernel says about their own memory:
 *   child N: pages=P private_dirty_growth_kb=K
 * The parent reaps all four and prints their statuses. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"
#include "../../examples/kernel.h"

#define PAGES 256

int main(void)
{
    unsigned char *t = cowguard_malloc(PAGES * 4096);
    memset(t, 1, PAGES * 4096);
    pid_t pids[4];
    for (int k = 0; k < 4; k++) {
        fflush(stdout);
        pids[k] = fork();
        if (pids[k] != 0) continue;
        int n = 10 * (k + 1);
        long before = kernel_rollup_kb("Private_Dirty");
        for (int p = 0; p < n; p++) t[(size_t)(p * 6 + k) * 4096 + 7] = 2; /* distinct pages */
        long after = kernel_rollup_kb("Private_Dirty");
        if (k < 2) {
            printf("child %d: pages=%d private_dirty_growth_kb=%ld\n", (int)getpid(), n, after - before);
            fflush(stdout);
        }
        switch (k) {
        case 0: exit(0);
        case 1: _exit(0);
        case 2: raise(SIGKILL); break;
        default: raise(SIGTERM); break;
        }
        _exit(3);
    }
    for (int k = 0; k < 4; k++) {
        int st;
        waitpid(pids[k], &st, 0);
        printf("reaped %d: %s %d\n", (int)pids[k], WIFSIGNALED(st) ? "signal" : "exit",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    return 0;
}
