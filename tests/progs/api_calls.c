/* api_calls.c: the public API and the malloc family, in one process.
 * Checks what the kernel says where it can (/proc/self/maps permissions),
 * and data contents everywhere. Prints "ok" and exits 0 when all held. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowguard.h"

#include "check.h"

/* The permissions the kernel shows for the mapping holding p ("rw-p"...). */
static void perms_of(const void *p, char out[5])
{
    strcpy(out, "????");
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && (uintptr_t)p >= lo && (uintptr_t)p < hi) {
            strcpy(out, perms);
            break;
        }
    }
    if (f) fclose(f);
}

int main(void)
{
    char perms[5];
    CHECK(cowguard_active());

    /* Regions nest: both allocations inside are marked. */
    cowguard_readonly_begin();
    cowguard_readonly_begin();
    char *a = malloc(100);
    cowguard_readonly_end();
    char *b = malloc(5000);
    void *al = NULL;
    CHECK(posix_memalign(&al, 256, 300) == 0 && ((uintptr_t)al & 255) == 0);
    char *al2 = aligned_alloc(4096, 4096);
    CHECK(al2 && ((uintptr_t)al2 & 4095) == 0);
    cowguard_readonly_end();
    char *c = malloc(100); /* outside: unmarked */

    char *z = cowguard_calloc(1000, 3);
    int zeroed = 1;
    for (int i = 0; i < 3000; i++) zeroed &= z[i] == 0;
    CHECK(zeroed);
    CHECK(malloc_usable_size(a) >= 100 && malloc_usable_size(b) >= 5000 && malloc_usable_size(z) >= 3000);

    memset(a, 'a', 100);
    memset(b, 'b', 5000);
    cowguard_free(cowguard_malloc(10)); /* free of a marked block right away */
    /* Freed before the freeze, these wait in the thread's cache of free
     * blocks, in pages the freeze is about to make read-only. */
    char *cached[40];
    cowguard_readonly_begin();
    for (int i = 0; i < 40; i++) cached[i] = malloc(200);
    cowguard_readonly_end();
    for (int i = 0; i < 40; i++) free(cached[i]);
    CHECK(cowguard_freeze() == 0);
    /* After it they must not be handed out: writing one would be a frozen
     * write (this test runs under COWGUARD_POLICY=abort). */
    cowguard_readonly_begin();
    for (int i = 0; i < 40; i++) {
        cached[i] = malloc(200);
        CHECK(!cowguard_is_frozen(cached[i]) && !cowguard_is_frozen(cached[i] + 199));
        memset(cached[i], 'c', 200);
    }
    cowguard_readonly_end();
    for (int i = 0; i < 40; i++) free(cached[i]);
    CHECK(cowguard_is_frozen(a) && cowguard_is_frozen(b) && cowguard_is_frozen(al) && cowguard_is_frozen(z));
    CHECK(!cowguard_is_frozen(c));
    perms_of(b, perms);
    CHECK(strncmp(perms, "r--", 3) == 0); /* the kernel's word: read-only */

    /* realloc of a frozen block copies it out, to a writable place. */
    char *b2 = realloc(b, 6000);
    CHECK(b2 && b2 != b && b2[0] == 'b' && b2[4999] == 'b');
    CHECK(!cowguard_is_frozen(b2));
    perms_of(b2, perms);
    CHECK(perms[1] == 'w');
    b2[5999] = 'x';
    /* Freeing frozen blocks writes nothing into them (it would trap). */
    free(a);
    free(al);
    char *after = malloc(100); /* unmarked, and a new marked one: never a frozen page */
    cowguard_readonly_begin();
    char *fresh = malloc(100);
    cowguard_readonly_end();
    CHECK(!cowguard_is_frozen(fresh)); /* fresh pages, or a's reclaimed ones */
    fresh[0] = 'f';

    CHECK(cowguard_thaw() == 0);
    CHECK(!cowguard_is_frozen(z));
    perms_of(z, perms);
    CHECK(perms[1] == 'w');
    z[0] = 1;

    free(after);
    free(fresh);
    free(b2);
    free(al2);
    free(c);
    cowguard_free(z);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
