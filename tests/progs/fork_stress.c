/* fork_stress.c: forks while other threads allocate.
 *
 * usage: fork_stress [FORKS]   (default 200)
 *
 * Three threads allocate, fill, check and free marked (cowguard_malloc, and
 * malloc inside a region) and unmarked blocks without pause. The main thread
 * forks FORKS times, keeping up to four children alive. Each child checks a
 * 4 MiB marked table, writes to a few of its frozen pages, allocates marked
 * and unmarked memory itself (which deadlocks if a lock was inherited held)
 * and exits 0 only if every check held; every fifth child is killed with
 * SIGKILL by the parent as soon as it exists, wherever it is. Prints
 *   forks=N killed=K failed=F corrupt=C
 * and exits 0 when F and C are 0. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

#define TABLE_SIZE (4u << 20)
#define RING 64

static atomic_int stop;
static atomic_long corrupt;
static unsigned char *table;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned char tag;
} block_t;

static int check_block(const block_t *b)
{
    for (size_t i = 0; i < b->n; i += 61)
        if (b->p[i] != b->tag) return 0;
    return b->p[b->n - 1] == b->tag;
}

static void *churn(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL * (uintptr_t)arg + 1;
    block_t ring[RING] = { { 0 } };
    unsigned char tag = (unsigned char)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        int i = (int)(next_rand(&seed) % RING);
        if (ring[i].p) {
            if (!check_block(&ring[i])) atomic_fetch_add(&corrupt, 1);
            free(ring[i].p); /* free() takes marked and unmarked blocks alike */
        }
        size_t n = 16 + next_rand(&seed) % (next_rand(&seed) % 8 == 0 ? 65536 : 512);
        switch (next_rand(&seed) % 3) {
        case 0: ring[i].p = cowguard_malloc(n); break;
        case 1:
            cowguard_readonly_begin();
            ring[i].p = malloc(n);
            cowguard_readonly_end();
            break;
        default: ring[i].p = malloc(n); break;
        }
        if (!ring[i].p) {
            atomic_fetch_add(&corrupt, 1);
            continue;
        }
        ring[i].n = n;
        ring[i].tag = ++tag;
        memset(ring[i].p, ring[i].tag, n);
    }
    for (int i = 0; i < RING; i++)
        if (ring[i].p) {
            if (!check_block(&ring[i])) atomic_fetch_add(&corrupt, 1);
            free(ring[i].p);
        }
    return NULL;
}

static int child(int k)
{
    uint64_t seed = (uint64_t)k * 2654435761u + 3;
    for (size_t i = 0; i < TABLE_SIZE; i += 4093)
        if (table[i] != (unsigned char)(i / 4093)) return 1;
    for (int w = 0; w < 4; w++) { /* frozen pages: trapped under report */
        size_t at = next_rand(&seed) % TABLE_SIZE;
        table[at] = 0xee;
        if (table[at] != 0xee) return 1;
    }
    for (int i = 0; i < 100; i++) {
        char *a = cowguard_malloc(100 + (size_t)i * 10);
        char *b = malloc(100 + (size_t)i * 10);
        if (!a || !b) return 1;
        memset(a, 'a', 100);
        memset(b, 'b', 100);
        if (a[99] != 'a' || b[99] != 'b') return 1;
        cowguard_free(a);
        free(b);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    table = cowguard_malloc(TABLE_SIZE);
    if (!table) return 2;
    for (size_t i = 0; i < TABLE_SIZE; i++) table[i] = (unsigned char)(i / 4093);

    pthread_t th[3];
    for (uintptr_t t = 0; t < 3; t++) pthread_create(&th[t], NULL, churn, (void *)(t + 1));

    int failed = 0, live = 0, killed = 0;
    pid_t pids[4] = { 0 };
    int doomed[4] = { 0 };
    for (int k = 0; k < forks; k++) {
        if (live == 4) { /* reap the oldest to keep four alive */
            int st;
            waitpid(pids[k % 4], &st, 0);
            if (doomed[k % 4] ? !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL
                              : !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                failed++;
            live--;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            failed++;
            continue;
        }
        if (pid == 0) {
            int r = child(k);
            if (k % 5 == 0)
                for (;;) pause(); /* doomed: its parent kills it, now or mid-work */
            _exit(r);
        }
        pids[k % 4] = pid;
        doomed[k % 4] = k % 5 == 0;
        if (doomed[k % 4]) {
            kill(pid, SIGKILL);
            killed++;
        }
        live++;
    }
    for (int k = forks; live > 0; k++, live--) {
        int st;
        waitpid(pids[k % 4], &st, 0);
        if (doomed[k % 4] ? !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL : !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    for (size_t i = 0; i < TABLE_SIZE; i += 4093)
        if (table[i] != (unsigned char)(i / 4093)) atomic_fetch_add(&corrupt, 1);
    long c = atomic_load(&corrupt);
    printf("forks=%d killed=%d failed=%d corrupt=%ld\n", forks, killed, failed, c);
    return failed == 0 && c == 0 ? 0 : 1;
}
