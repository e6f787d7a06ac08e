/* heap.c: the program's own heap blocks, recorded out of band for the
 * watch in place (COWGUARD_WATCH=heap|all).
 *
 * Nothing is moved under the watch, so a trapped write lands in a block
 * the next allocator handed out. To say which (its start, size and
 * allocation site) every block the next allocator hands out is recorded
 * here, with its site, and forgotten when freed: a hash table keyed by the
 * block's start, in memory of cowguard's own, twice as large as the live
 * blocks need, under a spin lock (held for a probe or two). A forked child
 * stops recording: its table is the heap as it was at the fork, which is
 * what its writes are compared with. At its first trapped write the child
 * sorts the live entries by address once (in the fault handler: no
 * allocation, a radix sort in memory of its own), and looks blocks up by
 * binary search from then on. */
#include <string.h>
#include <sys/mman.h>

#include "attrib.h"
#include "sys.h"

#define FIRST_SLOTS ((size_t)1 << 16)

typedef struct {
    uintptr_t start; /* 0 empty */
    uint64_t val;    /* size << CG_SITE_BITS | site */
} entry_t;

typedef struct {
    uintptr_t start;
    uint64_t val;
} sorted_t;

/* The table, under a spin lock: held for a probe or two, and for a
 * doubling when half its slots are used. A forked child only reads it. */
static entry_t *table;
static size_t slots, used;
static atomic_flag lock = ATOMIC_FLAG_INIT;
static sorted_t *sorted;
static size_t nsorted;
static _Atomic int sort_state; /* 0 not yet, 1 being made, 2 ready, -1 impossible */

/* Is this process recording blocks (free's fast path reads the same bit)? */
static inline bool recording(void)
{
    return atomic_load_explicit(&cg_free_hooks, memory_order_relaxed) & CG_FREE_RECORD;
}

/* A block left unrecorded (no memory for the table, or allocated by a
 * signal handler inside it): the report says how many. */
static void note_lost(void)
{
    if (cg_board) atomic_fetch_add_explicit(&cg_board->heap_lost, 1, memory_order_relaxed);
}

