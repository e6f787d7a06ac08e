/* echo_exit.c: prints its arguments after the first, one per line, allocates
 * a little, forks once, and exits with the status given as the first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    for (int i = 2; i < argc; i++) {
        char *copy = strdup(argv[i]);
        puts(copy);
        free(copy);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 7) return 99;
    return atoi(argv[1]);
}
