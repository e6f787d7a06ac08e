/* fault.c: the SIGSEGV handler and the write policy.
 *
 * A write to frozen memory is thawed and told to the watcher (report), or
 * told and fatal (abort); every other fault goes to the program's own
 * action (signals.c) with the siginfo and context the kernel gave. The
 * handler runs in signal context: no malloc, no stdio, no locks another
 * thread may hold. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "freeze.h"

/* COWGUARD_POLICY=abort: a write to frozen memory at addr, by the program
 * (uc, its signal context) or by the kernel for a call (uc NULL), ends the
 * process with the watcher's diagnostic. */
void cg_fault_abort(uintptr_t addr, void *uc)
{
    uint64_t e;
    bool copied = cg_pagemap_read(cg_page_down(addr), 1, &e) != 0 || cg_pagemap_shared(e);
    const cg_watch_t *w = cg_watcher();
    if (w) w->abort(addr, uc, copied);
    cg_message("write to frozen memory at %p; COWGUARD_POLICY=abort", (void *)addr);
    cg_signal_default(SIGABRT);
    abort();
}

static void on_frozen_write(uintptr_t addr, void *uc)
{
    /* The allocator's own write into a block it holds, frozen by a fork in
     * another thread a moment ago: thawed and counted, never aborted on. */
    if (cg_opt.policy == CG_POLICY_ABORT && !cg_tls.alloc_writing) cg_fault_abort(addr, uc);
    bool was_frozen, copied;
    int r = cg_thaw_page(addr, &was_frozen, &copied);
    if (was_frozen) {
        const cg_watch_t *w = cg_watcher();
        if (w) w->write(addr, uc, copied, 0);
        if (cg_opt.verbose >= 1) {
            cg_block_info_t b;
            if (cg_block_info(addr, &b))
                cg_message("trapped write at %p (%zu bytes into the block at %p)%s", (void *)addr,
                           (size_t)(addr - b.start), (void *)b.start, copied ? "; page copied" : "");
            else
                cg_message("trapped write at %p%s", (void *)addr, copied ? "; page copied" : "");
        }
    }
    if (r < 0) {
        /* The write cannot go on; say why, then fail the way the write would. */
        cg_message("cannot make %p writable again; the write to frozen memory fails", (void *)addr);
        if (uc) cg_signal_default(SIGSEGV);
    }
}

typedef struct {
    uintptr_t addr;
    void *uc;
} fault_t;

/* A first write to a page watched in place (space.c): thawed, and told
 * with its context unless cowguard itself wrote it, from inside this
 * handler (the unwinder's caches live in memory it watches). Never
 * aborted on: the watch is a diagnosis of the program as it is. */
static void watched_write(void *arg)
{
    fault_t *f = arg;
    bool was, copied;
    bool nested = cg_tls.no_wait > 1;
    cg_space_thaw(f->addr, &was, &copied);
    const cg_watch_t *w = cg_watcher();
    if (was && !nested && w && w->watched) w->watched(f->addr, f->uc, copied);
    if (was && cg_opt.verbose >= 1)
        cg_message("trapped write at %p (watched in place)%s", (void *)f->addr, copied ? "; page copied" : "");
}

static void frozen_write(void *arg)
{
    fault_t *f = arg;
    on_frozen_write(f->addr, f->uc);
}

/* The kernel runs this with every asynchronous signal blocked and SIGSEGV
 * not blocked (signals.c). no_wait is raised only while cowguard itself
 * works: the program's own handler, chained below, may leave by
 * siglongjmp, and nothing of cowguard's may be left raised then. */
static void fault_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    uintptr_t addr = (uintptr_t)si->si_addr;
    /* cowguard reading another runtime's memory, which may be inconsistent
     * where the thread was stopped: the read is abandoned. */
    if (cg_tls.probe) siglongjmp(*(sigjmp_buf *)cg_tls.probe, 1);
    if (si->si_code == SEGV_ACCERR && cg_frozen_fault(addr)) {
        fault_t f = { addr, uc };
        cg_tls.no_wait++;
        cg_run_on_big_stack(frozen_write, &f); /* the alternate stack may be small */
        cg_tls.no_wait--;
    } else if (si->si_code == SEGV_ACCERR && cg_space_fault(addr)) {
        fault_t f = { addr, uc };
        cg_tls.no_wait++;
        cg_run_on_big_stack(watched_write, &f);
        cg_tls.no_wait--;
    } else {
        uintptr_t pc = cg_context_pc(uc);
        if (si->si_code > 0 && cg_own_code(pc))
            cg_message("fault at %p in cowguard's own code (address %p): a bad argument to a cowguard "
                       "call, or a bug in cowguard",
                       (void *)pc, (void *)addr);
        cg_signal_chain(sig, si, uc);
    }
    errno = saved;
}

/* Before the first freeze: cowguard's handler takes SIGSEGV. */
void cg_fault_install(void)
{
    cg_signals_take_segv(fault_handler);
}
