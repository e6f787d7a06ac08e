/* no_api.c: a program that knows nothing of cowguard. build_table()
 * allocates a table, main() a few counters; each of WORKERS forked children
 * writes either one byte of the table (WHAT=table) or its counters
 * (WHAT=counters). Exits 0 when every child exited 0; prints the statuses.
 *
 * usage: no_api table|counters [WORKERS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static __attribute__((noinline)) unsigned char *build_table(size_t size)
{
    unsigned char *t = malloc(size);
    for (size_t i = 0; i < size; i++) t[i] = (unsigned char)(i * 7);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    int workers = argc > 2 ? atoi(argv[2]) : 2;
    unsigned char *table = build_table(256 * 1024);
    long *counters = calloc(64, sizeof *counters);
    int failed = 0;
    for (int w = 0; w < workers; w++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (strcmp(argv[1], "table") == 0) table[1000] = 1;
            else
                for (int i = 0; i < 64; i++) counters[i] += table[i * 100];
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st)) printf("worker %d: signal %d\n", w, WTERMSIG(st));
        else printf("worker %d: exit %d\n", w, WEXITSTATUS(st));
        failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    free(counters);
    free(table);
    return failed ? 1 : 0;
}
