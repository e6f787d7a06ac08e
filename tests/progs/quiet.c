/* quiet.c: programs that give cowguard nothing to report, each printing
 * one line on stdout:
 *   none         allocates, never forks
 *   marked       allocates 1 MiB (marked under COWGUARD_MIN_SIZE), never forks
 *   spawn        starts /bin/true twice with posix_spawn and reaps them
 *   fork         forks one child, which exits at once
 *   teardown     allocates 8 MiB and writes it, forks one child, which
 *                writes 1 MiB of it, then exits through exit(), whose
 *                atexit handler writes 7 MiB more (a program's teardown) */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MIB (1 << 20)
static char *big;

static void teardown(void)
{
    memset(big + MIB, 2, 7 * MIB);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s none|marked|spawn|fork\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    char *block = malloc(strcmp(mode, "marked") == 0 ? 1 << 20 : 64);
    if (!block) return 1;
    memset(block, 1, 64);
    if (strcmp(mode, "spawn") == 0) {
        for (int i = 0; i < 2; i++) {
            pid_t pid;
            int st;
            char *args[] = { "true", NULL };
            if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) return 1;
            if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
        }
    } else if (strcmp(mode, "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) return 1;
    } else if (strcmp(mode, "teardown") == 0) {
        big = malloc(8 * MIB);
        if (!big) return 1;
        memset(big, 1, 8 * MIB);
        pid_t pid = fork();
        if (pid == 0) {
            atexit(teardown);
            memset(big, 3, MIB);
            exit(0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) return 1;
    } else if (strcmp(mode, "none") != 0 && strcmp(mode, "marked") != 0) {
        return 2;
    }
    printf("quiet: %s done (%d)\n", mode, block[0]);
    return 0; /* the block stays allocated: what was marked is still there at the end */
}
