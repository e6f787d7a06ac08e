/* kernel.c: memory the kernel writes on its own, made writable first.
 *
 * A frozen page does not fault when the kernel writes it: a system call
 * fails with EFAULT, and a signal frame that cannot be written kills the
 * process (SIGSEGV, SI_KERNEL). So:
 *   - the destination of a read-family call is thawed before the call,
 *     each frozen page counted as a write with the caller's stack, and kept
 *     writable while the call runs (a thread blocked in read() into marked
 *     memory while another thread forks);
 *   - alternate signal stacks (sigaltstack: Ruby and CPython's faulthandler
 *     allocate theirs with malloc) and stacks the program hands to
 *     pthread_attr_setstack or makecontext (signal frames land there, and
 *     glibc keeps the thread's descriptor at the top of a pthread stack)
 *     are kept writable for as long as they are in use.
 * The table of kept ranges is keep.c; the interpose layer's wrappers call
 * these. Everything here is async-signal-safe: a signal handler may make
 * the calls. */
#include <errno.h>

#include "freeze.h"
#include "sys.h"

/* Pages made writable for the system call under way in this thread: the
 * call's end settles them at once. */
static __thread uint32_t kernel_thawed CG_TLS;

/* The kernel is about to write [a, a + len) for the program (read(2) and
 * friends). Each frozen page there is made writable now and counted as a
 * write, tagged with what made it (the caller's stack, the block's site);
 * it counts as copied only if the kernel then writes it (it becomes
 * pending, settled when the call is over), since a read of 100 bytes into
 * a 1 MiB buffer writes one page. */
void cg_before_kernel_write(uintptr_t a, size_t len)
{
    if (cg_unlikely(cg_space_watching()) && len) cg_space_thaw_range(a, a + len < a ? UINTPTR_MAX : a + len);
    uintptr_t end = cg_ever_frozen_end();
    if (cg_likely(len == 0 || a >= end || a + len <= cg_arena.base || !cg_arena_owns((void *)cg_arena.base)))
        return;
    uintptr_t from = a < cg_arena.base ? cg_arena.base : cg_page_down(a);
    uintptr_t to = a + len < a || a + len > end ? end : a + len;
    const cg_watch_t *w = cg_watcher();
    cg_tag_t memo = 0; /* the caller's stack, taken once */
    for (uintptr_t p = from; p < to; p += CG_PAGE) {
        if (!cg_page_frozen(p)) continue;
        if (cg_opt.policy == CG_POLICY_ABORT) cg_fault_abort(p < a ? a : p, NULL);
        cg_tag_t tag = w ? w->kernel_tag(p, &memo) : 0;
        bool was_frozen;
        cg_thaw_for_kernel(p, tag, &was_frozen);
        if (!was_frozen) continue;
        kernel_thawed++;
        if (w) w->write(p, NULL, false, tag);
        if (cg_opt.verbose >= 1) cg_message("kernel write to frozen %p: made writable", (void *)p);
    }
}

/* Does [lo, hi) touch the arena's reservation? Only such ranges are kept. */
static bool in_arena(uintptr_t lo, uintptr_t hi)
{
    return cg_arena_ready() && lo < cg_arena.end && hi > cg_arena.base;
}

/* A range the kernel writes for as long as the program uses it (a stack).
 * Already frozen pages are thawed now, as a kernel write. */
void cg_keep_stack(uintptr_t lo, size_t len)
{
    if (!len || !in_arena(lo, lo + len)) return;
    if (cg_keep_has(CG_KEEP_STACK, lo, lo + len)) return; /* the same stack again */
    if (cg_keep_claim(CG_KEEP_STACK, lo, lo + len, 0) >= 0) cg_before_kernel_write(lo, len);
}

/* The calling thread's alternate signal stack is now [lo, lo + len), or
 * none (len 0): one entry per thread, replaced when it changes. */