static inline uint64_t mix(uintptr_t a)
{
    uint64_t h = (uint64_t)a >> 4;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* At start-up, under COWGUARD_WATCH=heap or all. */
void cg_heap_setup(void)
{
    if (cg_opt.watch == CG_WATCH_MARKED) return;
    table = cg_map_anon(FIRST_SLOTS * sizeof *table);
    if (!table) {
        cg_message("COWGUARD_WATCH: cannot map the table of heap blocks; writes will be attributed to writers only");
        return;
    }
    slots = FIRST_SLOTS;
    atomic_fetch_or(&cg_free_hooks, CG_FREE_RECORD);
}

static __thread bool holding CG_TLS; /* this thread has the lock */

/* The lock, unless this thread holds it already: a signal handler that
 * allocates, interrupting this thread inside the table, would wait for
 * itself forever; its block goes unrecorded instead. */
static bool take(void)
{
    if (holding) return false;
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {}
    holding = true;
    return true;
}

static void give(void)
{
    holding = false;
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

/* Record a at val; a block recorded twice (CPython's allocator, routed,
 * hands out what it had from malloc) keeps the later, innermost site. */
static bool put(entry_t *t, size_t n, uintptr_t a, uint64_t val)
{
    for (size_t i = mix(a);; i++) {
        entry_t *e = &t[i & (n - 1)];
        if (e->start == a) {
            e->val = val;
            return false;
        }
        if (e->start == 0) {
            *e = (entry_t){ a, val };
            return true;
        }
    }
}

/* Lock held: twice the slots. false: no memory. */
static bool grow(void)
{
    entry_t *bigger = cg_map_anon(2 * slots * sizeof *bigger);
    if (!bigger) return false;
    size_t live = 0;
    for (size_t i = 0; i < slots; i++)
        if (table[i].start) {
            put(bigger, 2 * slots, table[i].start, table[i].val);
            live++;
        }
    cg_unmap_anon(table, slots * sizeof *table);
    table = bigger;
    slots *= 2;
    used = live;
    return true;
}

/* The next allocator handed out [p, p + size) for the stack at slot. */
void cg_heap_alloc(void *p, size_t size, const uintptr_t *slot)
{
    if (!p) return;
    if (!recording()) {
        /* a block of this child's own, in a page shared at the fork: its
         * writes are the child's, and the C library fills some (a stream's
         * buffer) with its internal read, which no trap may stop */
        cg_space_thaw_range((uintptr_t)p, (uintptr_t)p + size);
        return;
    }
    cg_site_id_t site = cg_tls.busy ? 0 : cg_site_here(slot);
    uint64_t val = (uint64_t)size << CG_SITE_BITS | site;
    if (!take()) {
        note_lost();
        return;
    }
    if (2 * (used + 1) > slots && !grow()) {
        give();
        note_lost();
        return;
    }
    used += put(table, slots, (uintptr_t)p, val ? val : 1);
    give();
}

/* p is being freed (before the next allocator can hand it out again). */
void cg_heap_free(void *p)
{
    if (!p || !recording()) return;
    uintptr_t a = (uintptr_t)p;
    if (!take()) return;
    size_t mask = slots - 1, i = mix(a) & mask;
    while (table[i].start && table[i].start != a) i = (i + 1) & mask;
    if (table[i].start == a) {
        /* Linear probing without tombstones: the entries after the hole
         * that belong at or before it move back into it, so that chains
         * stay as short as the live blocks make them (a Python program
         * frees millions). */
        used--;
        for (size_t j = (i + 1) & mask; table[j].start; j = (j + 1) & mask) {
            size_t home = mix(table[j].start) & mask;
            bool moves = i <= j ? home <= i || home > j : home <= i && home > j;
            if (!moves) continue;
            table[i] = table[j];
            i = j;
        }
        table[i] = (entry_t){ 0, 0 };
    }
    give();
}

/* In a forked child: the table is the heap at the fork, from now on. */
void cg_heap_child(void)
{
    atomic_fetch_and(&cg_free_hooks, (uint8_t)~CG_FREE_RECORD);
    atomic_store(&sort_state, 0);
}

/* Sort n entries by start: a radix sort, one pass per byte of the
 * addresses that is not the same in all of them (two to four for a heap),
 * through tmp; 20 times faster than a comparison sort here, where a child
 * sorts a heap's worth of blocks in its fault handler. The result is in
 * the returned buffer (a or tmp). */
static sorted_t *radix_sort(sorted_t *a, sorted_t *tmp, size_t n)
{
    uintptr_t differ = 0;
    for (size_t i = 1; i < n; i++) differ |= a[i].start ^ a[0].start;
    static size_t count[256]; /* one sort at a time: the sort state says so */
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (!((differ >> shift) & 0xff)) continue;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) count[(a[i].start >> shift) & 0xff]++;
        for (size_t d = 0, at = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++) tmp[count[(a[i].start >> shift) & 0xff]++] = a[i];
        sorted_t *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* The live entries, by address: made once, by the first thread that asks. */
static bool ready(void)
{
    int s = atomic_load(&sort_state);
    if (s == 2) return true;
    if (s < 0 || !table) return false;
    int zero = 0;
    if (!atomic_compare_exchange_strong(&sort_state, &zero, 1)) {
        while ((s = atomic_load(&sort_state)) == 1) {}
        return s == 2;
    }
    /* The fork may have come while another thread held the lock: an entry
     * half written has a start and no size, and is left out. */
    size_t n = 0;
    for (size_t i = 0; i < slots; i++) n += table[i].start != 0;
    sorted_t *out = n ? cg_map_anon(n * sizeof *out) : NULL, *tmp = out ? cg_map_anon(n * sizeof *tmp) : NULL;
    if (!out || !tmp) {
        if (out) cg_unmap_anon(out, n * sizeof *out);
        atomic_store(&sort_state, -1);
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < slots && k < n; i++)
        if (table[i].start && table[i].val >> CG_SITE_BITS) out[k++] = (sorted_t){ table[i].start, table[i].val };
    sorted_t *in_order = radix_sort(out, tmp, k);
    cg_unmap_anon(in_order == out ? tmp : out, n * sizeof *out);
    cg_own_transient_note(n * sizeof *out); /* filled, then given back: not the program's peak */
    sorted = in_order;
    nsorted = k;
    atomic_store(&sort_state, 2);
    return true;
}

/* Index of the last block starting at or below addr, or SIZE_MAX. */
static size_t last_at_or_below(uintptr_t addr)
{
    size_t lo = 0, hi = nsorted;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid].start <= addr) lo = mid + 1;
        else hi = mid;
    }
    return lo ? lo - 1 : SIZE_MAX;
}

/* The block recorded before the fork that holds addr. Async-signal-safe. */
bool cg_heap_block(uintptr_t addr, cg_heap_block_t *b)
{
    if (!ready()) return false;
    size_t i = last_at_or_below(addr);
    if (i == SIZE_MAX) return false;
    uint64_t size = sorted[i].val >> CG_SITE_BITS;
    if (addr >= sorted[i].start + size) return false;
    b->start = sorted[i].start;
    b->size = size;
    b->site = (cg_site_id_t)(sorted[i].val & CG_SITE_MASK);
    return true;
}

/* fn for each recorded block on the page at page but the one starting at
 * skip: its site and the bytes of it on the page. */
void cg_heap_page(uintptr_t page, uintptr_t skip, void (*fn)(cg_site_id_t site, uint64_t bytes, void *arg), void *arg)
{
    if (!ready()) return;
    uintptr_t end = page + CG_PAGE;
    size_t i = last_at_or_below(page);
    if (i == SIZE_MAX) i = 0;
    for (; i < nsorted && sorted[i].start < end; i++) {
        uintptr_t lo = sorted[i].start, hi = lo + (sorted[i].val >> CG_SITE_BITS);
        if (hi <= page || lo == skip) continue;
        uintptr_t a = lo > page ? lo : page, z = hi < end ? hi : end;
        fn((cg_site_id_t)(sorted[i].val & CG_SITE_MASK), z - a, arg);
    }
}
