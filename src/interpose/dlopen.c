/* dlopen.c: the exported dlopen.
 *
 * glibc's dlopen looks at its return address to learn who called it: that
 * object's RPATH and RUNPATH are searched, and $ORIGIN means its directory.
 * A wrapper written in C would make every dlopen look as if cowguard made
 * it. So dlopen is a few instructions that jump straight to the C
 * library's, the program's return address untouched, and only a load with
 * RTLD_DEEPBIND (or one before cowguard is set up) takes the C path:
 * after it, deepbind.c points the new objects' malloc family at cowguard.
 * Such a load is searched as if from cowguard: an object with RPATH or
 * RUNPATH that loads a bare library name with RTLD_DEEPBIND should give a
 * path (docs/limitations.md). */
#include <dlfcn.h>

#include "interpose.h"

/* The jump reads the C library's dlopen from the first word of cg_next,
 * filled at start-up (NULL until then: the C path waits for start-up). */
_Static_assert(offsetof(cg_next_t, dlopen) == 0, "dlopen must be cg_next's first member");

/* Named by the assembly below, which the compiler does not read: kept, and
 * under its own name when the library is built as one unit (LTO). */
void *cg_dlopen_slow(const char *file, int mode) __attribute__((used, externally_visible));

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        "    .cfi_startproc\n"
        "    testl $" CG_STR(RTLD_DEEPBIND) ", %esi\n"
        "    jnz 1f\n"
        "    movq cg_next(%rip), %rax\n"
        "    testq %rax, %rax\n"
        "    jz 1f\n"
        "    jmp *%rax\n"
        "1:  jmp cg_dlopen_slow\n"
        "    .cfi_endproc\n"
        ".size dlopen, .-dlopen\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, %function\n"
        "dlopen:\n"
        "    .cfi_startproc\n"
        "    tst w1, #" CG_STR(RTLD_DEEPBIND) "\n"
        "    b.ne 1f\n"
        "    adrp x16, cg_next\n"
        "    ldr x16, [x16, :lo12:cg_next]\n"
        "    cbz x16, 1f\n"
        "    br x16\n"
        "1:  b cg_dlopen_slow\n"
        "    .cfi_endproc\n"
        ".size dlopen, .-dlopen\n");
#else
CG_EXPORT void *dlopen(const char *file, int mode)
{
    return cg_dlopen_slow(file, mode);
}
#endif

/* Reached by a jump from dlopen, so its return address is the program's. */
void *cg_dlopen_slow(const char *file, int mode)
{
    cg_init();
    if (!cg_next.dlopen) return NULL;
    void *h = cg_next.dlopen(file, mode);
    if (h && (mode & RTLD_DEEPBIND)) cg_deepbind_fix();
    return h;
}
