/* fork.c: what a fork does to cowguard's state.
 *
 * The prepare handler takes every cowguard lock (arena, fault, symbolizer) and
 * freezes the arena, so the child starts with consistent allocator state
 * and frozen pages. It is registered at start-up, before any other library
 * can register one, and prepare handlers run in reverse order: it runs last,
 * after handlers that might still allocate. */
#include <unistd.h>

#include "internal.h"

static bool frozen_by_fork; /* this fork froze the arena */

static void prepare(void)
{
    cg_backtrace_prefork();
    cg_arena_lock();
    cg_mark_fork();
    frozen_by_fork = false;
    if (cg_arena.ready && cg_opt.policy != CG_POLICY_OFF)
        frozen_by_fork = cg_freeze_all() == 0 && cg_arena.top > cg_arena.base;
    /* A slot reserved for a fork that failed is still empty: use it again. */
    if (!cg_tls.fork_slot_unused) cg_tls.fork_slot = cg_arena.ready ? cg_board_reserve() : UINT32_MAX;
    cg_tls.fork_slot_unused = false;
    cg_fault_lock();
    cg_symbolize_lock();
}

static void parent(void)
{
    cg_symbolize_unlock();
    cg_fault_unlock();
    if (frozen_by_fork && !cg_opt.freeze_parent) cg_thaw_all();
    cg_arena_unlock();
    cg_backtrace_postfork_parent();
}

static void child(void)
{
    cg_backtrace_postfork_child();
    cg_symbolize_reset_lock();
    cg_fault_reset_lock();
    cg_arena_reset_lock();
    cg_measure_child();
    if (cg_arena.ready) {
        cg_freeze_child();
        cg_keep_child();
        cg_board_child(cg_tls.fork_slot);
        cg_measure_fork(cg_self);
    }
}

void cg_fork_setup(void)
{
    pthread_atfork(prepare, parent, child);
}

/* After fork() returned in the parent, in the thread that forked. */
void cg_fork_done(pid_t pid)
{
    if (pid < 0) cg_tls.fork_slot_unused = cg_tls.fork_slot != UINT32_MAX;
    if (pid <= 0 || !cg_board) return;
    cg_board_forked(cg_tls.fork_slot, pid);
    if (frozen_by_fork) atomic_fetch_add(&cg_board->forks, 1);
}
