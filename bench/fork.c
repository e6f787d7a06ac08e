/* fork.c: fork latency with a large heap, marked or not.
 *
 * usage: fork MEGABYTES FORKS [marked]
 * Allocates MEGABYTES (marked with cowguard_malloc when asked, else malloc),
 * touches every page, then times FORKS forks in the parent (from the call
 * to its return; the child exits at once and is reaped outside the timing).
 * Prints "us_per_fork=X" (the median). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cowguard.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    size_t size = strtoul(argv[1], NULL, 10) << 20;
    int forks = atoi(argv[2]);
    int marked = argc > 3 && strcmp(argv[3], "marked") == 0;
    unsigned char *heap = marked ? cowguard_malloc(size) : malloc(size);
    if (!heap || forks < 1 || forks > 1000) return 2;
    memset(heap, 1, size);
    double t[1000];
    for (int i = 0; i < forks; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        waitpid(pid, NULL, 0);
        t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort(t, (size_t)forks, sizeof *t, cmp);
    printf("us_per_fork=%.1f\n", t[forks / 2]);
    return 0;
}
