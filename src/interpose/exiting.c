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
#include <sys/stat.h>

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

/* The program itself has begun to exit, before its own teardown: exit()
 * (before the atexit handlers and destructors), or a Python interpreter's
 * finalization (the helper's atexit callback, cowguard__exiting). What the
 * rest of its memory copied so far is taken now too. */
void cg_exit_starts(void)
{
    cg_exit_begin();
    cg_space_exit_begins();
}

/* ---- never silent ----------------------------------------------------------
 * The process the launcher started (COWGUARD_LAUNCHED), or with
 * COWGUARD_VERBOSE any process not forked under cowguard, says at its end
 * in one line why there is no report: nothing was marked, nothing was
 * forked, or its children were started by exec and share nothing. */
static pid_t me_at_start;        /* 0 until cg_exit_setup; a forked child's own pid */
static bool forked_child;        /* this process was forked under cowguard */
static uint32_t forks_made;      /* forks this process made through cowguard */
static uint32_t foreign_reaped;  /* children it reaped that it did not fork (vfork, posix_spawn, clone) */
static dev_t stderr_dev;         /* what fd 2 was at start-up: the line goes there only, */
static ino_t stderr_ino;         /* never into a file the program opened on fd 2 since */
static bool stderr_known;

void cg_exit_note_fork(void)
{
    forks_made++;
}

void cg_exit_note_foreign(void)
{
    foreign_reaped++;
}

/* Its children still alive, by the kernel's list (Linux 3.5; 0 if absent). */
static uint32_t live_children(void)
{
    char path[64], buf[4096];
    cg_fmt(path, sizeof path, "/proc/self/task/%d/children", (int)me_at_start);
    size_t n = cg_proc_read(path, buf, sizeof buf);
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == ' ') count++;
    return count;
}

static bool says_why(void)
{
    pid_t me = getpid();
    if (me != me_at_start || cg_dest_off()) return false; /* a vfork child shares our memory: not us */
    /* Under the launcher only the program it started: with -v, make's
     * every compiler would say it too. */
    if (cg_opt.launched) return (pid_t)cg_opt.launched == me;
    return cg_opt.verbose && !forked_child;
}

/* Is fd 2 still the stderr the process started with? A program that
 * closed it (coreutils' close_stdout) or opened its own file on it
 * (close(2); open(...)) must not find cowguard's line in its output. */
static bool stderr_unchanged(void)
{
    struct stat st;
    return stderr_known && cg_sys_fstat(2, &st) == 0 && st.st_dev == stderr_dev && st.st_ino == stderr_ino;
}

static void say_why(void)
{
    if (!stderr_unchanged()) return;
    const char *prog = program_invocation_short_name;
    bool frames, python = cg_py_version(&frames) != NULL;
    const char *how = python ? "allocate it inside `with cowguard.readonly():` (under cowguard --python), or --prefork"
                             : "--min-size SIZE, --sites FUNCTION or --prefork";
    char marked[64] = "";
    if (cg_arena.ready && cg_arena.top > cg_arena.base) {
        char size[32];
        cg_bytes_text(cg_arena.live_bytes, size, sizeof size);
        if (cg_arena.live_bytes) cg_fmt(marked, sizeof marked, "%s of data was marked", size);
        else cg_fmt(marked, sizeof marked, "data was marked (and freed)");
    }
    uint32_t spawned = foreign_reaped + live_children();
    if (cg_opt.policy == CG_POLICY_OFF && forks_made && !cg_outside_wanted())
        cg_message("no report: COWGUARD_POLICY=off froze nothing, and the %u forked child%s measured only "
                   "marked data (COWGUARD_MEASURE=marked)", forks_made, forks_made == 1 ? "" : "ren");
    else if (forks_made) /* forked, yet no report: nothing frozen and the children not measured */
        cg_message("no report: nothing was frozen in %s and its %u forked child%s measured only marked data "
                   "(COWGUARD_MEASURE=marked); mark read-only data (%s) or measure all", prog, forks_made,
                   forks_made == 1 ? "" : "ren", how);
    else if (spawned)
        cg_message("no report: %s%s%s never forked; the %u process%s it started run%s a program of %s own (%s) "
                   "and share%s no memory with it%s", marked, marked[0] ? ", but " : "", prog, spawned,
                   spawned == 1 ? "" : "es", spawned == 1 ? "s" : "", spawned == 1 ? "its" : "their",
                   python ? "exec: subprocess, multiprocessing's spawn or forkserver" : "exec, posix_spawn or vfork",
                   spawned == 1 ? "s" : "",
                   python ? "; workers meant to share its data must be forked (multiprocessing.get_context(\"fork\"))"
                          : "");
    else if (marked[0])
        cg_message("no report: %s, but %s never forked: nothing was frozen or shared", marked, prog);
    else
        cg_message("no report: nothing was marked and %s never forked; to mark what forked workers will only "
                   "read: %s", prog, how);
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
    else if (cg_board_is_root() && says_why()) say_why(); /* a board the watch made, and no fork */
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
    if (done == me) return false;
    if (!cg_board || !cg_self || atomic_load(&cg_self->pid) != me) {
        if (me == me_at_start && says_why()) {
            done = me;
            say_why();
        }
        return false;
    }
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
    me_at_start = getpid();
    struct stat st;
    if (cg_sys_fstat(2, &st) == 0) {
        stderr_dev = st.st_dev;
        stderr_ino = st.st_ino;
        stderr_known = true;
    }
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
    me_at_start = getpid();
    forked_child = true;
    forks_made = foreign_reaped = 0;
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
