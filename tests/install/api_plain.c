/* api_plain.c: every call of cowguard.h, in a program built against the
 * installed header alone. "plain": run without the library, every call is
 * its documented fallback. "preloaded": run under the installed launcher,
 * the calls reach the library, and what they say agrees with the kernel's
 * /proc/self/maps. Prints "ok" and exits 0 when all held. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cowguard.h>

#include "../progs/check.h"

/* 1 when the kernel maps the page holding p without write permission. */
static int kernel_readonly(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int ro = -1;
    while (f && fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && (uintptr_t)p >= lo &&
            (uintptr_t)p < hi) {
            ro = perms[1] != 'w';
            break;
        }
    }
    if (f) fclose(f);
    return ro;
}

int main(int argc, char **argv)
{
    int preloaded = argc > 1 && strcmp(argv[1], "preloaded") == 0;
    CHECK(cowguard_active() == preloaded);

    cowguard_readonly_begin();
    char *s = malloc(4096);
    cowguard_readonly_end();
    char *m = cowguard_malloc(100);
    long *c = cowguard_calloc(16, sizeof *c);
    CHECK(s && m && c);
    strcpy(s, "table");
    strcpy(m, "marked");
    for (int i = 0; i < 16; i++) CHECK(c[i] == 0);

    cowguard_stats_t st = { .size = sizeof st };
    CHECK(cowguard_stats(&st) == (preloaded ? 0 : -1));
    if (preloaded) CHECK(st.marked_blocks >= 3);

    CHECK(cowguard_freeze() == (preloaded ? 0 : -1));
    CHECK(cowguard_is_frozen(s) == preloaded);
    CHECK(kernel_readonly(s) == preloaded);
    CHECK(strcmp(s, "table") == 0 && strcmp(m, "marked") == 0);
    CHECK(cowguard_thaw() == (preloaded ? 0 : -1));
    CHECK(cowguard_is_frozen(s) == 0);
    CHECK(kernel_readonly(s) == 0);
    s[0] = 'T';

    free(s);
    cowguard_free(m);
    cowguard_free(c);
    if (failures) return 1;
    puts("ok");
    return 0;
}
