/* keep.c: memory the kernel writes on its own, kept writable through every
 * freeze.
 *
 * A frozen page does not fault when the kernel writes it: a system call
 * fails with EFAULT, and a signal frame that cannot be written kills the
 * process (SIGSEGV, SI_KERNEL). So these ranges are never left frozen:
 *   - alternate signal stacks (sigaltstack): Ruby and CPython's faulthandler
 *     allocate theirs with malloc;
 *   - stacks the program hands to pthread_attr_setstack or makecontext:
 *     signal frames land there, and glibc keeps the thread's descriptor at
 *     the top of a pthread stack;
 *   - the destinations of system calls in flight: a thread blocked in read()
 *     into marked memory while another thread forks.
 * The table is lock-free: wrappers claim a slot, the freeze (arena lock
 * held) scans them all and thaws what they name. The two sides form a
 * Dekker pair: a wrapper publishes its range, then looks at the frozen bits;
 * the freeze sets the bits, then reads the ranges. Either the freeze sees
 * the range and thaws it, or the wrapper sees the bits and thaws them
 * itself (cg_before_kernel_write). */
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"
#include "sys.h"

#define KEEP_SLOTS CG_KEEP_SLOTS

typedef struct {
    _Atomic uint32_t kind; /* cg_keep_t; 0 = free */
    _Atomic int32_t tid;   /* CG_KEEP_ALTSTACK: the thread it belongs to */
    _Atomic uintptr_t lo, hi;
} keep_slot_t;

static keep_slot_t *slots; /* mapped at the first use */
static _Atomic int full_warned;

