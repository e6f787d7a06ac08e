/* large_reuse.c: large blocks freed and allocated again, as a program that
 * churns buffers of megabytes does. Prints, from the kernel's counts:
 *   first_faults=N   minor faults taken by a first malloc, fill and free
 *                    of a 16 MiB block (4,096 pages, or 8 huge pages)
 *   churn_faults=N   ... by 40 rounds more of the same
 *   kept_mb=N        anonymous memory still resident after eight 16 MiB
 *                    blocks were filled and all freed, over what it was
 *                    before them
 * and checks that calloc of a reused block reads as zeros.
 *
 * usage: large_reuse   (run with COWGUARD_MIN_SIZE=1M) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MB (1024 * 1024)

/* The compiler may drop a malloc, memset and free it can see through. */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static long faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static long anon_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Anonymous: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

/* Minor faults taken by rounds of malloc, fill and free of size bytes;
 * -1 when malloc fails. */
static long churn(size_t size, int rounds)
{
    long before = faults();
    for (int i = 0; i < rounds; i++) {
        char *p = malloc(size);
        if (!p) return -1;
        memset(p, 0xa5, size);
        KEEP(p);
        free(p);
    }
    return faults() - before;
}

int main(void)
{
    size_t size = 16 * MB;
    long first = churn(size, 1), more = churn(size, 40);
    if (first < 0 || more < 0) return 2;
    printf("first_faults=%ld\nchurn_faults=%ld\n", first, more);

    for (int i = 0; i < 4; i++) { /* a reused block, dirty before, must read as zeros */
        unsigned char *q = calloc(1, size);
        if (!q) return 2;
        for (size_t k = 0; k < size; k += 997)
            if (q[k]) {
                fprintf(stderr, "calloc: byte %zu is %u\n", k, q[k]);
                return 1;
            }
        memset(q, 0x5a, size);
        KEEP(q);
        free(q);
    }

    long base = anon_kb();
    char *b[8];
    for (int i = 0; i < 8; i++) {
        if (!(b[i] = malloc(size + (size_t)i * 4096))) return 2;
        memset(b[i], 0x3c, size);
        KEEP(b[i]);
    }
    for (int i = 0; i < 8; i++) free(b[i]);
    printf("kept_mb=%ld\n", (anon_kb() - base) / 1024);
    return 0;
}
