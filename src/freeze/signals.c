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
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "freeze.h"

static struct sigaction program_action; /* what the program believes is installed */
static _Atomic int installed;
static cg_handler_fn segv_handler;      /* cowguard's (fault.c) */
static void (*terminate_hook)(int sig); /* measures and reports a process a signal ends */

/* The program's view of SIGSEGV in this thread (below). */
static __thread struct {
    bool blocked;      /* the program asked for SIGSEGV blocked in this thread */
    uint8_t pending;   /* a sent SIGSEGV waits for the program to unblock it */
    uintptr_t chain_sp; /* the frame that called the program's SIGSEGV handler, 0 if none */
    bool chain_blocked; /* inside that handler: the program's view of SIGSEGV blocked */
} view_of CG_TLS;
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

void cg_signals_lock(void)
{
    pthread_mutex_lock(&lock);
}

void cg_signals_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

void cg_signals_reset_lock(void)
{
    pthread_mutex_init(&lock, NULL);
}

/* Put the default action of sig back (the kernel's, not the program's
 * view), so that what comes next (a repeated fault, abort, a signal sent
 * again) ends the process as it would without cowguard. */
void cg_signal_default(int sig)
{
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    cg_next.sigaction(sig, &d, NULL);
}

/* Every signal but those a fault raises: what cowguard blocks while it
 * works on a fault or writes a report. */
void cg_async_signals(sigset_t *set)
{
    sigfillset(set);
    sigdelset(set, SIGSEGV);
    sigdelset(set, SIGBUS);
    sigdelset(set, SIGILL);
    sigdelset(set, SIGFPE);
    sigdelset(set, SIGTRAP);
    sigdelset(set, SIGSYS);
}

/* The kernel action: cowguard's handler, with the program's SA_ONSTACK.
 *
 * SA_NODEFER always: a write to frozen memory inside the program's own
 * SIGSEGV handler must trap like any other, and the kernel kills a process
 * that faults with SIGSEGV blocked. Every other signal is blocked while
 * cowguard works on a fault (an asynchronous handler that jumps out with
 * siglongjmp would leave an unwind or a lock half done); cg_signal_chain
 * sets the mask the program's handler expects before calling it. */
static void apply_kernel_action(void)
{
    struct sigaction k;
    memset(&k, 0, sizeof k);
    k.sa_sigaction = segv_handler;
    cg_async_signals(&k.sa_mask);
    k.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER | (program_action.sa_flags & SA_ONSTACK);
    cg_next.sigaction(SIGSEGV, &k, NULL);
}

/* ---- terminating signals ---------------------------------------------------
 *
 * A worker ended by SIGTERM (Pool.terminate, `with Pool()`), SIGINT or
 * SIGHUP would die without measuring itself. Where the program left such a
 * signal at its default action, cowguard's handler stands in for it: it
 * measures the process, writes its report, puts the default action back
 * and sends the signal again, so the process dies by it as before. The
 * program sees SIG_DFL; the moment it installs a handler of its own, that
 * handler replaces cowguard's, and SIG_DFL set again brings it back. */
static _Atomic uint64_t stand_in; /* bit sig: cowguard's handler stands in for SIG_DFL */

static bool terminating(int sig)
{
    return sig == SIGTERM || sig == SIGINT || sig == SIGHUP;
}

static bool is_default(const struct sigaction *a)
{
    return a->sa_handler == SIG_DFL; /* sa_sigaction shares the field: NULL either way */
}

/* Who measures and reports a process that a terminating signal ends (the
 * interpose layer's exit path). */
void cg_signals_on_terminate(void (*fn)(int sig))
{
    terminate_hook = fn;
}

static void on_terminate(int sig)
{
    int saved = errno;
    if (terminate_hook) terminate_hook(sig);
    cg_signal_default(sig);
    atomic_fetch_and(&stand_in, ~(1ULL << sig));
    /* Blocked while this handler runs: delivered, and fatal, on return. */
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
    errno = saved;
}

