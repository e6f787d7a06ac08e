/* next_alloc.c: is the next allocator still the one serving unmarked
 * requests? Run with libcowguard.so preloaded before jemalloc. jemalloc's
 * own statistics (mallctl "stats.allocated") must see the unmarked memory,
 * and must not see the marked memory, which cowguard's arena holds.
 * Exits 77 (skip) when jemalloc is not loaded. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowguard.h"

typedef int (*mallctl_t)(const char *, void *, size_t *, void *, size_t);

static size_t allocated(mallctl_t mallctl)
{
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len); /* refresh the statistics */
    size_t bytes = 0;
    len = sizeof bytes;
    if (mallctl("stats.allocated", &bytes, &len, NULL, 0) != 0) return 0;
    return bytes;
}

int main(void)
{
    mallctl_t mallctl = (mallctl_t)dlsym(RTLD_DEFAULT, "mallctl");
    if (!mallctl) {
        printf("jemalloc not loaded\n");
        return 77;
    }
    size_t before = allocated(mallctl);
    enum { N = 1000, SIZE = 32 * 1024 };
    char *plain[N], *marked[N];
    for (int i = 0; i < N; i++) {
        plain[i] = malloc(SIZE);
        memset(plain[i], 1, SIZE);
    }
    size_t after_plain = allocated(mallctl);
    for (int i = 0; i < N; i++) {
        marked[i] = cowguard_malloc(SIZE);
        memset(marked[i], 2, SIZE);
    }
    size_t after_marked = allocated(mallctl);
    printf("jemalloc: +%zu bytes for %d unmarked blocks, +%zu for %d marked ones\n",
           after_plain - before, N, after_marked - after_plain, N);
    int ok = after_plain - before >= (size_t)N * SIZE && after_marked - after_plain < (size_t)N * SIZE / 10
             && cowguard_active();
    for (int i = 0; i < N; i++) {
        free(plain[i]);
        free(marked[i]);
    }
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
