/* freeze.h: freezing, thawing, and everything that must happen for a
 * frozen page to be safe (above alloc).
 *
 * A page is frozen when a freeze made it read-only; a write to it traps,
 * and the fault handler thaws it. Pages made writable without a trap are
 * pending until the kernel's record of writes says whether they were
 * copied. The layer counts nothing itself: what it sees (a write, a copy
 * settled) it tells the watcher the layer above sets. */
#ifndef CG_FREEZE_H
#define CG_FREEZE_H

#include <sys/ioctl.h>

#include "alloc.h"

#pragma GCC visibility push(hidden) /* as in base.h */

/* How a settled page is counted. */
typedef enum {
    CG_COPY_SETTLED,   /* a pending page the kernel says was written: a copy */
    CG_COPY_ESTIMATED, /* a pending page the kernel shows private, its writes not recorded */
    CG_PENDING_MORE,   /* not a copy: one more page pending */
    CG_PENDING_LESS,   /* not a copy: one page less pending */
} cg_copy_how_t;

/* What the layer above learns from this one; every call is made from
 * wherever the event happens (the fault handler, a wrapper, the exit path),
 * so each must be async-signal-safe. A tag names what wrote a page the
 * kernel wrote for a call; 0 is none. */
/* What the watcher (attrib/ledger.c) names a page's writer by, kept with
 * a page the kernel will write until it settles; 0: none. */
typedef uint64_t cg_tag_t;

typedef struct cg_watch_s {
    /* A write to the frozen page at addr, now made writable by this thread:
     * the program's own (uc, its signal context), or the kernel's for a
     * call (uc NULL, with tag). copied: another process shared the page. */
    void (*write)(uintptr_t addr, void *uc, bool copied, cg_tag_t tag);
    /* The kernel is about to write the frozen page at addr for a call: the
     * tag to keep with the page. memo starts at 0 for each call. */
    cg_tag_t (*kernel_tag)(uintptr_t addr, cg_tag_t *memo);
    /* A pending page settled (tag: what made it pending), or the pending
     * count changed. */
    void (*copy)(cg_tag_t tag, cg_copy_how_t how);
    /* COWGUARD_POLICY=abort: say what wrote and where, then abort (it does
     * not return). */
    void (*abort)(uintptr_t addr, void *uc, bool copied);
    /* The first write to a page watched in place (space.c), by the
     * program (uc); copied: another process shared the page. */
    void (*watched)(uintptr_t addr, void *uc, bool copied);
} cg_watch_t;

/* What a freeze did. */
typedef struct cg_freeze_result_s {
    size_t pages;        /* frozen now */
    size_t marked_bytes; /* live marked bytes in them */
} cg_freeze_result_t;

/* ---- "freeze.c": the page states ------------------------------------------------ */
bool cg_freeze_setup(void);
void cg_freeze_watch(const cg_watch_t *w);
const cg_watch_t *cg_watcher(void);
int cg_freeze_all(cg_freeze_result_t *out);
int cg_thaw_all(void);
bool cg_page_frozen(uintptr_t addr);
bool cg_frozen_fault(uintptr_t addr);
uintptr_t cg_ever_frozen_end(void);
size_t cg_frozen_pages(void);
int cg_thaw_page(uintptr_t addr, bool *was_frozen, bool *copied);
void cg_thaw_for_kernel(uintptr_t addr, cg_tag_t tag, bool *was_frozen);
void cg_thaw_range(uintptr_t lo, uintptr_t hi);
void cg_refreeze_range(uintptr_t lo, uintptr_t hi);
void cg_settle(uintptr_t lo, uintptr_t hi, bool final);
void cg_settle_all(bool final);
void cg_freeze_residency(uint64_t *shared, uint64_t *copies_held);
void cg_note_program_protect(uintptr_t addr, size_t len, int prot);
void cg_freeze_child(void);

/* The PAGEMAP_SCAN ioctl of /proc/self/pagemap (Linux 6.7), declared here
 * for building against older headers: a query, and the ranges it fills. */
typedef struct {
    uint64_t start, end, categories;
} cg_scan_range_t;
typedef struct {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
} cg_scan_arg_t;
#define CG_PAGEMAP_SCAN _IOWR('f', 16, cg_scan_arg_t)
#define CG_PAGE_IS_WRITTEN (1ULL << 1)
#define CG_PAGE_IS_FILE (1ULL << 2)
#define CG_PAGE_IS_PRESENT (1ULL << 3)
#define CG_PAGE_IS_PFNZERO (1ULL << 5)

/* ---- "track.c": the kernel's record of writes -------------------------------- */
bool cg_track_arm(uintptr_t lo, uintptr_t hi);
bool cg_track_armed(void);
int cg_track_scan(uintptr_t lo, uintptr_t hi, void (*fn)(uintptr_t page, void *arg), void *arg);
void cg_track_child(void);
void cg_track_remapped(uintptr_t lo, uintptr_t hi);