static keep_slot_t *table(void)
{
    keep_slot_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
    if (t) return t;
    void *p = mmap(NULL, KEEP_SLOTS * sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    keep_slot_t *expected = NULL;
    if (!__atomic_compare_exchange_n(&slots, &expected, (keep_slot_t *)p, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        munmap(p, KEEP_SLOTS * sizeof *t);
        return expected;
    }
    return p;
}

/* Does [lo, hi) touch the arena's reservation? Only such ranges are kept. */
static bool in_arena(uintptr_t lo, uintptr_t hi)
{
    return cg_arena.ready && lo < cg_arena.end && hi > cg_arena.base;
}

static int claim(keep_slot_t *t, cg_keep_t kind, uintptr_t lo, uintptr_t hi, int32_t tid)
{
    /* Threads start their search apart: their TLS blocks lie apart. */
    unsigned start = (unsigned)(((uintptr_t)&cg_tls >> 6) * 31u % KEEP_SLOTS);
    for (unsigned k = 0; k < KEEP_SLOTS; k++) {
        unsigned i = (start + k) % KEEP_SLOTS;
        uint32_t expected = 0;
        if (atomic_load_explicit(&t[i].kind, memory_order_relaxed) != 0
            || !atomic_compare_exchange_strong(&t[i].kind, &expected, (uint32_t)kind))
            continue;
        atomic_store(&t[i].tid, tid);
        atomic_store(&t[i].lo, lo);
        atomic_store(&t[i].hi, hi); /* seq_cst: published before the caller looks at frozen bits */
        return (int)i;
    }
    if (!atomic_exchange(&full_warned, 1))
        cg_message("more than %d ranges the kernel writes lie in marked data; later ones may be frozen",
                   KEEP_SLOTS);
    return -1;
}

static void release(keep_slot_t *t, int i)
{
    atomic_store(&t[i].hi, 0);
    atomic_store(&t[i].lo, 0);
    atomic_store(&t[i].tid, 0);
    atomic_store(&t[i].kind, 0);
}

/* A range the kernel writes for as long as the program uses it (a stack).
 * Already frozen pages are thawed now, as a kernel write. */
void cg_keep_stack(uintptr_t lo, size_t len)
{
    if (!len || !in_arena(lo, lo + len)) return;
    keep_slot_t *t = table();
    if (!t) return;
    for (unsigned i = 0; i < KEEP_SLOTS; i++) /* the same stack again */
        if (atomic_load(&t[i].kind) == CG_KEEP_STACK && atomic_load(&t[i].lo) == lo
            && atomic_load(&t[i].hi) == lo + len)
            return;
    if (claim(t, CG_KEEP_STACK, lo, lo + len, 0) >= 0) cg_before_kernel_write(lo, len);
}

/* The calling thread's alternate signal stack is now [lo, lo + len), or
 * none (len 0): one entry per thread, replaced when it changes. */
void cg_keep_altstack(uintptr_t lo, size_t len)
{
    keep_slot_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
    int32_t me = (int32_t)cg_sys_gettid();
    if (t)
        for (unsigned i = 0; i < KEEP_SLOTS; i++)
            if (atomic_load(&t[i].kind) == CG_KEEP_ALTSTACK && atomic_load(&t[i].tid) == me) release(t, (int)i);
    if (!len || !in_arena(lo, lo + len) || !(t = table())) return;
    if (claim(t, CG_KEEP_ALTSTACK, lo, lo + len, me) >= 0) cg_before_kernel_write(lo, len);
}

/* A system call will write somewhere in [lo, hi): keep it writable through
 * a fork until cg_keep_call_end. The caller thaws what the call writes
 * (cg_before_kernel_write) after this. Returns the slot, or -1. */
int cg_keep_call_register(uintptr_t lo, uintptr_t hi)
{
    uintptr_t base = cg_arena.base, size = __atomic_load_n(&cg_arena.size, __ATOMIC_ACQUIRE);
    if (cg_likely(lo >= hi || lo >= base + size || hi <= base)) return -1;
    int saved = errno;
    keep_slot_t *t = table();
    int slot = t ? claim(t, CG_KEEP_CALL, lo, hi, 0) : -1;
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
    uintptr_t lo = atomic_load(&slots[slot].lo), hi = atomic_load(&slots[slot].hi);
    release(slots, slot);
    if (cg_tls.kernel_thawed) {
        cg_tls.kernel_thawed = 0;
        cg_settle(lo & ~(uintptr_t)(CG_PAGE - 1), (hi + CG_PAGE - 1) & ~(uintptr_t)(CG_PAGE - 1), false);
    }
}

static bool range_before(const void *x, const void *y)
{
    return ((const cg_range_t *)x)->lo < ((const cg_range_t *)y)->lo;
}

/* The kept ranges that meet [lo, hi), widened to pages, clipped, sorted
 * and merged, for a freeze (arena lock held) that has just set the frozen
 * bits: the fence orders those stores before these loads. */
size_t cg_keep_ranges(uintptr_t lo, uintptr_t hi, cg_range_t *out, size_t max)
{
    atomic_thread_fence(memory_order_seq_cst);
    keep_slot_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
    size_t n = 0;
    for (unsigned i = 0; t && i < KEEP_SLOTS && n < max; i++) {
        if (!atomic_load(&t[i].kind)) continue;
        uintptr_t a = atomic_load(&t[i].lo) & ~(uintptr_t)(CG_PAGE - 1);
        uintptr_t b = (atomic_load(&t[i].hi) + CG_PAGE - 1) & ~(uintptr_t)(CG_PAGE - 1);
        if (a < lo) a = lo;
        if (b > hi) b = hi;
        if (a < b) out[n++] = (cg_range_t){ a, b };
    }
    cg_sort(out, n, sizeof *out, range_before);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && out[i].lo <= out[k - 1].hi) {
            if (out[i].hi > out[k - 1].hi) out[k - 1].hi = out[i].hi;
        } else {
            out[k++] = out[i];
        }
    }
    return k;
}

/* In a forked child: only the forking thread exists, and it is in no
 * system call. The ranges of calls in flight in the parent's other threads
 * are frozen again, as they were before the fork kept them; the entries
 * go. Stacks stay kept (their memory is nothing else's). */
void cg_keep_child(void)
{
    keep_slot_t *t = slots;
    bool any = false;
    if (!t) return;
    for (unsigned i = 0; i < KEEP_SLOTS; i++) {
        if (atomic_load(&t[i].kind) != CG_KEEP_CALL) continue;
        uintptr_t lo = atomic_load(&t[i].lo), hi = atomic_load(&t[i].hi);
        release(t, (int)i);
        if (lo < hi) cg_refreeze_range(lo, hi);
        any = true;
    }
    /* A kept stack may share a page with a call's buffer: thaw them again. */
    for (unsigned i = 0; any && i < KEEP_SLOTS; i++) {
        if (!atomic_load(&t[i].kind)) continue;
        uintptr_t lo = atomic_load(&t[i].lo), hi = atomic_load(&t[i].hi);
        if (lo < hi) cg_thaw_range(lo, hi);
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
    if (!cg_arena_owns(p) || !cg_arena_block_info((uintptr_t)p, &b)) return;
    cg_keeps_add(k, (const void *)b.start, b.size);
}
