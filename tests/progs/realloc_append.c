/* realloc_append.c: a buffer grown by appends, the way string builders
 * and log buffers grow, with other blocks allocated in between (so that
 * it cannot always grow in place), checked byte for byte; then a forked
 * child grows the (frozen) buffer again and checks it.
 *
 * usage: realloc_append APPENDS [STEP [midway]]   prints "appends: N ok"
 *   midway: also fork a child half-way through, which exits at once */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 131 + (i >> 8) * 7 + 1);
}

static int check(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != pattern(i)) {
            fprintf(stderr, "byte %zu is %u, not %u\n", i, buf[i], pattern(i));
            return 1;
        }
    return 0;
}

int main(int argc, char **argv)
{
    size_t appends = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000, step = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
    int midway = argc > 3 && strcmp(argv[3], "midway") == 0;
    unsigned char *buf = NULL;
    void *others[64] = { 0 };
    size_t len = 0;
    for (size_t i = 0; i < appends; i++) {
        unsigned char *b = realloc(buf, len + step);
        if (!b) return 2;
        buf = b;
        for (size_t k = 0; k < step; k++) buf[len + k] = pattern(len + k);
        len += step;
        if (midway && i == appends / 2) {
            pid_t pid = fork();
            if (pid == 0) _exit(check(buf, len));
            int status;
            if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
        }
        if (i % 4096 == 0) { /* something else takes the pages after the buffer now and then */
            free(others[(i / 4096) % 64]);
            others[(i / 4096) % 64] = malloc(20000);
        }
    }
    if (check(buf, len)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char *b = realloc(buf, len * 2);
        if (!b || check(b, len)) _exit(1);
        memset(b + len, 0, len);
        _exit(check(b, len));
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    if (check(buf, len)) return 1;
    for (int k = 0; k < 64; k++) free(others[k]);
    free(buf);
    printf("appends: %zu ok\n", appends);
    return 0;
}