void cg_keep_altstack(uintptr_t lo, size_t len)
{
    int32_t me = (int32_t)cg_sys_gettid();
    cg_keep_release_thread(CG_KEEP_ALTSTACK, me);
    if (!len || !in_arena(lo, lo + len)) return;
    if (cg_keep_claim(CG_KEEP_ALTSTACK, lo, lo + len, me) >= 0) cg_before_kernel_write(lo, len);
}

/* A system call will write somewhere in [lo, hi): keep it writable through
 * a fork until cg_keep_call_end. The caller thaws what the call writes
 * (cg_before_kernel_write) after this. Returns the slot, or -1. */
int cg_keep_call_register(uintptr_t lo, uintptr_t hi)
{
    uintptr_t base = cg_arena.base, size = __atomic_load_n(&cg_arena.size, __ATOMIC_ACQUIRE);
    if (cg_likely(lo >= hi || lo >= base + size || hi <= base)) return -1;
    int saved = errno;
    int slot = cg_keep_claim(CG_KEEP_CALL, lo, hi, 0);
    errno = saved;
    return slot;
}

/* A system call is about to write [a, a + len): keep it writable until
 * cg_keep_call_end, its frozen pages thawed now. Returns the slot, or -1
 * when there is nothing to keep. */
int cg_keep_call_begin(uintptr_t a, size_t len)
{
    int slot = cg_keep_call_register(a, a + len);
    cg_before_kernel_write(a, len);
    return slot;
}

/* The call is over. The pages it made writable are settled at once: what
 * the kernel wrote there is counted now, even if the process is killed
 * before its next fork or exit. */
void cg_keep_call_end(int slot)
{
    if (slot < 0) return;
    uintptr_t lo, hi;
    cg_keep_release(slot, &lo, &hi);
    if (kernel_thawed) {
        kernel_thawed = 0;
        cg_settle(cg_page_down(lo), cg_page_up(hi), false);
    }
}

/* Several destinations of one call (cg_keeps_t holds up to four; more are
 * only thawed, not kept through a concurrent fork). */
void cg_keeps_add(cg_keeps_t *k, const void *p, size_t n)
{
    if (k->n < (int)(sizeof k->slot / sizeof k->slot[0])) k->slot[k->n++] = cg_keep_call_begin((uintptr_t)p, n);
    else cg_before_kernel_write((uintptr_t)p, n);
}

void cg_keeps_end(cg_keeps_t *k)
{
    for (int i = 0; i < k->n; i++) cg_keep_call_end(k->slot[i]);
    k->n = 0;
}

/* The whole marked block that holds p (a DIR, a FILE's buffer). */
void cg_keep_block(cg_keeps_t *k, const void *p)
{
    cg_block_info_t b;
    if (!cg_arena_owns(p) && p && cg_space_watching() && cg_next.malloc_usable_size) /* a DIR of the heap */
        cg_space_thaw_range((uintptr_t)p, (uintptr_t)p + cg_next.malloc_usable_size((void *)p));
    if (!cg_arena_owns(p) || !cg_block_info((uintptr_t)p, &b)) return;
    cg_keeps_add(k, (const void *)b.start, b.size);
}

static void refreeze_call(int slot, cg_keep_t kind, uintptr_t lo, uintptr_t hi, void *arg)
{
    if (kind != CG_KEEP_CALL) return;
    cg_keep_release(slot, &lo, &hi);
    if (lo < hi) cg_refreeze_range(lo, hi);
    *(bool *)arg = true;
}

static void thaw_kept(int slot, cg_keep_t kind, uintptr_t lo, uintptr_t hi, void *arg)
{
    if (lo < hi) cg_thaw_range(lo, hi);
}

/* In a forked child: only the forking thread exists, and it is in no
 * system call. The ranges of calls in flight in the parent's other threads
 * are frozen again, as they were before the fork kept them; the entries
 * go. Stacks stay kept (their memory is nothing else's). */
void cg_keep_child(void)
{
    bool any = false;
    cg_keep_each(refreeze_call, &any);
    /* A kept stack may share a page with a call's buffer: thaw them again. */
    if (any) cg_keep_each(thaw_kept, NULL);
}
