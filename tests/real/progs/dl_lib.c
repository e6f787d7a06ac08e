/* dl_lib.c: a library the dl_* programs dlopen. Built twice, as
 * libdl_before.so (opened before the first fork) and libdl_after.so (opened
 * in a child after it): its constructor allocates, its thread-local counter
 * makes the loader set up a dynamic TLS block, and its functions exchange
 * heap buffers with the program (dl_deepbind.c). */
#include <stdlib.h>
#include <string.h>

static char *table;           /* allocated by the constructor */
static __thread long calls;   /* dynamic TLS: allocated by the loader on first use */

__attribute__((constructor)) static void init(void)
{
    table = malloc(4096);
    memset(table, 'x', 4096);
}

/* Reads the table, bumps the thread's counter. */
long lib_work(long n)
{
    long s = 0;
    for (long i = 0; i < n; i++) s += table[i % 4096];
    return s + ++calls;
}

/* A buffer the program will free. */
char *lib_make(size_t n)
{
    char *p = malloc(n);
    if (p) memset(p, 'L', n);
    return p;
}

/* Frees a buffer the program allocated: with RTLD_DEEPBIND this free is the
 * C library's own, not the preloaded one. */
long lib_consume(char *p, size_t n)
{
    long s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    free(p);
    return s;
}
