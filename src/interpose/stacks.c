/* stacks.c: the exported calls that hand the kernel a stack to
 * write signal frames on. Each registers the stack (freeze/kernel.c) before the
 * stack can be used, so that no freeze leaves it read-only (the kernel
 * kills a process whose signal frame it cannot write). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "interpose.h"

/* Kept before the kernel knows it: a signal may arrive the moment the call
 * returns. A stack being switched off stays kept (it may be in use). */
CG_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
    stack_t want;
    if (ss) {
        want = *ss; /* ss and old may be the same */
        if (!(want.ss_flags & SS_DISABLE)) cg_keep_altstack((uintptr_t)want.ss_sp, want.ss_size);
        else cg_keep_altstack(0, 0);
    }
    if (CG_NEXT(sigaltstack)) return cg_next.sigaltstack(ss ? &want : NULL, old);
    return (int)syscall(SYS_sigaltstack, ss ? &want : NULL, old);
}

/* The thread's stack, and glibc's descriptor of the thread at its top. */
CG_EXPORT int pthread_attr_setstack(pthread_attr_t *attr, void *addr, size_t size)
{
    cg_keep_stack((uintptr_t)addr, size);
    return CG_NEXT(pthread_attr_setstack) ? cg_next.pthread_attr_setstack(attr, addr, size) : ENOSYS;
}

/* A context's stack: coroutines run on it, and signals land there. The
 * arguments are passed on as the machine words glibc reads them as (it
 * takes pointers as well as the ints POSIX names), up to 16 of them. */
CG_EXPORT void makecontext(ucontext_t *uc, void (*fn)(void), int argc, ...)
{
    unsigned long a[16] = { 0 };
    int n = argc < 0 ? 0 : argc > 16 ? 16 : argc;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < n; i++) a[i] = va_arg(ap, unsigned long);
    va_end(ap);
    cg_keep_stack((uintptr_t)uc->uc_stack.ss_sp, uc->uc_stack.ss_size);
    if (!CG_NEXT(makecontext)) return;
    cg_next.makecontext(uc, fn, n, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
                        a[12], a[13], a[14], a[15]);
}
