/* signal.c: the exported signal calls. SIGSEGV's action and the
 * masks the program applies go through freeze/signals.c; everything else passes
 * through. glibc's signal() and its older cousins call the internal
 * sigaction directly, so each is interposed and rebuilt on cg_sigaction. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "interpose.h"

CG_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    cg_init();
    return cg_sigaction(sig, act, old);
}

/* Install handler for sig with flags; the previous handler, or SIG_ERR. */
static sighandler_t install(int sig, sighandler_t handler, int flags, bool mask_self)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    if (sig <= 0 || sig >= NSIG || (mask_self && sigaddset(&act.sa_mask, sig) != 0)) {
        errno = EINVAL;
        return SIG_ERR;
    }
    cg_init();
    if (cg_sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

/* BSD semantics, glibc's default: the handler stays, the signal is blocked
 * while it runs, interrupted calls restart. */
CG_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    return install(sig, handler, SA_RESTART, true);
}

CG_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
    return install(sig, handler, SA_RESTART, true);
}

/* System V semantics (signal() under -std=c11): reset to the default when
 * the handler runs, the signal not blocked meanwhile. */
CG_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
    return install(sig, handler, SA_RESETHAND | SA_NODEFER, false);
}

CG_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
    return install(sig, handler, SA_RESETHAND | SA_NODEFER, false);
}

CG_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
    sigset_t one, old;
    sigemptyset(&one);
    if (sig <= 0 || sig >= NSIG || sigaddset(&one, sig) != 0) {
        errno = EINVAL;
        return SIG_ERR;
    }
    cg_init();
    if (disp == SIG_HOLD) { /* block it, leave the disposition */
        struct sigaction cur;
        if (cg_sigaction(sig, NULL, &cur) != 0 || cg_sigmask(SIG_BLOCK, &one, &old, cg_next.pthread_sigmask) != 0)
            return SIG_ERR;
        return sigismember(&old, sig) == 1 ? SIG_HOLD : cur.sa_handler;
    }
    sighandler_t prev = install(sig, disp, 0, false);
    if (prev == SIG_ERR || cg_sigmask(SIG_UNBLOCK, &one, &old, cg_next.pthread_sigmask) != 0) return SIG_ERR;
    return sigismember(&old, sig) == 1 ? SIG_HOLD : prev;
}

CG_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    cg_init();
    return cg_sigmask(how, set, old, cg_next.sigprocmask);
}

CG_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    cg_init();
    return cg_sigmask(how, set, old, cg_next.pthread_sigmask);
}

CG_EXPORT int sigsuspend(const sigset_t *mask)
{
    sigset_t copy;
    if (!CG_NEXT(sigsuspend)) {
        errno = ENOSYS;
        return -1;
    }
    return cg_next.sigsuspend(cg_mask_without_segv(mask, &copy));
}

/* The waits that also take a signal mask; their buffers are kept writable
 * while they wait, as in io.c. */
CG_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *mask)
{
    sigset_t copy;
    cg_keeps_t k = { .n = 0 };
    cg_keeps_add(&k, r, r ? sizeof *r : 0);
    cg_keeps_add(&k, w, w ? sizeof *w : 0);
    cg_keeps_add(&k, e, e ? sizeof *e : 0);
    int ret = CG_NEXT(pselect) ? cg_next.pselect(n, r, w, e, t, cg_mask_without_segv(mask, &copy)) : (errno = ENOSYS, -1);
    cg_keeps_end(&k);
    return ret;
}

CG_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
    sigset_t copy;
    int slot = cg_keep_call_begin((uintptr_t)fds, n * sizeof *fds);
    int ret = CG_NEXT(ppoll) ? cg_next.ppoll(fds, n, t, cg_mask_without_segv(mask, &copy)) : (errno = ENOSYS, -1);
    cg_keep_call_end(slot);
    return ret;
}

CG_EXPORT int epoll_pwait(int fd, struct epoll_event *ev, int n, int timeout, const sigset_t *mask)
{
    sigset_t copy;
    int slot = cg_keep_call_begin((uintptr_t)ev, n > 0 ? (size_t)n * sizeof *ev : 0);
    int ret = CG_NEXT(epoll_pwait) ? cg_next.epoll_pwait(fd, ev, n, timeout, cg_mask_without_segv(mask, &copy))
                                   : (errno = ENOSYS, -1);
    cg_keep_call_end(slot);
    return ret;
}
