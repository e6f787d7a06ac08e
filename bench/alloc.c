/* alloc.c: a malloc-heavy workload, timed inside the program.
 *
 * usage: alloc THREADS OPS [marked]
 * Each thread keeps a ring of 1024 live blocks and replaces one at random
 * per operation: free, then malloc of a mixed size (mostly 16..512 bytes,
 * some to 4 KiB, a few 64 KiB), every eighth operation a realloc instead.
 * With "marked", every allocation is made inside cowguard_readonly_begin/end.
 * Prints "ns_per_op=X" (wall time of the threads' work / total operations;
 * one operation is a malloc+free pair or a realloc). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowguard.h"

#define RING 1024

static long ops_per_thread;
static int marked;

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick_size(uint64_t *s)
{
    uint64_t r = next(s) % 1000;
    if (r < 800) return 16 + next(s) % 497;
    if (r < 995) return 512 + next(s) % 3585;
    return 65536;
}

static void *work(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
    static __thread void *ring[RING];
    if (marked) cowguard_readonly_begin();
    for (int i = 0; i < RING; i++) ring[i] = malloc(pick_size(&seed));
    for (long op = 0; op < ops_per_thread; op++) {
        int i = (int)(next(&seed) % RING);
        if (op % 8 == 7) {
            void *q = realloc(ring[i], pick_size(&seed));
            if (q) ring[i] = q;
        } else {
            free(ring[i]);
            ring[i] = malloc(pick_size(&seed));
        }
        *(volatile char *)ring[i] = 1; /* touch it, as a program would */
    }
    for (int i = 0; i < RING; i++) free(ring[i]);
    if (marked) cowguard_readonly_end();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int threads = atoi(argv[1]);
    long ops = atol(argv[2]);
    marked = argc > 3 && strcmp(argv[3], "marked") == 0;
    ops_per_thread = ops / threads;
    pthread_t t[64];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, work, (void *)(uintptr_t)i);
    for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("ns_per_op=%.2f\n", ns / (double)(ops_per_thread * threads));
    return 0;
}
