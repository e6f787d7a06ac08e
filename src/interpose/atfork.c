/* atfork.c: what a fork does to cowguard's state.
 *
 * The prepare handler takes every cowguard lock (arena, signals,
 * symbolizer) and freezes the arena, so the child starts with consistent
 * allocator state and frozen pages. It is registered at start-up; prepare
 * handlers run in the reverse order of registration, so handlers that
 * libraries register later (and that may still allocate) run before it.
 * One registered earlier (by a library whose constructor ran before
 * cowguard's) runs after it, with the arena locked. */
#include "interpose.h"

static bool frozen_by_fork; /* this fork froze the arena */

/* The board slot reserved for the child of this thread's fork. */
static __thread struct {
    uint32_t slot;
    bool unused; /* that fork failed: the slot is still free */
} fork_slot CG_TLS;

/* Arena lock held: the handler takes SIGSEGV, the arena is frozen, and the
 * board learns how much. Nothing to do before the first marked block. */
static int freeze_locked(void)
{
    if (!cg_arena_ready() || cg_arena.top == cg_arena.base) return 0;
    cg_fault_install();
    cg_freeze_result_t res;
    int r = cg_freeze_all(&res);
    if (r == 0 && res.pages) cg_board_note_freeze(res.marked_bytes, res.pages);
    return r;
}

/* cowguard_freeze(): a freeze without a fork. */
int cg_freeze_now(void)
{
    cg_arena_lock();
    frozen_by_fork = false; /* the program asked: it stays frozen until it thaws */
    int r = freeze_locked();
    cg_arena_unlock();
    return r;
}

static void prepare(void)
{
    cg_backtrace_prefork();
    cg_arena_lock();
    cg_mark_fork();
    frozen_by_fork = false;
    if (cg_arena_ready() && cg_opt.policy != CG_POLICY_OFF)
        frozen_by_fork = freeze_locked() == 0 && cg_arena.top > cg_arena.base;
    /* COWGUARD_MEASURE=all: every fork is measured, marked data or not;
     * the board is made at the first one when nothing was marked before. */
    if (!cg_board && cg_outside_wanted() && !cg_board_setup())
        cg_message("cannot map the process-tree board; no report will cover the children");
    /* With the handler come the stand-ins for SIGTERM, SIGINT and SIGHUP
     * (freeze/signals.c): a worker a Pool terminates measures itself. */
    if (cg_board && cg_outside_wanted()) cg_fault_install();
    /* A slot reserved for a fork that failed is still empty: use it again. */
    if (!fork_slot.unused) fork_slot.slot = cg_board ? cg_board_reserve() : UINT32_MAX;
    fork_slot.unused = false;
    cg_signals_lock();
    cg_symbolize_lock();
}

static void parent(void)
{
    cg_symbolize_unlock();
    cg_signals_unlock();
    if (frozen_by_fork && !cg_opt.freeze_parent) cg_thaw_all();
    cg_arena_unlock();
    cg_backtrace_postfork_parent();
}

static void child(void)
{
    cg_backtrace_postfork_child();
    cg_mark_child();
    cg_symbolize_reset_lock();
    cg_signals_reset_lock();
    cg_arena_reset_lock();
    cg_pagemap_child();
    if (cg_arena_ready()) {
        cg_freeze_child();
        cg_keep_child();
    }
    if (cg_board) {
        cg_board_child(fork_slot.slot);
        cg_measure_fork(cg_self);
    }
    cg_heap_child();
    /* Last: what it shares with its parent, and the watch over it. */
    if (cg_board && cg_self && cg_outside_wanted()) {
        cg_space_child((int)cg_opt.watch);
    }
}

/* Was the last freeze a fork's (not cowguard_freeze())? */
bool cg_frozen_by_fork(void)
{
    return frozen_by_fork;
}

void cg_atfork_setup(void)
{
    pthread_atfork(prepare, parent, child);
}

/* After fork() returned in the parent, in the thread that forked. */
void cg_fork_done(pid_t pid)
{
    if (pid < 0) fork_slot.unused = fork_slot.slot != UINT32_MAX;
    if (pid <= 0 || !cg_board) return;
    cg_board_forked(fork_slot.slot, pid);
    if (frozen_by_fork) atomic_fetch_add(&cg_board->forks, 1);
}