/* The lock held: make cowguard's handler stand in for SIG_DFL of sig. */
static void stand_in_for(int sig)
{
    struct sigaction k;
    memset(&k, 0, sizeof k);
    k.sa_handler = on_terminate;
    cg_async_signals(&k.sa_mask);
    k.sa_flags = SA_RESTART;
    if (cg_next.sigaction(sig, &k, NULL) == 0) atomic_fetch_or(&stand_in, 1ULL << sig);
}

static int terminating_action(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct sigaction want; /* act and old may be the same struct */
    if (act) {
        want = *act;
        sigdelset(&want.sa_mask, SIGSEGV); /* never blocked, as for every handler */
    }
    sigset_t saved;
    enter(&saved);
    int r = 0;
    if (atomic_load(&stand_in) >> sig & 1) {
        if (old) { /* the program's view: the default action */
            memset(old, 0, sizeof *old);
            old->sa_handler = SIG_DFL;
        }
        if (act && !is_default(&want)) {
            r = cg_next.sigaction(sig, &want, NULL);
            if (r == 0) atomic_fetch_and(&stand_in, ~(1ULL << sig));
        }
    } else {
        r = cg_next.sigaction(sig, act ? &want : NULL, old);
        if (r == 0 && act && is_default(&want) && atomic_load(&installed)) stand_in_for(sig);
    }
    leave(&saved);
    return r;
}

/* Before the first freeze: handler takes SIGSEGV in the kernel, and the
 * action in place becomes the program's. */
void cg_signals_take_segv(cg_handler_fn handler)
{
    if (atomic_load(&installed)) return;
    sigset_t saved;
    enter(&saved);
    segv_handler = handler;
    if (!atomic_load(&installed) && cg_next.sigaction(SIGSEGV, NULL, &program_action) == 0) {
        apply_kernel_action();
        static const int term[] = { SIGTERM, SIGINT, SIGHUP };
        for (size_t i = 0; i < sizeof term / sizeof term[0]; i++) {
            struct sigaction cur;
            if (cg_next.sigaction(term[i], NULL, &cur) == 0 && is_default(&cur)) stand_in_for(term[i]);
        }
        atomic_store(&installed, 1);
    }
    leave(&saved);
}

