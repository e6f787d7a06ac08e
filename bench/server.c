/* server.c: a preforking server's shutdown, as PostgreSQL's or gunicorn's.
 *
 * usage: server WORKERS BLOCKS
 * The parent builds a table of BLOCKS blocks (64..320 bytes, each linked to
 * the next) before it forks WORKERS workers, which read the table in a loop
 * and write a counter of their own in every 64th block (copying some of its
 * pages). When all are running the parent prints "ready" and waits; on
 * SIGTERM it sends SIGTERM to each worker, reaps them and exits 0. The
 * caller times from its SIGTERM to the parent's exit (tools/bench.py). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct node {
    struct node *next;
    uint64_t counter;
    char payload[];
} node_t;

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void work(node_t *head, int ready_fd)
{
    uint64_t sum = 0, round = 0;
    (void)!write(ready_fd, "x", 1);
    for (;;) {
        size_t i = 0;
        for (node_t *n = head; n; n = n->next, i++) {
            sum += (uint64_t)n->payload[0];
            if (i % 64 == round % 64) n->counter++;
        }
        round++;
        __asm__ volatile("" : : "r"(sum) : "memory");
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int workers = atoi(argv[1]);
    long blocks = atol(argv[2]);
    if (workers < 1 || workers > 64 || blocks < 1) return 2;
    node_t *head = NULL;
    for (long i = 0; i < blocks; i++) {
        size_t size = 64 + (size_t)(i * 7919 % 257);
        node_t *n = malloc(sizeof *n + size);
        if (!n) return 2;
        n->counter = 0;
        memset(n->payload, (int)(i & 0x7f), size);
        n->next = head;
        head = n;
    }
    struct sigaction sa = { .sa_handler = on_term };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    int fds[2];
    if (pipe(fds) != 0) return 2;
    pid_t pids[64];
    for (int w = 0; w < workers; w++) {
        pids[w] = fork();
        if (pids[w] < 0) return 2;
        if (pids[w] == 0) {
            signal(SIGTERM, SIG_DFL);
            close(fds[0]);
            work(head, fds[1]);
        }
    }
    close(fds[1]);
    char c;
    for (int w = 0; w < workers; w++)
        if (read(fds[0], &c, 1) != 1) return 3;
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &old); /* no SIGTERM lost between the test and the wait */
    printf("ready\n");
    fflush(stdout);
    while (!stop) sigsuspend(&old);
    for (int w = 0; w < workers; w++) kill(pids[w], SIGTERM);
    for (int w = 0; w < workers; w++) waitpid(pids[w], NULL, 0);
    return 0;
}
