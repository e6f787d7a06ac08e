/* alloc_edges.c: the allocator's contract under cowguard.
 *
 * usage: alloc_edges MODE
 *   double-free SIZE   a marked block of SIZE bytes freed twice: must abort
 *                      (the second free never returns); prints the block first
 *   double-free-thread a small marked block freed by two threads, one after
 *                      the other: must abort
 *   interior           free of a pointer inside a marked block: must abort
 *   fork-race          threads free and allocate marked blocks while the main
 *                      thread forks 200 times; after each fork, no block
 *                      malloc hands out in the parent is frozen
 *   errno              successful calls leave errno alone: the first marked
 *                      malloc (which sets up the arena and takes a stack),
 *                      calloc, realloc, free, read, stat
 *   aligned            aligned_alloc, memalign and posix_memalign with
 *                      alignments that are not powers of two, marked and
 *                      not: prints what each returned (compared with a plain run)
 *   small-stacks       8 threads with 64 KiB stacks allocate and free marked
 *                      blocks, and so does a destructor of theirs that runs
 *                      after cowguard's own (its thread cache is gone then)
 * Prints "ok" (or the values) and exits 0 when all held. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cowguard.h"

static void *marked(size_t n)
{
    cowguard_readonly_begin();
    void *p = malloc(n);
    cowguard_readonly_end();
    return p;
}

static int mode_double_free(size_t size)
{
    void *keep = marked(size); /* its neighbour, so the slab stays */
    void *p = marked(size);
    printf("block %p\n", p);
    fflush(stdout);
    free(p);
    free(p);
    printf("second free returned\n");
    free(keep);
    return 1;
}

static void *victim;
static void *free_it(void *arg)
{
    free(victim);
    return NULL;
}

static int mode_double_free_thread(void)
{
    void *keep = marked(48);
    victim = marked(48);
    printf("block %p\n", victim);
    fflush(stdout);
    pthread_t t;
    pthread_create(&t, NULL, free_it, NULL);
    pthread_join(t, NULL);
    free(victim); /* the other thread's cache has it */
    printf("second free returned\n");
    free(keep);
    return 1;
}

static int mode_interior(void)
{
    char *p = marked(1000);
    printf("block %p\n", (void *)(p + 16));
    fflush(stdout);
    free(p + 16);
    printf("free returned\n");
    return 1;
}

static atomic_int stop;

static void *churn(void *arg)
{
    void *held[64] = { 0 };
    unsigned r = (unsigned)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        r = r * 1103515245 + 12345;
        int i = (int)(r >> 16) % 64;
        free(held[i]);
        held[i] = marked(16 + (r >> 8) % 2000);
    }
    for (int i = 0; i < 64; i++) free(held[i]);
    return NULL;
}

static int mode_fork_race(void)
{
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, (void *)(i + 1));
    int bad = 0;
    for (int k = 0; k < 200; k++) {
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        /* Whatever the caches held across the fork, no frozen block is
         * handed out afterwards. */
        for (int i = 0; i < 200; i++) {
            void *p = marked(16 + (i * 37) % 2000);
            if (cowguard_active() && cowguard_is_frozen(p)) bad++;
            free(p);
        }
        waitpid(pid, NULL, 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    CHECK(bad == 0);
    if (bad) printf("%d frozen blocks handed out\n", bad);
    return 0;
}

static int mode_errno(void)
{
    errno = 4242;
    void *p = marked(100);
    CHECK(p && errno == 4242);
    errno = 4242;
    void *q = marked(20000);
    CHECK(q && errno == 4242);
    errno = 4242;
    cowguard_readonly_begin();
    void *c = calloc(10, 100);
    p = realloc(p, 5000);
    cowguard_readonly_end();
    CHECK(c && p && errno == 4242);
    errno = 4242;
    free(p);
    free(q);
    free(c);
    CHECK(errno == 4242);
    int fd[2];
    CHECK(pipe(fd) == 0 && write(fd[1], "abc", 3) == 3);
    char *buf = marked(4096);
    errno = 4242;
    CHECK(read(fd[0], buf, 3) == 3 && errno == 4242);
    struct stat *st = marked(sizeof *st);
    errno = 4242;
    CHECK(stat("/", st) == 0 && errno == 4242);
    return 0;
}

static void show(const char *what, void *p, int e)
{
    printf("%s: %s errno=%d\n", what, p ? "memory" : "NULL", p ? 0 : e);
    free(p);
}

static int mode_aligned(void)
{
    static const size_t aligns[] = { 24, 48, 100, 4097 };
    for (int marking = 0; marking < 2; marking++) {
        for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
            char what[64];
            if (marking) cowguard_readonly_begin();
            errno = 0;
            void *p = aligned_alloc(aligns[i], 256);
            int e = errno;
            errno = 0;
            void *m = memalign(aligns[i], 256);
            int em = errno;
            void *pm = NULL;
            int r = posix_memalign(&pm, aligns[i], 256);
            if (marking) cowguard_readonly_end();
            snprintf(what, sizeof what, "aligned_alloc(%zu)", aligns[i]);
            show(what, p, e);
            snprintf(what, sizeof what, "memalign(%zu)", aligns[i]);
            show(what, m, em);
            printf("posix_memalign(%zu): %d\n", aligns[i], r);
            if (r == 0) free(pm);
        }
    }
    return 0;
}

static pthread_key_t late_key;

static void late_destructor(void *arg)
{
    for (int i = 0; i < 1000; i++) {
        char *p = marked(16 + (size_t)i % 200);
        CHECK(p != NULL);
        if (p) p[0] = 1;
        free(p);
    }
}

static void *small_stack_thread(void *arg)
{
    void *keep[64];
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 64; i++) CHECK((keep[i] = marked(16 + (size_t)(i * 37 % 500))) != NULL);
        for (int i = 0; i < 64; i++) free(keep[i]);
    }
    pthread_setspecific(late_key, (void *)1); /* created after cowguard's key: its destructor runs later */
    return NULL;
}

static int mode_small_stacks(void)
{
    pthread_key_create(&late_key, late_destructor);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        int e = pthread_create(&t[i], &attr, small_stack_thread, NULL);
        if (e) {
            fprintf(stderr, "pthread_create with a 64 KiB stack: %s\n", strerror(e));
            return 1;
        }
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *m = argv[1];
    int r = 2;
    if (strcmp(m, "double-free") == 0 && argc > 2) return mode_double_free(strtoul(argv[2], NULL, 0));
    if (strcmp(m, "double-free-thread") == 0) return mode_double_free_thread();
    if (strcmp(m, "interior") == 0) return mode_interior();
    if (strcmp(m, "fork-race") == 0) r = mode_fork_race();
    else if (strcmp(m, "errno") == 0) r = mode_errno();
    else if (strcmp(m, "aligned") == 0) r = mode_aligned();
    else if (strcmp(m, "small-stacks") == 0) r = mode_small_stacks();
    if (r != 0) return r;
    printf("%s\n", failures ? "BAD" : "ok");
    return failures ? 1 : 0;
}
