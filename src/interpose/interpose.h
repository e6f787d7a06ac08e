/* interpose.h: the top layer. The exported libc symbols and the public
 * API, each a thin wrapper calling down; and the orchestration no lower
 * layer may do, since it ties them together: start-up, what a fork does,
 * and how a process leaves. */
#ifndef CG_INTERPOSE_H
#define CG_INTERPOSE_H

#include "report.h"

#pragma GCC visibility push(hidden) /* as in base.h */

/* ---- "init.c": start-up, once ------------------------------------------------- */
extern _Atomic int cg_state; /* 0 new, 1 resolving, 2 ready */
void cg_init(void);
static inline bool cg_is_ready(void)
{
    return atomic_load_explicit(&cg_state, memory_order_acquire) == 2;
}
/* The next definition of fn, resolving cowguard first if need be; NULL
 * when the C library has none. */
#define CG_NEXT(fn) (cg_likely(cg_is_ready()) ? cg_next.fn : (cg_init(), cg_next.fn))
bool cg_marking_ready(void);
/* Do the kernel's writes need care (frozen or watched memory may be
 * their destination)? The read wrappers' fast path. */
static inline bool cg_kernel_writes_matter(void)
{
    return cg_arena_ready() || cg_space_watching();
}

/* The next definition of name, looked up at its first use. */
#define NEXT_LAZY(name)                                                      \
    static __typeof__(&name) next_;                                          \
    if (cg_unlikely(!next_)) {                                               \
        cg_init();                                                           \
        __atomic_store_n(&next_, (__typeof__(&name))dlsym(RTLD_NEXT, #name), __ATOMIC_RELAXED); \
    }

/* A call into one destination buffer: kept writable while it runs. */
#define INTO(buf, n, call)                                                   \
    do {                                                                     \
        int slot_ = cg_keep_call_begin((uintptr_t)(buf), (n));               \
        __typeof__(call) r_ = (call);                                        \
        cg_keep_call_end(slot_);                                             \
        return r_;                                                           \
    } while (0)

/* Under COWGUARD_WATCH, a block the next allocator (or CPython's, routed)
 * handed out is recorded with its site (attrib/heap.c); the floor is 0
 * then, so every request comes by a slow path that calls this. */
static inline void *cg_watched_block(void *p, size_t size, const uintptr_t *slot)
{
    if (cg_unlikely(cg_opt.watch != CG_WATCH_MARKED)) cg_heap_alloc(p, size, slot);
    return p;
}

/* ---- "atfork.c": what a fork does ---------------------------------------------- */
void cg_atfork_setup(void);
void cg_fork_done(pid_t pid);
int cg_freeze_now(void);
bool cg_frozen_by_fork(void);

/* ---- "exiting.c": how a process leaves ------------------------------------------- */
void cg_exit_setup(void);
void cg_exit_begin(void);
void cg_exit_starts(void);
void cg_exit_now(int code) __attribute__((noreturn));
void cg_exit_if_aborted(void);
void cg_exit_note_reaped(pid_t pid);
void cg_exit_forked(void);
void cg_exit_note_fork(void);
void cg_exit_note_foreign(void);

/* ---- "malloc.c", "deepbind.c" ---------------------------------------------------- */
void cg_free_marked(void *p, const char *fn);
void *cg_marked_request(size_t size, bool zero, uintptr_t caller, const uintptr_t *slot);
void *cg_marked_resize(void *ptr, size_t size, const uintptr_t *slot);
void cg_deepbind_fix(void);

#pragma GCC visibility pop
#endif /* CG_INTERPOSE_H */
