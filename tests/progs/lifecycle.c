/* lifecycle.c: processes that are not workers, and trees that outlive
 * their root. With frozen marked data:
 *   spawn        posix_spawn and vfork+exec /bin/true, and a vfork child
 *                that calls _exit: none of them is frozen or counted
 *   exec         a forked child execs "sh -c 'echo $COWGUARD_POLICY'": the
 *                new image starts clean, with the inherited variables
 *   grandchild   a child forks a grandchild; both write frozen pages
 *   orphan       the root exits while its child still runs; the child
 *                writes frozen pages after the root is gone
 * Exit 0 when everything ran as it would without cowguard. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowguard.h"

extern char **environ;

static int reap(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *mode = argv[1];
    unsigned char *t = cowguard_malloc(1 << 20);
    memset(t, 1, 1 << 20);
    fflush(stdout);

    if (strcmp(mode, "spawn") == 0) {
        char *args[] = { "true", NULL };
        cowguard_freeze(); /* spawning freezes nothing itself */
        pid_t pid;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0 || reap(pid) != 0) return 1;
        pid = vfork();
        if (pid == 0) {
            execve("/bin/true", args, environ);
            _exit(127);
        }
        if (reap(pid) != 0) return 1;
        pid = vfork();
        if (pid == 0) _exit(7); /* cowguard's _exit wrapper runs in the parent's memory */
        if (reap(pid) != 7) return 1;
        t[0] = 2; /* the parent goes on: its slot must still say it runs */
        printf("spawned 3\n");
        return 0;
    }
    if (strcmp(mode, "exec") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", "echo \"policy=$COWGUARD_POLICY\"", (char *)NULL);
            _exit(127);
        }
        return reap(pid);
    }
    if (strcmp(mode, "grandchild") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            t[4096] = 2;
            pid_t g = fork();
            if (g == 0) {
                t[2 * 4096] = 3;
                t[3 * 4096] = 3;
                _exit(0);
            }
            _exit(reap(g));
        }
        return reap(pid);
    }
    if (strcmp(mode, "orphan") == 0) {
        int go[2];
        if (pipe(go) != 0) return 2;
        pid_t pid = fork();
        if (pid == 0) {
            char c;
            close(go[1]);
            while (read(go[0], &c, 1) > 0) {} /* until the root has exited */
            for (int p = 0; p < 5; p++) t[p * 4096] = 9;
            _exit(0);
        }
        printf("root leaves, child %d runs on\n", (int)pid);
        fflush(stdout);
        return 0; /* the pipe's write end closes as the root exits */
    }
    return 2;
}
