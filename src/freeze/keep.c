/* keep.c: the table of ranges the kernel writes on its own, which no
 * freeze may leave read-only (kernel.c says which, and why).
 *
 * The table is lock-free: wrappers claim a slot, the freeze (arena lock
 * held) scans them all and leaves what they name writable. The two sides
 * form a Dekker pair: a wrapper publishes its range, then looks at the
 * frozen bits; the freeze sets the bits, then reads the ranges. Either the
 * freeze sees the range and leaves it writable, or the wrapper sees the
 * bits and thaws the pages itself (cg_before_kernel_write). */
#include <sys/mman.h>

#include "freeze.h"

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
    cg_own_map_note(p, KEEP_SLOTS * sizeof *t, true);
    keep_slot_t *expected = NULL;
    if (!__atomic_compare_exchange_n(&slots, &expected, (keep_slot_t *)p, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        cg_unmap_anon(p, KEEP_SLOTS * sizeof *t);
        return expected;
    }
    return p;
}

/* Claim a slot for [lo, hi) (tid: the thread an alternate stack belongs
 * to): its index, or -1 when the table is full or cannot be mapped. */
int cg_keep_claim(cg_keep_t kind, uintptr_t lo, uintptr_t hi, int32_t tid)
{
    keep_slot_t *t = table();
    if (!t) return -1;
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

/* Give slot back; the range it held, in *lo and *hi. */
void cg_keep_release(int slot, uintptr_t *lo, uintptr_t *hi)
{
    *lo = atomic_load(&slots[slot].lo);
    *hi = atomic_load(&slots[slot].hi);
    release(slots, slot);
}

/* Is [lo, hi) in the table already, as kind? */
bool cg_keep_has(cg_keep_t kind, uintptr_t lo, uintptr_t hi)
{
    keep_slot_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; t && i < KEEP_SLOTS; i++)
        if (atomic_load(&t[i].kind) == kind && atomic_load(&t[i].lo) == lo && atomic_load(&t[i].hi) == hi)
            return true;
    return false;
}

/* Give back every slot of kind that belongs to thread tid. */
void cg_keep_release_thread(cg_keep_t kind, int32_t tid)
{
    keep_slot_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; t && i < KEEP_SLOTS; i++)
        if (atomic_load(&t[i].kind) == kind && atomic_load(&t[i].tid) == tid) release(t, (int)i);
}

/* fn for every slot in use, in slot order; fn may release its slot. */
void cg_keep_each(cg_keep_fn fn, void *arg)
{
    keep_slot_t *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; t && i < KEEP_SLOTS; i++) {
        cg_keep_t kind = (cg_keep_t)atomic_load(&t[i].kind);
        if (kind) fn((int)i, kind, atomic_load(&t[i].lo), atomic_load(&t[i].hi), arg);
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
        uintptr_t a = cg_page_down(atomic_load(&t[i].lo));
        uintptr_t b = cg_page_up(atomic_load(&t[i].hi));
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

