/* exiting.c: how a process leaves, and what cowguard does then.
 *
 * Every process records its own end: through exit() or a return from main
 * (on_exit), _exit or _Exit (exit.c), or a terminating signal whose
 * default action the program left (freeze/signals.c stands in for it). It
 * settles its pending pages, measures itself and, when it is the root of
 * the tree, writes the report for the whole tree; any other process writes
 * one of its own when COWGUARD_REPORT is a file template with %p. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "interpose.h"
#include "sys.h"

/* The process has begun to exit (exit(), or the start of the exit path):
 * copies so far were made while it worked; writes from now on are counted
 * apart. Async-signal-safe. */
void cg_exit_begin(void)
{
    cg_settle_all(false);
    cg_ledger_exiting();
}

typedef struct {
    cg_exit_how_t how;
    int code, sig;
    bool over_budget; /* the root: the tree copied more than COWGUARD_MAX_COPIED */
} leaving_t;

/* The exit status of a run over its budget (COWGUARD_MAX_COPIED), when
 * the program's own was 0. */
#define OVER_BUDGET 3

static void leave(void *arg)
{
    leaving_t *l = arg;
    pid_t me = getpid();
    cg_exit_begin();
    bool report = cg_report_wanted();
    /* Reading smaps_rollup costs more than the rest of an exit: only for a report. */
    if (report) cg_measure_self(cg_self);
    cg_board_note_exit(cg_self, l->how, l->code & 0xff, l->sig);
    if (report) {
        bool lines = l->how == CG_EXIT_EXIT; /* exit() is not called from signal handlers */
        if (cg_board_is_root()) {
            cg_board_await_root(2000); /* a daemon() child: the first process's own record */
            cg_report_write(0, lines);
        }
        else if (cg_dest_per_process()) cg_report_write((int32_t)me, lines);
    }
    if (cg_opt.max_copied && cg_board_is_root()) {
        if (!report) cg_measure_self(cg_self);
        l->over_budget = cg_report_over_budget();
    }
}

/* This process is leaving through exit (how = CG_EXIT_EXIT), _exit, or a
 * terminating signal whose default action the program left (sig).
 *
 * Signals are blocked meanwhile: without cowguard the process would already
 * be gone, and a SIGTERM its parent sends now (Pool.terminate does) must not
 * cut the report short or change how it ends. After _exit they stay blocked
 * (the process is leaving); after exit the program's mask comes back for
 * what exit still does. */
static bool process_exit(cg_exit_how_t how, int code, int sig)
{
    static pid_t done; /* once per process; a forked child starts over */
    pid_t me = getpid();
    /* A vfork or posix_spawn child shares its parent's memory, slot included,
     * and ran no atfork handler: it is not a worker, and must not touch them. */
    if (done == me || !cg_board || !cg_self || atomic_load(&cg_self->pid) != me) return false;
    done = me;
    int saved = errno;
    /* Every signal but the synchronous ones: a fault during the report (a
     * frozen page written while symbolizing, say) must reach cowguard's
     * handler, and a fault with SIGSEGV blocked would kill the process. */
    sigset_t all, old;
    cg_async_signals(&all);
    cg_next.pthread_sigmask(SIG_BLOCK, &all, &old);
    /* _exit may be called from a signal handler that interrupted cowguard:
     * locks are only tried, as in the fault handler; and the handler may
     * run on a small alternate stack. */
    cg_tls.no_wait++;
    leaving_t l = { how, code, sig, false };
    cg_run_on_big_stack(leave, &l);
    cg_tls.no_wait--;
    if (how == CG_EXIT_EXIT) cg_next.pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return l.over_budget;
}

/* Killed by sig, a terminating signal the program left at its default
 * action: measured and reported as it dies. */
static void killed(int sig)
{
    process_exit(CG_EXIT_SIGNAL, 0, sig);
}

/* exit(), or a return from main: on_exit passes the status, which a
 * destructor or an atexit handler would not see. */
static void on_exit_handler(int status, void *arg)
{
    if (process_exit(CG_EXIT_EXIT, status, 0) && status == 0) {
        /* over budget: the status becomes non-zero; what the program wrote
         * to its streams is flushed first, as exit would */
        fflush(NULL);
        if (cg_next._exit) cg_next._exit(OVER_BUDGET);
        cg_sys_exit_group(OVER_BUDGET);
    }
}

/* At the end of start-up. on_exit is registered first, so it runs after
 * the program's own atexit handlers. */
void cg_exit_setup(void)
{
    cg_signals_on_terminate(killed);
    on_exit(on_exit_handler, NULL);
}

/* COWGUARD_POLICY=abort: a parent that reaped a child cowguard aborted on
 * a write to frozen memory does not fork another in its place: it aborts
 * instead, with its own measurement and, in the root, the tree's report.
 * Without this, a server or a multiprocessing Pool respawns the workers
 * that aborted, forever, and no report is written. A parent that only
 * reaps, or forks its first workers while one aborts, goes on as the
 * program would. */
static pid_t reaped_aborted; /* in this process; a forked child starts with none */

void cg_exit_note_reaped(pid_t pid)
{
    if (cg_opt.policy == CG_POLICY_ABORT && pid > 0 && pid == cg_board_aborted()) reaped_aborted = pid;
}

void cg_exit_forked(void)
{
    reaped_aborted = 0;
}

void cg_exit_if_aborted(void)
{
    pid_t who = reaped_aborted;
    if (!who) return;
    cg_message("process %d aborted on a write to frozen memory (COWGUARD_POLICY=abort): ending the run", (int)who);
    process_exit(CG_EXIT_SIGNAL, 0, SIGABRT);
    cg_signal_default(SIGABRT);
    abort();
}

/* Record and measure this process's exit, then leave as _exit does. */
void cg_exit_now(int code)
{
    if (process_exit(CG_EXIT_UNDERSCORE, code, 0) && code == 0) code = OVER_BUDGET;
    if (cg_next._exit) cg_next._exit(code);
    cg_sys_exit_group(code);
}
