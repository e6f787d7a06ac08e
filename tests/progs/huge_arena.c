/* huge_arena.c: what backs marked data. Allocates 64 MiB with
 * cowguard_malloc, fills it, and prints the AnonHugePages of the mapping
 * that holds it (/proc/self/smaps); then a child writes one byte in each
 * of 100 pages spread over it, and the parent checks every byte. Prints
 * "huge_kb=N". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

static long huge_kb_of(uintptr_t p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
            if (inside) break;
            inside = p >= lo && p < hi;
            continue;
        }
        long v;
        if (inside && sscanf(line, "AnonHugePages: %ld kB", &v) == 1) kb = v;
    }
    if (f) fclose(f);
    return kb;
}

int main(void)
{
    size_t size = 64 << 20;
    unsigned char *p = cowguard_malloc(size);
    if (!p) return 2;
    memset(p, 7, size);
    printf("huge_kb=%ld\n", huge_kb_of((uintptr_t)p + size / 2));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        for (int i = 0; i < 100; i++) p[(size / 100) * i] = 9;
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 3;
    for (size_t i = 0; i < size; i++)
        if (p[i] != 7) return 4;
    return 0;
}
