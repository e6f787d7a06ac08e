/* table_counters.c: the problem as programs have it, unmodified.
 *
 * The same table as lookup_table.c, and the same workers, but nothing
 * here knows of cowguard: build_table() allocates the nodes one by one,
 * make_counter() a counter after each, as real programs interleave data
 * with caches and statistics; serve() reads the nodes and counts hits in
 * the counters. Every page of the table also holds counters, so every
 * worker copies every page. docs/walkthrough.md runs it under
 * COWGUARD_WATCH=heap, which names serve() and make_counter(), then marks
 * what the report suggests.
 *
 * Each worker prints what the kernel says: of the pages holding the table
 * (nodes and counters), and of those holding nodes, how many it now maps
 * alone (/proc/self/pagemap bit 56: copied). The last line is for tests:
 *   RESULT nodes=N pages=P copied=c1,c2,... node_pages=Q node_copied=d1,d2,...
 *
 * usage: table_counters [-n NODES] [-w WORKERS] [-s SECONDS]
 *   -s  workers wait this long after their work (to watch them: cowguard top)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"

typedef struct node {
    uint64_t key;
    uint64_t value;
    char name[32];
} node_t;

typedef struct counter {
    uint64_t hits;
    uint64_t misses;
    uint64_t pad[4];
} counter_t;

static size_t n = 100000;
static node_t **nodes;
static counter_t **counters;

static __attribute__((noinline)) node_t *build_table(size_t i)
{
    node_t *nd = malloc(sizeof *nd);
    if (!nd) abort();
    nd->key = i;
    nd->value = i * 3 + 1;
    snprintf(nd->name, sizeof nd->name, "node-%zu", i);
    return nd;
}

static __attribute__((noinline)) counter_t *make_counter(void)
{
    counter_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    return c;
}

static __attribute__((noinline)) size_t serve(void)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const node_t *nd = nodes[(i * 7919) % n];
        if (nd->value == nd->key * 3 + 1) {
            ok++;
            counters[i]->hits++; /* the write that copies the page */
        } else {
            counters[i]->misses++;
        }
    }
    return ok;
}

static int cmp(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* The distinct pages of the blocks (first and last byte of each). */
static size_t pages_of(void **blocks, size_t count, size_t size, uintptr_t *out)
{
    uintptr_t mask = ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    size_t k = 0, u = 0;
    for (size_t i = 0; i < count; i++) {
        out[k++] = (uintptr_t)blocks[i] & mask;
        out[k++] = ((uintptr_t)blocks[i] + size - 1) & mask;
    }
    qsort(out, k, sizeof *out, cmp);
    for (size_t i = 0; i < k; i++)
        if (u == 0 || out[u - 1] != out[i]) out[u++] = out[i];
    return u;
}

static size_t copied_of(const uintptr_t *pages, size_t np)
{
    size_t c = 0;
    for (size_t i = 0; i < np; i++) c += (size_t)kernel_page_exclusive((const void *)pages[i]);
    return c;
}

int main(int argc, char **argv)
{
    int workers = 3;
    unsigned hold = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) hold = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc) workers = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-n NODES] [-w WORKERS] [-s SECONDS]\n", argv[0]);
            return 2;
        }
    }
    if (n < 2 || workers < 1 || workers > 64) {
        fprintf(stderr, "%s: need at least 2 nodes and 1 to 64 workers\n", argv[0]);
        return 2;
    }
    nodes = malloc(n * sizeof *nodes);
    counters = malloc(n * sizeof *counters);
    for (size_t i = 0; i < n; i++) {
        nodes[i] = build_table(i);
        counters[i] = make_counter();
    }
    /* The pages to look at, found before the fork: those holding nodes,
     * and those holding nodes or counters (the table as it lies). */
    uintptr_t *node_pages = malloc(2 * n * sizeof *node_pages), *table = malloc(4 * n * sizeof *table);
    size_t np = pages_of((void **)nodes, n, sizeof(node_t), node_pages);
    memcpy(table, node_pages, np * sizeof *table);
    size_t total = np + pages_of((void **)counters, n, sizeof(counter_t), table + np), u = 0;
    qsort(table, total, sizeof *table, cmp);
    for (size_t i = 0; i < total; i++)
        if (u == 0 || table[u - 1] != table[i]) table[u++] = table[i];
    total = u;

    int pipefd[2];
    if (pipe(pipefd) != 0) return 2;
    fflush(stdout);
    for (int w = 0; w < workers; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            close(pipefd[0]);
            size_t ok = serve() + serve() + serve();
            dprintf(pipefd[1], "%d %zu %zu %d\n", w + 1, copied_of(table, total), copied_of(node_pages, np), ok == 3 * n);
            if (hold) sleep(hold);
            _exit(ok == 3 * n ? 0 : 1);
        }
    }
    close(pipefd[1]);
    FILE *in = fdopen(pipefd[0], "r");
    char copied[1024] = "", node_copied[1024] = "";
    int id, good, all_good = 1;
    size_t c, d;
    while (fscanf(in, "%d %zu %zu %d", &id, &c, &d, &good) == 4) {
        printf("worker %d: copied %zu of the %zu pages holding the table, %zu of the %zu holding nodes\n", id, c, total,
               d, np);
        size_t len = strlen(copied), dlen = strlen(node_copied);
        snprintf(copied + len, sizeof copied - len, "%s%zu", len ? "," : "", c);
        snprintf(node_copied + dlen, sizeof node_copied - dlen, "%s%zu", dlen ? "," : "", d);
        all_good &= good;
    }
    fclose(in);
    int status, failed = 0;
    while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    printf("RESULT nodes=%zu pages=%zu copied=%s node_pages=%zu node_copied=%s ok=%d\n", n, total, copied, np,
           node_copied, all_good && !failed);
    return all_good && !failed ? 0 : 1;
}
