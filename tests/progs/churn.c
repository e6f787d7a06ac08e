/* churn.c: allocate, fork, free, many times over, with the parent's view
 * frozen (COWGUARD_FREEZE_PARENT=1, the default): blocks freed while frozen
 * must be reclaimed, not kept until a thaw that never comes.
 *
 * usage: churn [ROUNDS]   (default 1000)
 * Each round: a 1 MiB marked block and 64 small marked ones, a fork whose
 * child checks them and leaves, then all of them freed. Prints
 *   arena_kb=A rss_kb=R ok
 * (A: arena pages in use, from cowguard_stats; R: VmRSS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1000;
    int ok = 1;
    for (int r = 0; r < rounds; r++) {
        unsigned char *big = cowguard_malloc(1 << 20);
        unsigned char *small[64];
        memset(big, r, 1 << 20);
        for (int i = 0; i < 64; i++) {
            small[i] = cowguard_malloc(100 + (size_t)i * 40);
            memset(small[i], i, 100);
        }
        pid_t pid = fork();
        if (pid == 0) _exit(big[12345] == (unsigned char)r && small[63][99] == 63 ? 0 : 1);
        int st;
        waitpid(pid, &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
        cowguard_free(big);
        for (int i = 0; i < 64; i++) cowguard_free(small[i]);
    }
    cowguard_stats_t s = { .size = sizeof s };
    unsigned long long arena = cowguard_stats(&s) == 0 ? s.arena_bytes : 0;
    printf("arena_kb=%llu rss_kb=%ld %s\n", arena / 1024, rss_kb(), ok ? "ok" : "BAD");
    return ok ? 0 : 1;
}
