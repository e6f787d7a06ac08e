/* stdio_child.c: a stdio stream and a directory stream opened before a
 * fork, read in the child. The C library fills their buffers with its own
 * internal read, which cowguard cannot see; under COWGUARD_PREFORK=1 those
 * buffers must not be frozen, or the child's reads fail with EFAULT.
 * Prints "child: lines=N entries=M ok" and exits 0 when the reads worked. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600); /* a file with no name */
    if (fd < 0) return 2;
    FILE *w = fdopen(dup(fd), "w");
    for (int i = 0; i < 20000; i++) fprintf(w, "line %d of a file read through stdio\n", i);
    fclose(w);
    lseek(fd, 0, SEEK_SET);
    FILE *f = fdopen(fd, "r");
    DIR *d = opendir("/");
    char line[256];
    if (!f || !d || !fgets(line, sizeof line, f)) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int lines = 1, entries = 0;
        while (fgets(line, sizeof line, f)) lines++;
        while (readdir(d)) entries++;
        int ok = lines == 20000 && !ferror(f) && entries > 2;
        printf("child: lines=%d entries=%d %s\n", lines, entries, ok ? "ok" : "BAD");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
