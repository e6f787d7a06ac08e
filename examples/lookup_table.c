/* lookup_table.c: the problem cowguard solves, in C.
 *
 * A program builds a read-only lookup table whose nodes are allocated one by
 * one, interleaved with small mutable counters (as real programs interleave
 * data with caches, statistics and refcounts), then forks workers that only
 * *read* the table and update their counters. With a plain malloc every
 * table page also holds counters, so every worker copies every page. Under
 * cowguard the nodes, allocated inside cowguard_readonly_begin/end, live in
 * pages of their own and stay shared.
 *
 * Each worker prints what the kernel says: how many table pages it holds
 * exclusively (/proc/self/pagemap bit 56, i.e. copied) and how much its
 * Private_Dirty grew (/proc/self/smaps_rollup). The last line is for tests:
 *   RESULT nodes=N node_pages=P copied=c1,c2,... ok=1
 *
 * usage: lookup_table [-n NODES] [-w WORKERS] [--write-node]
 *   --write-node  worker 1 also writes one node (a "read-only" violation)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"
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

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct pages that hold nodes. */
static size_t node_pages(node_t **nodes, size_t n, uintptr_t **out)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t *pages = malloc(2 * n * sizeof *pages);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        pages[k++] = (uintptr_t)nodes[i] & ~(page - 1);
        pages[k++] = ((uintptr_t)nodes[i] + sizeof(node_t) - 1) & ~(page - 1);
    }
    qsort(pages, k, sizeof *pages, cmp_ptr);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || pages[u - 1] != pages[i]) pages[u++] = pages[i];
    *out = pages;
    return u;
}

static int worker(int id, node_t **nodes, counter_t **counters, size_t n, bool write_node,
                  int report_fd)
{
    long dirty_before = kernel_rollup_kb("Private_Dirty");
    size_t ok = 0;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n; i++) {
            node_t *nd = nodes[(i * 7919) % n]; /* a lookup: read the node */
            if (nd->value == nd->key * 3 + 1) {
                ok++;
                counters[i]->hits++; /* and update this worker's statistics */
            } else {
                counters[i]->misses++;
            }
        }
    }
    if (write_node) { /* the violation: this worker renames a node, and must see its own write */
        nodes[n / 2]->name[0] = 'W';
        if (nodes[n / 2]->name[0] != 'W') ok = 0;
    }

    uintptr_t *pages;
    size_t np = node_pages(nodes, n, &pages);
    size_t copied = 0;
    for (size_t i = 0; i < np; i++) copied += (size_t)kernel_page_exclusive((void *)pages[i]);
    long dirty_after = kernel_rollup_kb("Private_Dirty");
    bool good = ok == 3 * n;
    dprintf(report_fd, "%d %zu %zu %ld %d\n", id, np, copied, dirty_after - dirty_before, good);
    return good ? 0 : 1;
}

int main(int argc, char **argv)
{
    size_t n = 20000;
    int workers = 4;
    bool write_node = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc) workers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--write-node") == 0) write_node = true;
        else {
            fprintf(stderr, "usage: %s [-n NODES] [-w WORKERS] [--write-node]\n", argv[0]);
            return 2;
        }
    }
    if (n < 2 || workers < 1 || workers > 64) {
        fprintf(stderr, "%s: need at least 2 nodes and 1 to 64 workers\n", argv[0]);
        return 2;
    }

    node_t **nodes = malloc(n * sizeof *nodes);
    counter_t **counters = malloc(n * sizeof *counters);
    for (size_t i = 0; i < n; i++) {
        cowguard_readonly_begin(); /* the table is read-only once built */
        nodes[i] = malloc(sizeof(node_t));
        cowguard_readonly_end();
        counters[i] = calloc(1, sizeof(counter_t)); /* written by every worker */
        nodes[i]->key = i;
        nodes[i]->value = i * 3 + 1;
        snprintf(nodes[i]->name, sizeof nodes[i]->name, "node-%zu", i);
    }

    int pipefd[2];
    if (pipe(pipefd) != 0) return 2;
    fflush(stdout);
    pid_t *pids = calloc((size_t)workers, sizeof *pids);
    for (int w = 0; w < workers; w++) {
        pids[w] = fork();
        if (pids[w] < 0) {
            perror("fork");
            return 2;
        }
        if (pids[w] == 0) {
            close(pipefd[0]);
            _exit(worker(w + 1, nodes, counters, n, write_node && w == 0, pipefd[1]));
        }
    }
    close(pipefd[1]);

    /* Results arrive while every process is still alive; read them all,
     * then reap. */
    FILE *in = fdopen(pipefd[0], "r");
    char copied_list[1024] = "";
    size_t total_pages = 0;
    int all_good = 1, lines = 0, id, good;
    size_t np, copied;
    long dirty;
    printf("%-7s %-10s %-28s %s\n", "worker", "node pages", "copied (pagemap bit 56)",
           "Private_Dirty growth (smaps_rollup)");
    while (fscanf(in, "%d %zu %zu %ld %d", &id, &np, &copied, &dirty, &good) == 5) {
        printf("%-7d %-10zu %-28zu %ld kB%s\n", id, np, copied, dirty, good ? "" : "  LOOKUPS FAILED");
        size_t len = strlen(copied_list);
        snprintf(copied_list + len, sizeof copied_list - len, "%s%zu", len ? "," : "", copied);
        total_pages = np;
        all_good &= good;
        lines++;
    }
    fclose(in);
    for (int w = 0; w < workers; w++) {
        int st;
        waitpid(pids[w], &st, 0);
        if (WIFSIGNALED(st)) {
            printf("worker %d was killed by signal %d\n", w + 1, WTERMSIG(st));
            all_good = 0;
        } else if (WEXITSTATUS(st) != 0) {
            all_good = 0;
        }
    }
    /* The parent's view of the table must be unchanged. */
    for (size_t i = 0; i < n; i++)
        if (nodes[i]->key != i || nodes[i]->value != i * 3 + 1 || nodes[i]->name[0] != 'n') all_good = 0;
    all_good &= lines == workers;
    printf("RESULT nodes=%zu node_pages=%zu copied=%s ok=%d\n", n, total_pages, copied_list, all_good);
    return all_good ? 0 : 1;
}
