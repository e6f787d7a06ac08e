/* deep_main.c: marked blocks cross into a library loaded with
 * RTLD_DEEPBIND (lazy or immediate binding), which frees and reallocs
 * them, and blocks the library allocated come back to be freed here.
 *
 * usage: deep_main LIBRARY now|lazy
 * Prints "ok" and exits 0 when all held. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cowguard.h"

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    void *h = dlopen(argv[1], RTLD_DEEPBIND | (strcmp(argv[2], "lazy") == 0 ? RTLD_LAZY : RTLD_NOW));
    if (!h) {
        printf("dlopen: %s\n", dlerror());
        return 2;
    }
    void *(*swap)(void *) = (void *(*)(void *))dlsym(h, "deep_swap");
    void *(*grow)(void *, size_t) = (void *(*)(void *, size_t))dlsym(h, "deep_grow");
    void (*release)(void) = (void (*)(void))dlsym(h, "deep_release");
    CHECK(swap && grow && release);
    for (int i = 0; i < 100; i++) {
        cowguard_readonly_begin();
        char *mine = malloc(64 + i * 100); /* marked */
        char *big = malloc(50000);
        cowguard_readonly_end();
        strcpy(big, "grown");
        char *theirs = swap(mine);
        CHECK(theirs && strcmp(theirs, "from the library") == 0);
        free(theirs);
        big = grow(big, 100000);
        CHECK(big && strcmp(big, "grown") == 0);
        free(big);
    }
    release();
    fflush(stdout);
    pid_t pid = fork(); /* and in a child, with the blocks frozen */
    if (pid == 0) {
        cowguard_readonly_begin();
        char *mine = malloc(64);
        cowguard_readonly_end();
        free(swap(mine));
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("%s\n", failures ? "BAD" : "ok");
    return failures ? 1 : 0;
}
