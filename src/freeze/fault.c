/* fault.c: the SIGSEGV handler and the write policy.
 *
 * A write to frozen memory is counted, attributed and thawed (report), or
 * diagnosed (abort); every other fault goes to the program's own action
 * (signals.c) with the siginfo and context the kernel gave. The handler runs
 * in signal context: no malloc, no stdio, no locks another thread may hold. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

/* ---- writes to frozen memory -------------------------------------------- */

static const char *role(void)
{
    return cg_board && !cg_board_is_root() ? "child" : "root process";
}

/* Append a stack, one symbolized frame a line, sanitizer style. */
static size_t put_stack(char *buf, size_t size, int pid, const uintptr_t *frames, uint32_t n)
{
    size_t len = 0;
    for (uint32_t i = 0; i < n && len < size; i++) {
        cg_frame_t f;
        cg_symbolize(frames[i], &f);
        len += cg_fmt(buf + len, size - len, "==%d==    #%u %p in %s %s+0x%lx\n", pid, i,
                      (void *)(frames[i] - 1), f.function ? f.function : "??", f.object,
                      (unsigned long)f.offset);
    }
    return len;
}

static void abort_on_write(uintptr_t addr, const uintptr_t *writer, uint32_t nwriter, bool kernel)
{
    static char buf[16384]; /* static: the stack may be small (sigaltstack) */
    size_t n = 0;
    int pid = (int)getpid();
    n += cg_fmt(buf + n, sizeof buf - n,
                "==%d==ERROR: cowguard: write to frozen memory at %p in %s %d (parent %d)\n", pid,
                (void *)addr, role(), pid, (int)getppid());
    if (nwriter && n < sizeof buf) {
        n += cg_fmt(buf + n, sizeof buf - n, "==%d==  written by%s:\n", pid,
                    kernel ? " the kernel, for a read-family call made" : "");
        if (n < sizeof buf) n += put_stack(buf + n, sizeof buf - n, pid, writer, nwriter);
    }
    cg_block_info_t b;
    if (n < sizeof buf && cg_arena_block_info(addr, &b)) {
        const cg_site_t *site = cg_site_get(b.site);
        n += cg_fmt(buf + n, sizeof buf - n,
                    "==%d==  %p is %zu bytes inside a %zu-byte %s marked block at %p%s\n", pid,
                    (void *)addr, (size_t)(addr - b.start), b.size, b.live ? "live" : "freed",
                    (void *)b.start, site ? ", allocated by:" : "");
        if (site && n < sizeof buf) n += put_stack(buf + n, sizeof buf - n, pid, site->frames, site->nframes);
    }
    if (n < sizeof buf)
        n += cg_fmt(buf + n, sizeof buf - n,
                    "==%d==  COWGUARD_POLICY=abort; with COWGUARD_POLICY=report the page would be "
                    "copied and the program would go on\n==%d==ABORTING\n",
                    pid, pid);
    cg_write_all(2, buf, n < sizeof buf ? n : sizeof buf - 1);
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    cg_next.sigaction(SIGABRT, &d, NULL);
    abort();
}

/* The writer's stack: unwound from the signal context, or, for a write the
 * kernel is about to do for the program (uc NULL), the caller's. */
static uint32_t writer_stack(void *uc, uintptr_t *frames)
{
    if (!cg_board || !cg_board->site_frames) return 0;
    return uc ? cg_backtrace_signal(uc, frames, cg_board->site_frames)
              : cg_backtrace(frames, cg_board->site_frames);
}

/* Has this process begun to exit? Writes from then on (atexit handlers,
 * destructors, a terminating signal's way out) are counted apart. */
static _Atomic bool exiting;

void cg_fault_exiting(void)
{
    atomic_store(&exiting, true);
}

/* The write table's key for a writer stack and the block at addr. */
static uint32_t write_key(uint16_t writer, uintptr_t addr)
{
    cg_block_info_t b;
    uint16_t alloc = cg_arena_block_info(addr, &b) ? b.site : 0;
    return ((uint32_t)writer << 16 | alloc) + 1;
}

/* Count the write, whether it copies a page, and where it came from: the
 * writer's stack and the block's allocation site. */
static void note_write(uintptr_t addr, const uintptr_t *writer, uint32_t n, bool copied)
{
    bool late = atomic_load_explicit(&exiting, memory_order_relaxed);
    cg_board_note_write(copied, late);
    if (!cg_board || !cg_board->site_frames) return;
    uint32_t key = write_key(cg_site_id(writer, n), addr) - 1;
    cg_write_note((uint16_t)(key >> 16), (uint16_t)key, 1, copied, late);
}

/* A copy freeze.c settled: a pending page this process wrote, with what
 * made it pending (a system call's site, or none: a bulk thaw). */
static void on_copy(uint32_t site, cg_copy_how_t how)
{
    bool late = atomic_load_explicit(&exiting, memory_order_relaxed);
    if (how == CG_PENDING_MORE || how == CG_PENDING_LESS) {
        cg_board_note_pending(how == CG_PENDING_MORE ? 1 : -1);
        return;
    }
    cg_board_note_copy(site == 0, how == CG_COPY_ESTIMATED, late);
    if (site && cg_board && cg_board->site_frames)
        cg_write_note((uint16_t)((site - 1) >> 16), (uint16_t)(site - 1), 0, true, late);
}

