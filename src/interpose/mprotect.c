/* mprotect.c: the exported mprotect. A program may protect pages of
 * marked blocks itself (a JIT's code, a guard page): cowguard notes them so
 * that freezing and thawing leave them as the program set them, and their
 * faults go to the program. */
#include <sys/mman.h>

#include "interpose.h"

CG_EXPORT int mprotect(void *addr, size_t len, int prot)
{
    if (cg_unlikely(!cg_is_ready())) cg_init();
    cg_space_forget((uintptr_t)addr, len); /* its pages are the program's to protect now */
    int r = cg_mprotect(addr, len, prot);
    if (r == 0) cg_note_program_protect((uintptr_t)addr, len, prot);
    return r;
}
