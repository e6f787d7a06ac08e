/* fault.c: the cost of the first write to a page shared with a child.
 *
 * usage: fault PAGES seq|random [marked]
 * Allocates PAGES pages (marked when asked: frozen at the fork, so the
 * write traps; else a plain copy-on-write fault), touches them, forks; the
 * child writes one byte in each page, in order or shuffled, and times it.
 * Prints "ns_per_page=X". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cowguard.h"

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    size_t pages = strtoul(argv[1], NULL, 10);
    int shuffled = strcmp(argv[2], "random") == 0;
    int marked = argc > 3 && strcmp(argv[3], "marked") == 0;
    size_t size = pages * 4096;
    unsigned char *heap = marked ? cowguard_malloc(size) : aligned_alloc(4096, size);
    size_t *order = malloc(pages * sizeof *order);
    if (!heap || !order) return 2;
    memset(heap, 1, size);
    for (size_t i = 0; i < pages; i++) order[i] = i;
    uint64_t s = 88172645463325252ULL;
    for (size_t i = pages - 1; shuffled && i > 0; i--) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t j = s % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int fds[2];
    if (pipe(fds) != 0) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (size_t i = 0; i < pages; i++) heap[order[i] * 4096 + 8] = 2;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
        dprintf(fds[1], "ns_per_page=%.1f\n", ns / (double)pages);
        _exit(0);
    }
    close(fds[1]);
    char buf[64] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    waitpid(pid, NULL, 0); /* the parent holds its pages until the child is done */
    if (n > 0) fputs(buf, stdout);
    return n > 0 ? 0 : 1;
}
