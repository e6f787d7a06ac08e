/* deep_lib.c: a library for deep_main, loaded with RTLD_DEEPBIND, so that
 * its malloc and free bind to the C library's unless cowguard points them
 * at its own. */
#include <stdlib.h>
#include <string.h>

static char *made_at_load; /* allocated by the constructor, inside dlopen */

__attribute__((constructor)) static void at_load(void)
{
    made_at_load = malloc(100);
    strcpy(made_at_load, "from the constructor");
}

/* Free the program's block, give one back (the program frees it). */
void *deep_swap(void *mine)
{
    free(mine);
    char *p = malloc(200);
    if (p) strcpy(p, "from the library");
    return p;
}

void *deep_grow(void *mine, size_t n)
{
    return realloc(mine, n);
}

void deep_release(void)
{
    free(made_at_load);
    made_at_load = NULL;
}