void cg_fault_setup(void)
{
    cg_freeze_on_copy(on_copy);
}

static void on_frozen_write(uintptr_t addr, void *uc)
{
    uintptr_t writer[CG_MAX_FRAMES];
    if (cg_opt.policy == CG_POLICY_ABORT) {
        uint64_t e;
        bool copied = cg_pagemap_read(addr & ~(uintptr_t)(CG_PAGE - 1), 1, &e) != 0 || cg_pagemap_shared(e);
        uint32_t n = writer_stack(uc, writer);
        note_write(addr, writer, n, copied);
        abort_on_write(addr, writer, n, uc == NULL);
    }
    bool was_frozen, copied;
    int r = cg_thaw_page(addr, &was_frozen, &copied);
    if (was_frozen) {
        note_write(addr, writer, writer_stack(uc, writer), copied);
        if (cg_opt.verbose >= 1) {
            cg_block_info_t b;
            if (cg_arena_block_info(addr, &b))
                cg_message("trapped write at %p (%zu bytes into the block at %p)%s", (void *)addr,
                           (size_t)(addr - b.start), (void *)b.start, copied ? "; page copied" : "");
            else
                cg_message("trapped write at %p%s", (void *)addr, copied ? "; page copied" : "");
        }
    }
    if (r < 0) {
        /* The write cannot go on; say why, then fail the way the write would. */
        cg_message("cannot make %p writable again; the write to frozen memory fails", (void *)addr);
        if (uc) {
            struct sigaction d;
            memset(&d, 0, sizeof d);
            d.sa_handler = SIG_DFL;
            cg_next.sigaction(SIGSEGV, &d, NULL);
        }
    }
}

/* The kernel is about to write [a, a + len) for the program (read(2)
 * and friends): it would fail with EFAULT on a frozen page rather than
 * fault. So each frozen page there is made writable now and counted as a
 * write, with the caller's stack; it counts as copied only if the kernel
 * then writes it (it becomes pending, settled later), since a read of 100
 * bytes into a 1 MiB buffer writes one page. */
void cg_before_kernel_write(uintptr_t a, size_t len)
{
    uintptr_t end = __atomic_load_n(&cg_arena.frozen_end, __ATOMIC_ACQUIRE);
    if (cg_likely(len == 0 || a >= end || a + len <= cg_arena.base || !cg_arena_owns((void *)cg_arena.base)))
        return;
    uintptr_t from = a < cg_arena.base ? cg_arena.base : a & ~(uintptr_t)(CG_PAGE - 1);
    uintptr_t to = a + len < a || a + len > end ? end : a + len;
    uintptr_t frames[CG_MAX_FRAMES];
    int writer = -1; /* the caller's stack, taken once */
    for (uintptr_t p = from; p < to; p += CG_PAGE) {
        if (!cg_page_frozen(p)) continue;
        if (cg_opt.policy == CG_POLICY_ABORT) on_frozen_write(p < a ? a : p, NULL); /* does not return */
        if (writer < 0) writer = cg_site_id(frames, writer_stack(NULL, frames));
        uint32_t key = write_key((uint16_t)writer, p);
        bool was_frozen;
        cg_thaw_for_kernel(p, key, &was_frozen);
        if (!was_frozen) continue;
        cg_tls.kernel_thawed++; /* settled when the call is over (keep.c) */
        bool late = atomic_load_explicit(&exiting, memory_order_relaxed);
        cg_board_note_write(false, late);
        if (cg_board && cg_board->site_frames)
            cg_write_note((uint16_t)((key - 1) >> 16), (uint16_t)(key - 1), 1, false, late);
        if (cg_opt.verbose >= 1) cg_message("kernel write to frozen %p: made writable", (void *)p);
    }
}

/* The interrupted instruction's address. */
static uintptr_t fault_pc(void *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.pc;
#else
    return 0;
#endif
}

typedef struct {
    uintptr_t addr;
    void *uc;
} fault_t;

static void frozen_write(void *arg)
{
    fault_t *f = arg;
    on_frozen_write(f->addr, f->uc);
}

/* The kernel runs this with every asynchronous signal blocked and SIGSEGV
 * not blocked (signals.c). in_fault is raised only while cowguard itself
 * works: the program's own handler, chained below, may leave by
 * siglongjmp, and nothing of cowguard's may be left raised then. */
void cg_fault_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    uintptr_t addr = (uintptr_t)si->si_addr;
    /* Below frozen_end, only a freeze makes arena pages inaccessible. */
    if (si->si_code == SEGV_ACCERR && cg_arena_owns((void *)addr)
        && addr < __atomic_load_n(&cg_arena.frozen_end, __ATOMIC_ACQUIRE) && !cg_page_program_protected(addr)) {
        fault_t f = { addr, uc };
        cg_tls.in_fault++;
        cg_run_on_big_stack(frozen_write, &f); /* the alternate stack may be small */
        cg_tls.in_fault--;
    } else {
        uintptr_t pc = fault_pc(uc);
        if (si->si_code > 0 && cg_backtrace_own(pc))
            cg_message("fault at %p in cowguard's own code (address %p): a bad argument to a cowguard "
                       "call, or a bug in cowguard",
                       (void *)pc, (void *)addr);
        cg_signal_chain(sig, si, uc);
    }
    errno = saved;
}
