/* scatter.c: a child writes scattered pages of a large frozen table, far
 * more than vm.max_map_count allows single-page mappings for.
 *
 * usage: scatter [MEGABYTES] [STRIDE]   (default 1024 MiB, every 2nd page)
 *
 * The child writes one byte in every STRIDE-th page, then checks every
 * page; it prints "child: pages=N ok" and exits 0 when all held. The
 * parent checks its own copy is untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    size_t stride = argc > 2 ? strtoul(argv[2], NULL, 10) : 2;
    size_t size = mb << 20, pages = size / 4096;
    unsigned char *t = cowguard_malloc(size);
    if (!t || stride == 0) return 2;
    for (size_t p = 0; p < pages; p++) memset(t + p * 4096, (int)(p % 251), 4096);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        size_t written = 0;
        for (size_t p = 0; p < pages; p += stride) {
            t[p * 4096 + 17] = 0xff;
            written++;
        }
        int ok = 1;
        for (size_t p = 0; p < pages; p++) {
            unsigned char want = (unsigned char)(p % 251);
            ok &= t[p * 4096] == want && t[p * 4096 + 17] == (p % stride ? want : 0xff);
        }
        printf("child: pages=%zu %s\n", written, ok ? "ok" : "BAD");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    int intact = 1;
    for (size_t p = 0; p < pages; p++) intact &= t[p * 4096 + 17] == (unsigned char)(p % 251);
    printf("parent: child %s %d, table %s\n", WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), intact ? "intact" : "CHANGED");
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && intact ? 0 : 1;
}
