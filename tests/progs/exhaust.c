/* exhaust.c: marked allocations when cowguard runs short of something.
 * Makes 48 marked 1 MiB blocks (cowguard_malloc and malloc in a region),
 * grows half of them to 2 MiB with realloc, forks a child that checks all
 * of them (and with "write", writes each), then frees them all with free().
 * Prints "marked=N ok" (N: blocks cowguard holds, from cowguard_stats) and
 * exits 0 when every check held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

#define N 48
#define MB (1 << 20)

static int intact(unsigned char *b, size_t n, int k)
{
    for (size_t i = 0; i < n; i += 4096)
        if (b[i] != (unsigned char)k) return 0;
    return b[n - 1] == (unsigned char)k;
}

int main(int argc, char **argv)
{
    int write_child = argc > 1 && strcmp(argv[1], "write") == 0;
    unsigned char *b[N];
    size_t size[N];
    for (int k = 0; k < N; k++) {
        if (k % 2) {
            b[k] = cowguard_malloc(MB);
        } else {
            cowguard_readonly_begin();
            b[k] = malloc(MB);
            cowguard_readonly_end();
        }
        if (!b[k]) return 2;
        size[k] = MB;
        memset(b[k], k, MB);
    }
    for (int k = 0; k < N; k += 2) {
        cowguard_readonly_begin();
        unsigned char *grown = realloc(b[k], 2 * MB);
        cowguard_readonly_end();
        if (!grown) return 2;
        memset(grown + MB, k, MB);
        b[k] = grown;
        size[k] = 2 * MB;
    }
    cowguard_stats_t s = { .size = sizeof s };
    unsigned long long marked = cowguard_stats(&s) == 0 ? s.marked_blocks : 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = 1;
        for (int k = 0; k < N; k++) {
            ok &= intact(b[k], size[k], k);
            if (write_child) b[k][100] = (unsigned char)k; /* same value: still a write */
        }
        _exit(ok ? 0 : 1);
    }
    int st, ok = 1;
    waitpid(pid, &st, 0);
    ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    for (int k = 0; k < N; k++) {
        ok &= intact(b[k], size[k], k);
        free(b[k]);
    }
    printf("marked=%llu %s\n", marked, ok ? "ok" : "BAD");
    return ok ? 0 : 1;
}