int cg_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= 64) return cg_next.sigaction(sig, act, old);
    if (terminating(sig)) return terminating_action(sig, act, old);
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
    struct sigaction want; /* act and old may be the same struct */
    if (act) want = *act;
    sigset_t saved;
    enter(&saved);
    int r = 0;
    if (!atomic_load(&installed)) {
        r = cg_next.sigaction(sig, act ? &want : NULL, old);
    } else {
        if (old) *old = program_action;
        if (act) {
            program_action = want;
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

/* ---- the program's SIGSEGV handler, running ------------------------------
 *
 * The kernel blocks SIGSEGV while a handler without SA_NODEFER runs;
 * cowguard never does (its own handler must run), so it keeps the
 * program's view of that: "inside the handler, SIGSEGV is blocked", as the
 * program's own mask calls there change it. The handler may leave by
 * siglongjmp, past any cleanup, so nothing may depend on a flag being
 * lowered: the view is tied to the frame that called the handler. That
 * frame holds a cookie; the view applies while the stack pointer is below
 * the frame and the cookie is intact, and is forgotten once the program
 * runs above it or its stack has overwritten it. */
#define CHAIN_COOKIE 0x636f77677561726dULL /* "cowguarm" */

static bool cookie_intact(uintptr_t mark)
{
    uint64_t v;
    struct iovec local = { &v, sizeof v }, remote = { (void *)mark, sizeof v };
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof v && v == (CHAIN_COOKIE ^ mark);
}

/* Is the stack pointer sp inside the program's handler (no SA_NODEFER)? */
static bool inside_handler(uintptr_t sp)
{
    uintptr_t mark = view_of.chain_sp;
    if (!mark) return false;
    if (sp >= mark || mark - sp > ((uintptr_t)64 << 20)) {
        if (sp >= mark) view_of.chain_sp = 0; /* the program runs above the frame: the handler is gone */
        return false;
    }
    if (cookie_intact(mark)) return true;
    view_of.chain_sp = 0;
    return false;
}

/* The program's view: is SIGSEGV blocked in this thread, here? */
static bool *view(uintptr_t sp)
{
    return inside_handler(sp) ? &view_of.chain_blocked : &view_of.blocked;
}

/* sigprocmask and pthread_sigmask, through next (one of the two). */
int cg_sigmask(int how, const sigset_t *set, sigset_t *old,
               int (*next)(int, const sigset_t *, sigset_t *))
{
    /* Masks set from inside cowguard (libunwind guards its caches with
     * them) are cowguard's own, not the program's; they leave SIGSEGV
     * open all the same: what libunwind writes meanwhile may be memory
     * watched in place (space.c), and a fault with SIGSEGV blocked kills. */
    if (cg_tls.no_wait || cg_tls.busy) {
        sigset_t own;
        return next(how, set ? cg_mask_without_segv(set, &own) : NULL, old);
    }
    bool *v = view((uintptr_t)__builtin_frame_address(0));
    bool blocked = *v;
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
    if (old && *v) sigaddset(old, SIGSEGV);
    *v = blocked;
    if (!blocked && view_of.pending) { /* deliver what waited */
        view_of.pending = 0;
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
        view_of.blocked = 1;
    }
}

/* ---- faults that are not cowguard's --------------------------------------- */

static void default_action(int sig, siginfo_t *si)
{
    cg_signal_default(sig);
    /* A fault repeats when the handler returns and now kills; a signal sent
     * by a process does not, so it is sent again (it stays pending, blocked,
     * until this handler returns). */
    if (si->si_code <= 0) syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

void cg_signal_chain(int sig, siginfo_t *si, void *uc)
{
    bool sent = si->si_code <= 0;
    struct sigaction p = program_action;
    if (*view(cg_context_sp(uc))) {
        /* As with SIGSEGV blocked: the kernel kills on a fault, and a sent
         * signal waits until it is unblocked. */
        if (sent) view_of.pending = 1;
        else default_action(sig, si);
        return;
    }
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
    /* The mask the kernel would have set for the program's handler: the
     * interrupted one and the handler's sa_mask (SIGSEGV itself never). */
    sigset_t mask = ((ucontext_t *)uc)->uc_sigmask;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&p.sa_mask, s) == 1) sigaddset(&mask, s);
    sigdelset(&mask, SIGSEGV);
    cg_next.pthread_sigmask(SIG_SETMASK, &mask, NULL);
    volatile uint64_t cookie;
    uintptr_t outer = view_of.chain_sp;
    bool outer_blocked = view_of.chain_blocked;
    if (!(p.sa_flags & SA_NODEFER)) {
        cookie = CHAIN_COOKIE ^ (uintptr_t)&cookie;
        view_of.chain_blocked = true;
        view_of.chain_sp = (uintptr_t)&cookie;
    }
    if (p.sa_flags & SA_SIGINFO) p.sa_sigaction(sig, si, uc);
    else p.sa_handler(sig);
    cookie = 0; /* not reached if the handler jumped out */
    view_of.chain_sp = outer;
    view_of.chain_blocked = outer_blocked;
}

/* Is SIGSEGV blocked in this thread, by the kernel's account (glibc blocks
 * every signal with the raw system call around parts of a thread's exit,
 * which no wrapper sees)? Then unblock it for a moment: a write to memory
 * watched in place (space.c) must trap, and the kernel kills a process
 * whose write faults with SIGSEGV blocked. Only the synchronous SIGSEGV
 * is let through. true: it was blocked; cg_signals_close_segv puts it back. */
bool cg_signals_open_segv(void)
{
    uint64_t cur = 0, segv = 1ULL << (SIGSEGV - 1);
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, sizeof cur) != 0 || !(cur & segv)) return false;
    return syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &segv, NULL, sizeof segv) == 0;
}

void cg_signals_close_segv(bool opened)
{
    uint64_t segv = 1ULL << (SIGSEGV - 1);
    if (opened) syscall(SYS_rt_sigprocmask, SIG_BLOCK, &segv, NULL, sizeof segv);
}
