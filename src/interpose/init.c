/* init.c: start-up.
 *
 * cg_init() runs once, from the constructor or from whichever allocation
 * comes first. Until it has found the next malloc, requests are served from
 * the bootstrap pool (alloc/boot.c). Nothing here reserves memory or
 * installs a handler: the arena waits for the first marked allocation
 * (cg_marking_ready), the SIGSEGV handler for the first freeze, so a
 * program that marks nothing runs as if cowguard were not there. */
#include <errno.h>
#include <sched.h>

#include "interpose.h"

extern char **environ;

_Atomic int cg_state;

void cg_init(void)
{
    if (cg_likely(cg_is_ready())) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&cg_state, &expected, 1)) {
        if (cg_tls.busy) return; /* our own recursion, from inside dlsym */
        while (!cg_is_ready()) sched_yield();
        return;
    }
    cg_tls.busy++;
    cg_free_fn next_free = cg_next_resolve();
    cg_options_load(environ);
    cg_py_setup(); /* before the board is made: it holds Python locations in a CPython */
    if (sysconf(_SC_PAGESIZE) != (long)CG_PAGE) {
        cg_message("page size %ld is not supported; passing everything through",
                   sysconf(_SC_PAGESIZE));
    } else {
        cg_mark_setup();
    }
    cg_atfork_setup();
    cg_tcache_setup();
    cg_signals_setup();
    cg_stack_setup();
    cg_ledger_setup();
    /* The watch records every block's site from the start: the stacks go
     * on the board, made now rather than at the first fork. */
    if (cg_opt.watch != CG_WATCH_MARKED && !cg_board_setup())
        cg_message("cannot map the process-tree board; COWGUARD_WATCH records no allocation sites");
    cg_heap_setup();
    cg_own_code_setup();
    cg_exit_setup();
    cg_boot_guard_next(next_free); /* start-up's last allocation is done */
    atomic_store_explicit(&cg_state, 2, memory_order_release);
    cg_mark_refresh(); /* last: until now every request took the slow path, which waits for this */
    cg_tls.busy--;
}

__attribute__((constructor)) static void cg_constructor(void)
{
    cg_init();
}

/* The arena, the page bitmaps and the board, made at the first marked
 * allocation. If they cannot be made, marking is switched off for good and
 * everything passes through. true: marked blocks can be had. */
bool cg_marking_ready(void)
{
    if (cg_likely(cg_arena_ready())) return true;
    cg_arena_lock(); /* the fork prepare handler takes it too: no fork mid-setup */
    if (!cg_arena_ready() && cg_mark_enabled) {
        bool arena = cg_arena_setup(cg_opt.arena_max);
        if (!arena || !cg_freeze_setup()) {
            if (arena) cg_arena_withdraw();
            cg_message("cannot reserve %zuM of address space for marked data (%s); "
                       "passing every allocation through",
                       (size_t)(cg_opt.arena_max >> 20), cg_strerror(errno));
            cg_mark_enabled = false;
            cg_mark_refresh();
        } else if (!cg_board_setup()) {
            cg_message("cannot map the process-tree board; the report will cover this process only");
        }
    }
    cg_arena_unlock();
    return cg_arena_ready();
}
