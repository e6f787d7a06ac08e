/* dl_deepbind.c: a library opened with RTLD_DEEPBIND binds its malloc and
 * free to the C library's own, ahead of a preloaded allocator (PHP loads
 * its extensions this way). The program and the library hand heap buffers
 * to each other: the library frees one the program allocated, and the
 * program frees one the library allocated; then the program forks a worker
 * that does the same. Usage: dl_deepbind LIB SIZE */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *(*lib_make)(size_t);
static long (*lib_consume)(char *, size_t);

static void exchange(const char *who, size_t n)
{
    char *mine = malloc(n);              /* the program's allocator: cowguard's */
    memset(mine, 'P', n);
    long s = lib_consume(mine, n);       /* freed by the library's free */
    char *theirs = lib_make(n);          /* the library's malloc */
    long t = 0;
    for (size_t i = 0; i < n; i++) t += theirs[i];
    free(theirs);                        /* freed by the program's free */
    printf("%s: consumed %ld, made %ld\n", who, s, t);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    size_t n = strtoul(argv[2], NULL, 0);
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
    lib_make = (char *(*)(size_t))dlsym(h, "lib_make");
    lib_consume = (long (*)(char *, size_t))dlsym(h, "lib_consume");
    if (!lib_make || !lib_consume) return 2;
    exchange("parent before fork", n);
    pid_t pid = fork();
    if (pid == 0) {
        exchange("child", n);
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    exchange("parent after fork", n);
    return 0;
}
