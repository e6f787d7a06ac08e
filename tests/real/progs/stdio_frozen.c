/* stdio_frozen.c: the C library writing into memory it or the program
 * allocated before a fork, through its internal read/getdents, which no
 * preloaded library can interpose:
 *   fread   a 1 MiB fread into a buffer malloc'd before the fork: glibc
 *           reads large requests straight into the caller's buffer;
 *   fgets   lines of a stream opened and first read before the fork, read
 *           on in the child: the refill goes into stdio's own buffer;
 *   readdir a directory opened before the fork, read in the child: the
 *           entries go into the DIR's buffer.
 * Each in its own forked child; prints what each got.
 * Usage: stdio_frozen DATAFILE DIR */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG (1 << 20)

static void child_done(const char *what)
{
    int st;
    if (wait(&st) < 0) { perror("wait"); exit(2); }
    printf("%s child: %s %d\n", what, WIFEXITED(st) ? "exit" : "signal",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    char *buf = malloc(BIG);
    memset(buf, 0, BIG);
    FILE *lines = fopen(argv[1], "r");
    DIR *dir = opendir(argv[2]);
    if (!buf || !lines || !dir) { perror("setup"); return 2; }
    char line[256];
    if (!fgets(line, sizeof line, lines)) return 2; /* stdio's buffer exists now */
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (fork() == 0) {
        FILE *f = fopen(argv[1], "r");
        errno = 0;
        size_t n = fread(buf, 1, BIG, f);
        printf("fread: %zu bytes%s%s\n", n, ferror(f) ? ", error: " : "", ferror(f) ? strerror(errno) : "");
        _exit(0);
    }
    child_done("fread");

    if (fork() == 0) {
        long count = 1;
        errno = 0;
        while (fgets(line, sizeof line, lines)) count++;
        printf("fgets: %ld lines%s%s\n", count, ferror(lines) ? ", error: " : "", ferror(lines) ? strerror(errno) : "");
        _exit(0);
    }
    child_done("fgets");

    if (fork() == 0) {
        long count = 0;
        errno = 0;
        while (readdir(dir)) count++;
        printf("readdir: %ld entries%s%s\n", count, errno ? ", error: " : "", errno ? strerror(errno) : "");
        _exit(0);
    }
    child_done("readdir");
    return 0;
}
