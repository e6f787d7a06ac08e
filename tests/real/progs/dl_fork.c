/* dl_fork.c: dlopen before the first fork and another library in the child
 * after it; then the child and the parent use both, and the parent opens
 * and closes a third time after the child ended. Prints what each saw.
 * Usage: dl_fork LIB_BEFORE LIB_AFTER */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

typedef long (*work_fn)(long);

static work_fn open_work(const char *path, void **handle)
{
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) { fprintf(stderr, "dlopen %s: %s\n", path, dlerror()); exit(2); }
    work_fn f = (work_fn)dlsym(*handle, "lib_work");
    if (!f) { fprintf(stderr, "dlsym: %s\n", dlerror()); exit(2); }
    return f;
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    void *h1, *h2;
    work_fn before = open_work(argv[1], &h1);
    printf("parent before fork: %ld\n", before(10000));
    fflush(stdout);
    for (int k = 0; k < 2; k++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) {
            work_fn after = open_work(argv[2], &h2);
            long a = after(20000), b = before(30000);
            printf("child %d: after %ld, before %ld\n", k, a, b);
            fflush(stdout);
            dlclose(h2);
            exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid) { perror("waitpid"); return 2; }
        printf("child %d: %s %d\n", k, WIFEXITED(st) ? "exit" : "signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        fflush(stdout);
    }
    work_fn again = open_work(argv[2], &h2); /* the parent, after its forks */
    printf("parent after fork: %ld %ld\n", before(100), again(100));
    dlclose(h2);
    dlclose(h1);
    return 0;
}
