/* sneaky.c: the attribution test. build_table() allocates a marked table;
 * a forked child calls sneaky_writer(), which writes one byte of it. Both
 * are static and not inlined, so naming them needs the symbol table.
 * Prints "child: status" lines; exits 0 when the child exited 0. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

#define TABLE_SIZE (64 * 1024)

static __attribute__((noinline)) unsigned char *build_table(void)
{
    unsigned char *t = cowguard_malloc(TABLE_SIZE);
    for (size_t i = 0; i < TABLE_SIZE; i++) t[i] = (unsigned char)i;
    return t;
}

static __attribute__((noinline)) void sneaky_writer(volatile unsigned char *t)
{
    t[12345] = 42; /* a "read-only" table, written */
}

int main(void)
{
    unsigned char *t = build_table();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        sneaky_writer(t);
        _exit(t[12345] == 42 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) printf("child: signal %d\n", WTERMSIG(st));
    else printf("child: exit %d\n", WEXITSTATUS(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && t[12345] == (unsigned char)12345 ? 0 : 1;
}
