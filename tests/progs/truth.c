/* truth.c: processes that copy frozen pages and measure, themselves, what
 * the kernel says they copied, for the report to be compared with.
 *
 * The truth: as root, a page this process copied is one whose page frame
 * number (pagemap bits 0-54) changed since the fork; without root (frame
 * numbers read as 0), a page is copied if the kernel shows it exclusively
 * mapped (pagemap bit 56) while the process it was forked from still maps
 * it, which every mode below arranges. Each measuring process prints
 * "TRUTH pid=P copied=N" just before it leaves.
 *
 * usage: truth MODE [ARG] [EXIT]
 *   scatter K EXIT   a child writes K pages scattered over a 256 MiB frozen
 *                    table (past the mapping budget for large K), then leaves
 *                    by EXIT: exit, _exit, term (the parent sends SIGTERM),
 *                    kill (SIGKILL)
 *   outlive K        the same child, but the root exits first
 *   threads          eight threads of a child write the same eight pages at once
 *   kernel BYTES     a child read()s BYTES into a frozen 1 MiB buffer, then is
 *                    killed by SIGKILL (the pipe holds exactly BYTES)
 *   parent N         the root (under COWGUARD_FREEZE_PARENT=0) writes N pages
 *                    while its child still shares them
 *   grandchild N     a child writes N pages, forks a grandchild, and leaves
 *                    first; the grandchild leaves later
 *   atexit N         a child writes N pages while it works, then calls exit(),
 *                    and its atexit handler writes 2N more: it prints
 *                    "TEARDOWN pid=P work=W exit=E", the kernel's counts of each
 * Exits 0 when the processes ran as planned. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

#define PAGE 4096UL
#define PFN_MASK ((1ULL << 55) - 1)
#define PRESENT (1ULL << 63)
#define EXCLUSIVE (1ULL << 56)

static unsigned char *table;
static size_t table_pages;
static uint64_t *at_fork; /* pagemap entries of the table, read right after the fork */

static void read_pagemap(uint64_t *out)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0 || pread(fd, out, table_pages * 8, (off_t)((uintptr_t)table / PAGE * 8)) != (ssize_t)(table_pages * 8))
        memset(out, 0, table_pages * 8);
    if (fd >= 0) close(fd);
}

/* Right after a fork, in the process that will be measured. */
static void snapshot(void)
{
    read_pagemap(at_fork);
}

/* Pages of the table this process copied since its snapshot, and those it
 * still shares (resident, mapped by another process too). */
static void measure(size_t *copied, size_t *shared)
{
    uint64_t *now = malloc(table_pages * 8);
    read_pagemap(now);
    *copied = *shared = 0;
    for (size_t i = 0; i < table_pages; i++) {
        if (!(now[i] & PRESENT)) continue;
        *shared += !(now[i] & EXCLUSIVE);
        uint64_t before = at_fork[i] & PFN_MASK, after = now[i] & PFN_MASK;
        if (after) *copied += (at_fork[i] & PRESENT) && before != after; /* root: frame numbers */
        else *copied += (now[i] & EXCLUSIVE) != 0;                      /* the origin still maps it */
    }
    free(now);
}

static void truth(void)
{
    size_t c, sh;
    measure(&c, &sh);
    printf("TRUTH pid=%d copied=%zu shared=%zu\n", (int)getpid(), c, sh);
    fflush(stdout);
}

static void setup(size_t pages)
{
    table_pages = pages;
    table = cowguard_malloc(pages * PAGE);
    memset(table, 'p', pages * PAGE);
    at_fork = malloc(pages * 8);
}

static void write_scattered(size_t k)
{
    for (size_t i = 0; i < k; i++) table[(i * table_pages / k) * PAGE + i % PAGE] = 'w';
}

static int wait_child(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    printf("child %d: %s %d\n", (int)pid, WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return st;
}

/* The child signals "done writing and measured" through a pipe. */
static int ready[2];

static void leave(const char *how)
{
    if (strcmp(how, "exit") == 0) exit(0);
    if (strcmp(how, "_exit") == 0) _exit(0);
    char c = 'r';
    write(ready[1], &c, 1);
    for (;;) pause(); /* the parent kills it */
}

static int mode_scatter(size_t k, const char *how, int outlive)
{
    setup(65536); /* 256 MiB */
    int root_alive[2];
    if (pipe(ready) != 0 || pipe(root_alive) != 0) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        snapshot();
        if (outlive) { /* end of file once the root has left (frame numbers tell the truth then) */
            char c;
            close(root_alive[1]);
            while (read(root_alive[0], &c, 1) > 0) {}
        }
        write_scattered(k);
        truth();
        leave(how);
    }
    if (outlive) return 0; /* the root leaves at once */
    if (strcmp(how, "term") == 0 || strcmp(how, "kill") == 0) {
        char c;
        if (read(ready[0], &c, 1) != 1) return 1;
        kill(pid, strcmp(how, "term") == 0 ? SIGTERM : SIGKILL);
    }
    return wait_child(pid) < 0;
}

