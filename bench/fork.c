/* fork.c: fork latency with a large heap, marked or not.
 *
 * usage: fork MEGABYTES FORKS [marked]
 * Allocates MEGABYTES (marked with cowguard_malloc when asked, else malloc),
 * touches every page, then times FORKS forks in the parent (from the call
 * to its return; the child exits at once) and the wait for each child's
 * end (from fork's return until waitid reports it exited: what the child's
 * exit costs, cowguard's work at exit included). Prints "first_us=X" (the
 * first fork: the one that freezes the heap), "us_per_fork=X" (the median
 * of the later ones) and "reap_us=X" (the median wait). */
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
    if (!heap || forks < 2 || forks > 1000) return 2;
    memset(heap, 1, size);
    double t[1000], r[1000];
    for (int i = 0; i < forks; i++) {
        struct timespec a, b, c;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        siginfo_t info; /* wait until the child has exited, without reaping it */
        waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT);
        clock_gettime(CLOCK_MONOTONIC, &c);
        waitpid(pid, NULL, 0);
        t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
        r[i] = (c.tv_sec - b.tv_sec) * 1e6 + (c.tv_nsec - b.tv_nsec) / 1e3;
    }
    double first = t[0];
    qsort(t + 1, (size_t)forks - 1, sizeof *t, cmp);
    qsort(r, (size_t)forks, sizeof *r, cmp);
    printf("first_us=%.1f\nus_per_fork=%.1f\nreap_us=%.1f\n", first, t[1 + (forks - 1) / 2], r[forks / 2]);
    return 0;
}
