/* interpose_signal.c: the exported sigaction and signal. SIGSEGV is kept by
 * fault.c once cowguard handles it; every other signal passes through. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "internal.h"

CG_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    cg_init();
    return cg_sigaction(sig, act, old);
}

/* glibc's signal() has BSD semantics: the handler stays installed, the
 * signal is blocked while it runs, interrupted calls restart. It calls the
 * internal sigaction directly, so it must be interposed as well. */
CG_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    if (sig <= 0 || sig >= NSIG || sigaddset(&act.sa_mask, sig) != 0) {
        errno = EINVAL;
        return SIG_ERR;
    }
    cg_init();
    if (cg_sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}
