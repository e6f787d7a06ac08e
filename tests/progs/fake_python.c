/* fake_python.c: a program that says it is CPython 3.12 (it exports
 * Py_GetVersion, as the interpreter does; FAKE_PY_VERSION says another), a
 * version whose frames cowguard does not read: it marks a table, a child
 * writes it, and the report must say why its stacks are native. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

__attribute__((visibility("default"))) const char *Py_GetVersion(void)
{
    const char *v = getenv("FAKE_PY_VERSION");
    return v ? v : "3.12.4 (main, Jan  1 2026, 00:00:00) [GCC 14.2.0]";
}

int main(void)
{
    char *t = cowguard_malloc(1 << 16);
    if (!t) return 2;
    memset(t, 1, 1 << 16);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        t[100] = 2;
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
