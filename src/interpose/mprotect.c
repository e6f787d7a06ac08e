/* mprotect.c: the exported mprotect and mremap. A program may protect
 * pages of marked blocks itself (a JIT's code, a guard page): cowguard
 * notes them so that freezing and thawing leave them as the program set
 * them, and their faults go to the program. Memory watched in place
 * (freeze/space.c) that the program protects or moves stops being
 * watched first: moved, its read-only pages would land where cowguard
 * does not know them. */
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "interpose.h"

CG_EXPORT int mprotect(void *addr, size_t len, int prot)
{
    if (cg_unlikely(!cg_is_ready())) cg_init();
    cg_space_forget((uintptr_t)addr, len); /* its pages are the program's to protect now */
    int r = cg_mprotect(addr, len, prot);
    if (r == 0) cg_note_program_protect((uintptr_t)addr, len, prot);
    return r;
}

CG_EXPORT void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *to = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        to = va_arg(ap, void *);
        va_end(ap);
    }
    if (cg_unlikely(cg_space_watching())) cg_space_forget((uintptr_t)old, old_size);
    return (void *)syscall(SYS_mremap, old, old_size, new_size, flags, to);
}
