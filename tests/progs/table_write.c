/* table_write.c: one table, one fork, one write.
 *
 * usage: table_write ALLOC WRITER [SIZE]
 *   ALLOC   api (cowguard_malloc), malloc, calloc, memalign, realloc (a small
 *           malloc block grown to SIZE)
 *   WRITER  child: the child writes one byte of the table
 *           parent: the parent writes one byte after the fork
 *           none: nobody writes
 *   SIZE    table size in bytes (default 1 MiB)
 *
 * Prints, for the tests:
 *   child: wrote=W exclusive_pages=N data=ok|BAD
 *   parent: child=exit:C|signal:S data=ok|BAD
 * Exit status: 0 when the child exited 0 and all data checks passed, 3 when
 * the child died by a signal, 1 otherwise. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"
#include "../../examples/kernel.h"

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 131 + 7);
}

static int intact(const unsigned char *t, size_t size, size_t skip)
{
    for (size_t i = 0; i < size; i++)
        if (i != skip && t[i] != pattern(i)) return 0;
    return 1;
}

static unsigned char *make_table(const char *alloc, size_t size)
{
    if (strcmp(alloc, "api") == 0) return cowguard_malloc(size);
    if (strcmp(alloc, "malloc") == 0) return malloc(size);
    if (strcmp(alloc, "calloc") == 0) return calloc(1, size);
    if (strcmp(alloc, "memalign") == 0) {
        void *p = NULL;
        return posix_memalign(&p, 4096, size) == 0 ? p : NULL;
    }
    if (strcmp(alloc, "realloc") == 0) {
        unsigned char *p = malloc(64);
        return p ? realloc(p, size) : NULL;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s api|malloc|calloc|memalign|realloc child|parent|none [SIZE]\n", argv[0]);
        return 2;
    }
    size_t size = argc > 3 ? strtoul(argv[3], NULL, 0) : 1 << 20;
    const char *writer = argv[2];
    unsigned char *t = make_table(argv[1], size);
    if (!t) {
        fprintf(stderr, "%s: bad allocation kind or out of memory\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < size; i++) t[i] = pattern(i);
    size_t mid = size / 2;

    int go[2];
    if (pipe(go) != 0) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        close(go[1]);
        int wrote = 0, ok;
        if (strcmp(writer, "child") == 0) {
            t[mid] = (unsigned char)~pattern(mid);
            wrote = 1;
            ok = t[mid] == (unsigned char)~pattern(mid) && intact(t, size, mid);
        } else {
            char c;
            if (read(go[0], &c, 1) < 0) return 1; /* wait until the parent wrote */
            ok = intact(t, size, (size_t)-1);     /* its write must not show here */
        }
        printf("child: wrote=%d exclusive_pages=%zu data=%s\n", wrote, kernel_exclusive_pages(t, size),
               ok ? "ok" : "BAD");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    close(go[0]);
    int ok = 1;
    if (strcmp(writer, "parent") == 0) {
        t[mid] = 0x5a ^ pattern(mid);
        ok = t[mid] == (0x5a ^ pattern(mid)) && intact(t, size, mid);
    }
    /* Only a child that does not write waits for this (the parent's write). */
    if (strcmp(writer, "child") != 0 && write(go[1], "g", 1) != 1) return 2;
    close(go[1]);
    int st;
    if (waitpid(pid, &st, 0) != pid) return 2;
    if (strcmp(writer, "parent") != 0) ok = intact(t, size, (size_t)-1);
    if (WIFSIGNALED(st))
        printf("parent: child=signal:%d data=%s\n", WTERMSIG(st), ok ? "ok" : "BAD");
    else
        printf("parent: child=exit:%d data=%s\n", WEXITSTATUS(st), ok ? "ok" : "BAD");
    free(t);
    if (WIFSIGNALED(st)) return 3;
    return ok && WEXITSTATUS(st) == 0 ? 0 : 1;
}