/* ---- "space.c": the rest of a forked child's memory, measured and watched ------ */
typedef enum {
    CG_SPACE_HEAP,  /* [heap]: brk memory */
    CG_SPACE_ANON,  /* other private anonymous memory (malloc's mmaps, a runtime's arenas) */
    CG_SPACE_STACK, /* the main thread's stack and the threads' */
    CG_SPACE_DATA,  /* an object's data and bss, by the object's name */
    CG_SPACE_KINDS
} cg_space_kind_t;
#define CG_SPACE_NAME 64 /* an object's name, truncated */
void cg_space_child(int mode);
bool cg_space_measure(void (*fn)(cg_space_kind_t kind, const char *name, uint64_t pages, void *arg), void *arg,
                      uint64_t *late);
void cg_space_exit_begins(void);
/* Is this process watching in place? One bit of free's hooks (base.h). A
 * child forked without the fork handlers (a raw clone) inherits the
 * protection and the tables with it, and handles its faults the same way. */
static inline bool cg_space_watching(void)
{
    return atomic_load_explicit(&cg_free_hooks, memory_order_relaxed) & CG_FREE_WATCH;
}
bool cg_space_fault(uintptr_t addr);
uint64_t cg_space_own_pages(uint64_t *present);
int cg_space_thaw(uintptr_t addr, bool *was, bool *copied);
void cg_space_thaw_range(uintptr_t lo, uintptr_t hi);
void cg_space_forget(uintptr_t addr, size_t len);

/* ---- "keep.c": the table of ranges the kernel writes --------------------------- */
#define CG_KEEP_SLOTS 4096
typedef enum {
    CG_KEEP_ALTSTACK = 1, /* a thread's alternate signal stack */
    CG_KEEP_STACK,        /* a stack the program gave a thread or a context */
    CG_KEEP_CALL,         /* the destination of a system call in flight */
} cg_keep_t;
int cg_keep_claim(cg_keep_t kind, uintptr_t lo, uintptr_t hi, int32_t tid);
void cg_keep_release(int slot, uintptr_t *lo, uintptr_t *hi);
bool cg_keep_has(cg_keep_t kind, uintptr_t lo, uintptr_t hi);
void cg_keep_release_thread(cg_keep_t kind, int32_t tid);
size_t cg_keep_ranges(uintptr_t lo, uintptr_t hi, cg_range_t *out, size_t max);
typedef void (*cg_keep_fn)(int slot, cg_keep_t kind, uintptr_t lo, uintptr_t hi, void *arg);
void cg_keep_each(cg_keep_fn fn, void *arg);

/* ---- "kernel.c": memory the kernel writes, made writable first -------------- */
/* The destinations of one system call, kept writable while it runs. */
typedef struct cg_keeps_s {
    int slot[4];
    int n;
} cg_keeps_t;
void cg_before_kernel_write(uintptr_t a, size_t len);
void cg_keep_stack(uintptr_t lo, size_t len);
void cg_keep_altstack(uintptr_t lo, size_t len);
int cg_keep_call_register(uintptr_t lo, uintptr_t hi);
int cg_keep_call_begin(uintptr_t a, size_t len);
void cg_keep_call_end(int slot);
void cg_keeps_add(cg_keeps_t *k, const void *p, size_t n);
void cg_keeps_end(cg_keeps_t *k);
void cg_keep_block(cg_keeps_t *k, const void *p);
void cg_keep_child(void);

/* ---- "signals.c": the program's view of its signals --------------------------- */
typedef void (*cg_handler_fn)(int sig, siginfo_t *si, void *uc);
void cg_signals_setup(void);
void cg_signals_take_segv(cg_handler_fn handler);
void cg_signals_on_terminate(void (*fn)(int sig));
void cg_signals_lock(void);
void cg_signals_unlock(void);
void cg_signals_reset_lock(void);
int cg_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int cg_sigmask(int how, const sigset_t *set, sigset_t *old, int (*next)(int, const sigset_t *, sigset_t *));
const sigset_t *cg_mask_without_segv(const sigset_t *set, sigset_t *copy);
void cg_signal_chain(int sig, siginfo_t *si, void *uc);
void cg_signal_default(int sig);
void cg_async_signals(sigset_t *set);
bool cg_signals_open_segv(void);
void cg_signals_close_segv(bool opened);

/* ---- "handler_stack.c": a stack of cowguard's own for the fault handler ------ */
void cg_stack_setup(void);
void cg_run_on_big_stack(void (*fn)(void *), void *arg);

/* ---- "fault.c": the SIGSEGV handler and the write policy --------------------- */
void cg_fault_install(void);
void cg_fault_abort(uintptr_t addr, void *uc) __attribute__((noreturn));

#pragma GCC visibility pop
#endif /* CG_FREEZE_H */
