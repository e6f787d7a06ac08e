/* churn.c: the allocation patterns mimalloc-bench found costly, timed
 * inside the program.
 *
 * usage: churn PATTERN THREADS OPS
 *   server  a larson-style server: THREADS threads replace random slots of
 *           one shared table of 8192 blocks (16..1024 bytes), each slot
 *           under its own lock, so most blocks are freed by another thread
 *           than the one that allocated them
 *   thread  glibc-thread style: each thread replaces random slots of its own
 *           table of 4096 blocks (16..512 bytes)
 *   large   blocks of 5..25 MiB, filled, up to 20 live, replaced at random
 *           (mimalloc-bench's malloc-large); THREADS is ignored
 *   append  a buffer grown 16 bytes at a time with realloc, OPS times, with
 *           a small block allocated between appends; THREADS is ignored
 * Every block is touched. Prints "ns_per_op=X" (wall time / operations). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERVER_SLOTS 8192
#define THREAD_SLOTS 4096
#define LARGE_SLOTS 20

static long ops_per_thread;

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static struct {
    pthread_mutex_t lock;
    char *block;
} table[SERVER_SLOTS];

static void *server(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
    for (long op = 0; op < ops_per_thread; op++) {
        size_t i = next(&seed) % SERVER_SLOTS, size = 16 + next(&seed) % 1009;
        char *fresh = malloc(size);
        if (!fresh) abort();
        fresh[0] = fresh[size - 1] = 1;
        pthread_mutex_lock(&table[i].lock);
        char *old = table[i].block;
        table[i].block = fresh;
        pthread_mutex_unlock(&table[i].lock);
        free(old);
    }
    return NULL;
}

static void *thread(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
    char **mine = calloc(THREAD_SLOTS, sizeof *mine);
    if (!mine) abort();
    for (long op = 0; op < ops_per_thread; op++) {
        size_t i = next(&seed) % THREAD_SLOTS, size = 16 + next(&seed) % 497;
        free(mine[i]);
        if (!(mine[i] = malloc(size))) abort();
        mine[i][0] = 1;
    }
    for (size_t i = 0; i < THREAD_SLOTS; i++) free(mine[i]);
    free(mine);
    return NULL;
}

static void large(long ops)
{
    uint64_t seed = 42;
    char *live[LARGE_SLOTS] = { 0 };
    for (long op = 0; op < ops; op++) {
        size_t i = next(&seed) % LARGE_SLOTS, size = (5 << 20) + next(&seed) % (20 << 20);
        free(live[i]);
        if (!(live[i] = malloc(size))) abort();
        memset(live[i], 1, size); /* not 0: the compiler would make malloc and memset a calloc */
        __asm__ volatile("" : : "r"(live[i]) : "memory");
    }
    for (size_t i = 0; i < LARGE_SLOTS; i++) free(live[i]);
}

static void append(long ops)
{
    char *buf = NULL, *other[64] = { 0 };
    size_t len = 0;
    for (long op = 0; op < ops; op++) {
        char *grown = realloc(buf, len + 16);
        if (!grown) abort();
        buf = grown;
        memset(buf + len, (int)(op & 0x7f), 16);
        len += 16;
        free(other[op % 64]);
        if (!(other[op % 64] = malloc(48))) abort();
    }
    for (size_t i = 0; i < len; i += 16)
        if (buf[i] != (char)((i / 16) & 0x7f)) abort();
    free(buf);
    for (int i = 0; i < 64; i++) free(other[i]);
}

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    const char *pattern = argv[1];
    int threads = atoi(argv[2]);
    long ops = atol(argv[3]);
    if (threads < 1 || threads > 64 || ops < 1) return 2;
    for (int i = 0; i < SERVER_SLOTS; i++) pthread_mutex_init(&table[i].lock, NULL);
    void *(*body)(void *) = strcmp(pattern, "server") == 0 ? server : strcmp(pattern, "thread") == 0 ? thread : NULL;
    if (!body && strcmp(pattern, "large") != 0 && strcmp(pattern, "append") != 0) return 2;
    ops_per_thread = ops / threads;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (body) {
        pthread_t t[64];
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, body, (void *)(uintptr_t)i);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        ops = ops_per_thread * threads;
    } else if (pattern[0] == 'l') {
        large(ops);
    } else {
        append(ops);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (int i = 0; i < SERVER_SLOTS; i++) free(table[i].block);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("ns_per_op=%.2f\n", ns / (double)ops);
    return 0;
}
