/* signals.c: the program's view of SIGSEGV.
 *
 * Once something is frozen, cowguard's handler owns SIGSEGV in the kernel.
 * The action the program asked for (before or after cowguard loaded, through
 * sigaction, signal or their older cousins) is kept here, reported back by
 * sigaction, and every fault that is not cowguard's goes to it.
 *
 * A write to frozen memory must reach the handler even in a thread that
 * blocked SIGSEGV (thread pools block everything; the kernel kills a
 * process whose fault signal is blocked). So SIGSEGV is never really
 * blocked: cowguard takes it out of every mask the program applies and
 * keeps the program's wish per thread. A fault that is not cowguard's then
 * gets what the kernel would have done with SIGSEGV blocked (the default
 * action), and a SIGSEGV sent by a process waits until the program unblocks
 * it, as a pending signal would. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static struct sigaction program_action; /* what the program believes is installed */
static _Atomic int installed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t segv_in_mask; /* bit sig: the program's sa_mask for sig had SIGSEGV */

/* The lock, with every signal blocked: a signal handler may call sigaction
 * (it is async-signal-safe), and must not find its own thread holding it. */
static void enter(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    cg_next.pthread_sigmask(SIG_BLOCK, &all, saved);
    pthread_mutex_lock(&lock);
}

static void leave(const sigset_t *saved)
{
    pthread_mutex_unlock(&lock);
    cg_next.pthread_sigmask(SIG_SETMASK, saved, NULL);
}

void cg_fault_lock(void)
{
    pthread_mutex_lock(&lock);
}

void cg_fault_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

void cg_fault_reset_lock(void)
{
    pthread_mutex_init(&lock, NULL);
}

/* The kernel action: cowguard's handler, with the mask and the flags the
 * program asked for, so its handler runs as it expects. */
static void apply_kernel_action(void)
{
    struct sigaction k;
    memset(&k, 0, sizeof k);
    k.sa_sigaction = cg_fault_handler;
    k.sa_mask = program_action.sa_mask;
    k.sa_flags = SA_SIGINFO | SA_RESTART | (program_action.sa_flags & (SA_NODEFER | SA_ONSTACK));
    cg_next.sigaction(SIGSEGV, &k, NULL);
}

/* Called before the first freeze; the action in place becomes the program's. */
void cg_fault_install(void)
{
    if (atomic_load(&installed)) return;
    sigset_t saved;
    enter(&saved);
    if (!atomic_load(&installed) && cg_next.sigaction(SIGSEGV, NULL, &program_action) == 0) {
        apply_kernel_action();
        atomic_store(&installed, 1);
    }
    leave(&saved);
}

int cg_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= 64) return cg_next.sigaction(sig, act, old);
    if (sig != SIGSEGV) {
        struct sigaction a;
        const struct sigaction *use = act;
        if (act && sigismember(&act->sa_mask, SIGSEGV) == 1) { /* never block SIGSEGV */
            a = *act;
            sigdelset(&a.sa_mask, SIGSEGV);
            use = &a;
        }
        uint64_t had = atomic_load(&segv_in_mask) >> sig & 1;
        int r = cg_next.sigaction(sig, use, old);
        if (r != 0) return r;
        if (old && had) sigaddset(&old->sa_mask, SIGSEGV);
        if (act) {
            if (use != act) atomic_fetch_or(&segv_in_mask, 1ULL << sig);
            else atomic_fetch_and(&segv_in_mask, ~(1ULL << sig));
        }
        return 0;
    }
    sigset_t saved;
    enter(&saved);
    int r = 0;
    if (!atomic_load(&installed)) {
        r = cg_next.sigaction(sig, act, old);
    } else {
        if (old) *old = program_action;
        if (act) {
            program_action = *act;
            apply_kernel_action();
        }
    }
    leave(&saved);
    return r;
}

/* ---- masks ---------------------------------------------------------------- */

/* A copy of set without SIGSEGV, for masks the program applies only while
 * it waits (sigsuspend, pselect, ppoll, epoll_pwait). */
const sigset_t *cg_mask_without_segv(const sigset_t *set, sigset_t *copy)
{
    if (!set || sigismember(set, SIGSEGV) != 1) return set;
    *copy = *set;
    sigdelset(copy, SIGSEGV);
    return copy;
}

/* sigprocmask and pthread_sigmask, through next (one of the two). */
int cg_sigmask(int how, const sigset_t *set, sigset_t *old,
               int (*next)(int, const sigset_t *, sigset_t *))
{
    /* Masks set from inside cowguard (libunwind guards its caches with
     * them) are cowguard's own, not the program's. */
    if (cg_tls.in_fault || cg_tls.busy) return next(how, set, old);
    bool blocked = cg_tls.segv_blocked;
    sigset_t copy;
    const sigset_t *use = set;
    if (set) {
        bool in = sigismember(set, SIGSEGV) == 1;
        if (how == SIG_BLOCK && in) blocked = true;
        else if (how == SIG_UNBLOCK && in) blocked = false;
        else if (how == SIG_SETMASK) blocked = in;
        use = cg_mask_without_segv(set, &copy);
    }
    int r = next(how, use, old);
    if (r != 0) return r;
    if (old && cg_tls.segv_blocked) sigaddset(old, SIGSEGV);
    cg_tls.segv_blocked = blocked;
    if (!blocked && cg_tls.segv_pending) { /* deliver what waited */
        cg_tls.segv_pending = 0;
        syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGSEGV);
    }
    return 0;
}

/* At start-up, in the main thread: a SIGSEGV blocked across exec is taken
 * out of the mask and kept as the program's wish. */
void cg_signals_setup(void)
{
    sigset_t cur;
    if (cg_next.pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGSEGV) == 1) {
        sigset_t segv;
        sigemptyset(&segv);
        sigaddset(&segv, SIGSEGV);
        cg_next.pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
        cg_tls.segv_blocked = 1;
    }
}

/* ---- faults that are not cowguard's --------------------------------------- */

static void default_action(int sig, siginfo_t *si)
{
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    cg_next.sigaction(sig, &d, NULL);
    /* A fault repeats when the handler returns and now kills; a signal sent
     * by a process does not, so it is sent again (it stays pending, blocked,
     * until this handler returns). */
    if (si->si_code <= 0) syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

void cg_signal_chain(int sig, siginfo_t *si, void *uc)
{
    bool sent = si->si_code <= 0;
    if (cg_tls.segv_blocked) {
        /* As with SIGSEGV blocked: the kernel kills on a fault, and a sent
         * signal waits until it is unblocked. */
        if (sent) cg_tls.segv_pending = 1;
        else default_action(sig, si);
        return;
    }
    struct sigaction p = program_action;
    if (p.sa_flags & SA_RESETHAND) {
        program_action.sa_handler = SIG_DFL;
        program_action.sa_flags &= ~(SA_SIGINFO | SA_RESETHAND);
    }
    /* SIG_DFL and SIG_IGN are dispositions whatever the flags say. */
    if (p.sa_handler == SIG_IGN) {
        if (!sent) default_action(sig, si); /* the kernel does not let a fault be ignored */
        return;
    }
    if (p.sa_handler == SIG_DFL) {
        default_action(sig, si);
        return;
    }
    if (p.sa_flags & SA_SIGINFO) p.sa_sigaction(sig, si, uc);
    else p.sa_handler(sig);
}