static pthread_barrier_t barrier;

static void *hammer(void *arg)
{
    pthread_barrier_wait(&barrier);
    for (int p = 0; p < 8; p++) table[p * 7 * PAGE + (uintptr_t)arg] = 'w';
    return NULL;
}

static int mode_threads(void)
{
    setup(1024);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        snapshot();
        pthread_t t[8];
        pthread_barrier_init(&barrier, NULL, 8);
        for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, hammer, (void *)i);
        for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
        truth();
        _exit(0);
    }
    return wait_child(pid) < 0;
}

static int mode_kernel(size_t bytes)
{
    setup(256); /* the 1 MiB buffer */
    int data[2];
    if (pipe(data) != 0 || pipe(ready) != 0) return 2;
    char *src = malloc(bytes);
    memset(src, 'k', bytes);
    if (write(data[1], src, bytes) != (ssize_t)bytes) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        snapshot();
        ssize_t n = read(data[0], table, table_pages * PAGE);
        printf("read %zd\n", n);
        truth();
        leave("kill");
    }
    char c;
    if (read(ready[0], &c, 1) != 1) return 1;
    kill(pid, SIGKILL);
    return wait_child(pid) < 0;
}

static int mode_parent(size_t n)
{
    setup(1024);
    if (pipe(ready) != 0) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        read(ready[0], &c, 1); /* shares the table until the root has measured */
        _exit(0);
    }
    snapshot();
    for (size_t i = 0; i < n; i++) table[i * 13 * PAGE] = 'r';
    truth();
    char c = 'g';
    write(ready[1], &c, 1);
    return wait_child(pid) < 0;
}

static int mode_grandchild(size_t n)
{
    setup(1024);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        snapshot();
        for (size_t i = 0; i < n; i++) table[i * 9 * PAGE] = 'c';
        truth(); /* the child's copies, measured while the root still shares the pages */
        fflush(stdout);
        pid_t g = fork();
        if (g == 0) {
            usleep(300 * 1000); /* outlives the child, holding its copies */
            _exit(0);
        }
        _exit(0);
    }
    wait_child(pid);
    usleep(600 * 1000); /* the grandchild leaves */
    return 0;
}

static size_t teardown_pages;

static size_t work_copied;

static void teardown(void)
{
    for (size_t i = 0; i < teardown_pages; i++) table[(512 + i * 3) * PAGE] = 't';
    size_t all, shared;
    measure(&all, &shared);
    printf("TEARDOWN pid=%d work=%zu exit=%zu\n", (int)getpid(), work_copied, all - work_copied);
    fflush(stdout);
}

static int mode_atexit(size_t n)
{
    setup(1024);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        snapshot();
        teardown_pages = 2 * n;
        atexit(teardown);
        for (size_t i = 0; i < n; i++) table[i * 5 * PAGE] = 'c';
        size_t shared;
        measure(&work_copied, &shared);
        exit(0);
    }
    return wait_child(pid) < 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *m = argv[1];
    if (strcmp(m, "scatter") == 0 && argc > 3) return mode_scatter(strtoul(argv[2], NULL, 0), argv[3], 0);
    if (strcmp(m, "outlive") == 0 && argc > 2) return mode_scatter(strtoul(argv[2], NULL, 0), "_exit", 1);
    if (strcmp(m, "threads") == 0) return mode_threads();
    if (strcmp(m, "kernel") == 0 && argc > 2) return mode_kernel(strtoul(argv[2], NULL, 0));
    if (strcmp(m, "parent") == 0 && argc > 2) return mode_parent(strtoul(argv[2], NULL, 0));
    if (strcmp(m, "grandchild") == 0 && argc > 2) return mode_grandchild(strtoul(argv[2], NULL, 0));
    if (strcmp(m, "atexit") == 0 && argc > 2) return mode_atexit(strtoul(argv[2], NULL, 0));
    return 2;
}
