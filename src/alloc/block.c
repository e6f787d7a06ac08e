/* block.c: marked blocks, and what sealing means to them.
 *
 * A small block comes from a slab of its size class (slab.c), a larger one
 * from a page run of its own. The arena lock guards both; a thread's cache
 * (tcache.c) takes and returns blocks in batches through the calls below,
 * and frees without the lock.
 *
 * A block in a thread's cache is still "used" in its slab; what says it is
 * free is a tag in its own second word (every block has 16 bytes at
 * least): the block's address mixed with a random key. A free swaps the tag
 * in atomically and finds it there already when the block was freed
 * before, by any thread: a double free is caught without a shared bitmap,
 * whose words two threads freeing in one slab would fight over (a locked
 * operation on a line the other core holds cost more than the rest of the
 * free). The tag is cleared as the block is handed out again, and set on
 * blocks a cache takes from the arena; it is written only in a slab seen
 * not sealed. A fork in another thread may seal and freeze it right after
 * that look: the write then traps like the program's, is thawed and
 * counted, and is never aborted on (cg_tls.alloc_writing).
 *
 * Sealing: before the layer above makes the arena read-only (at a fork),
 * every span is sealed: no block is handed out of it any more, and what is
 * freed in it is quarantined until it is unsealed (a thaw) or, when nothing
 * live is left in it, reclaimed. The epoch counts seals, so that a thread's
 * cache, filled before one, knows to give its blocks back. */
#include <string.h>

#include "alloc.h"

static _Atomic uint64_t epoch; /* seals so far, in this process and its parents */

static inline uint64_t cache_tag(uintptr_t p)
{
    return (p * 0xd6e8feb86659fd93ULL) ^ cg_arena.tag_key;
}

static inline _Atomic uint64_t *tag_word(uintptr_t p)
{
    return (_Atomic uint64_t *)(p + sizeof(uint64_t));
}

/* Is the small block p free in some thread's cache? */
static bool block_cached(uintptr_t p)
{
    return atomic_load_explicit(tag_word(p), memory_order_relaxed) == cache_tag(p);
}

static void *large_alloc(size_t size, size_t align, bool zero, cg_site_id_t site)
{
    size_t npages = (size + CG_PAGE - 1) >> CG_PAGE_SHIFT;
    cg_span_t *s = cg_run_alloc(npages, align);
    if (!s) return NULL;
    s->state = CG_SPAN_LARGE;
    s->block = s->start;
    s->site = site;
    s->nused = 1;
    cg_arena.live_bytes += npages << CG_PAGE_SHIFT;
    cg_arena.live_blocks++;
    if (zero && s->dirty) memset((void *)s->block, 0, size);
    s->dirty = 0;
    return (void *)s->block;
}

/* A marked block, or NULL when the arena is not set up or cannot give one
 * (the caller then passes the request to the next allocator, unmarked).
 * align is a power of two; site is recorded for the block. */
void *cg_block_alloc(size_t size, size_t align, bool zero, cg_site_id_t site)
{
    if (!cg_arena_ready()) return NULL;
    if (size == 0) size = 1;
    if (align < 16) align = 16;
    if (size > cg_arena.end - cg_arena.base) return NULL;
    void *p = NULL;
    cg_arena_lock();
    int cls = size <= CG_SMALL_MAX && align <= CG_PAGE ? cg_size_class(size, align) : -1;
    if (cls >= 0) {
        p = cg_slab_alloc(cls);
        if (p) {
            size_t bs = cg_class_size(cls);
            atomic_store_explicit(tag_word((uintptr_t)p), 0, memory_order_relaxed); /* a stale tag would read as cached */
            cg_span_t *s = cg_arena.pagemap[cg_arena_page((uintptr_t)p)];
            s->block_site[cg_slab_index(s, (uintptr_t)p)] = site;
            cg_arena.live_bytes += bs;
            cg_arena.live_blocks++;
            /* Inside the lock: a fork cannot freeze the block half-zeroed. */
            if (zero) memset(p, 0, bs);
        }
    } else {
        p = large_alloc(size, align < CG_PAGE ? CG_PAGE : align, zero, site);
    }
    cg_arena_unlock();
    if (!p) {
        static _Atomic int warned;
        if (!atomic_exchange(&warned, 1))
            cg_message("the arena is full (COWGUARD_ARENA_MAX=%zuM); further marked "
                       "allocations are passed through unmarked",
                       (size_t)((cg_arena.end - cg_arena.base) >> 20));
    }
    return p;
}

/* Is p where a block of the arena starts (live or not)? No lock: a
 * span's kind and block size do not change while a block of it may be
 * handed out. For a caller that must tell cowguard's blocks from another
 * allocator's that took its memory from a marked block (pymem.c). */
bool cg_block_starts(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    cg_span_t *s = cg_arena_span_of(a);
    if (!s) return false;
    if (s->state == CG_SPAN_SLAB) return cg_slab_index(s, a) >= 0;
    return s->state != CG_SPAN_FREE && a == s->block;
}

/* Arena lock held. NULL, or why p cannot be freed. from_cache: p comes
 * out of a thread's cache (its tag says so, and its page may be frozen). */
static const char *free_locked(void *p, bool from_cache)
{
    uintptr_t a = (uintptr_t)p;
    cg_span_t *s = cg_arena_span_of(a);
    if (!s) return "not a block cowguard handed out";
    if (s->state == CG_SPAN_FREE) return "not a live block (a double free?)";
    if (s->state == CG_SPAN_SLAB) {
        uint32_t bs = s->block_size;
        if (cg_slab_index(s, a) < 0) return "not the start of a block cowguard handed out";
        if (!from_cache && block_cached(a)) return "double free";
        if (cg_slab_free(s, a) != 0) return "double free";
        cg_arena.live_bytes -= bs;
    } else {
        if (a != s->block) return "not the start of a block cowguard handed out";
        if (s->nused == 0) return "double free";
        cg_arena.live_bytes -= (size_t)s->npages << CG_PAGE_SHIFT;
        s->nused = 0;
        if (!s->sealed) cg_run_free(s);
        else cg_span_reclaim(s); /* or quarantined until it is unsealed */
    }
    cg_arena.live_blocks--;
    return NULL;
}

/* Free a marked block: NULL, or why p is not one (the caller reports it;
 * nothing was freed). */
const char *cg_block_free(void *p)
{
    cg_arena_lock();
    const char *why = free_locked(p, false);
    cg_arena_unlock();
    return why;
}

/* Up to n blocks of class cls, for a thread's cache; how many. They count
 * as handed out here, and as cached until cg_block_cache_take. */
int cg_block_alloc_batch(int cls, cg_cached_t *out, int n)
{
    int k = 0;
    cg_arena_lock();
    size_t bs = cg_class_size(cls);
    for (; k < n; k++) {
        void *p = cg_slab_alloc(cls);
        if (!p) break;
        cg_arena.live_bytes += bs;
        cg_arena.live_blocks++;
        cg_span_t *s = cg_arena.pagemap[cg_arena_page((uintptr_t)p)];
        atomic_store_explicit(tag_word((uintptr_t)p), cache_tag((uintptr_t)p), memory_order_relaxed);
        out[k] = (cg_cached_t){ p, s, (uint32_t)cg_slab_index(s, (uintptr_t)p) };
    }
    cg_arena_unlock();
    return k;
}

/* A freed block goes into a thread's cache: its class, or -1 when it may
 * not (not a small block, or its slab is sealed: the arena quarantines
 * it); *why is set when p is no live block at all (double free, interior
 * or foreign pointer). Takes no lock: the tag is swapped in atomically, so
 * a block freed twice, by any threads, is caught. A fork may seal the slab
 * right after; the cache's epoch check catches that. */
int cg_block_cache_put(void *p, cg_cached_t *entry, const char **why)
{
    *why = NULL;
    cg_span_t *s = cg_arena_span_of((uintptr_t)p);
    if (!s || s->state != CG_SPAN_SLAB || __atomic_load_n(&s->sealed, __ATOMIC_ACQUIRE)) return -1;
    long i = cg_slab_index(s, (uintptr_t)p);
    if (i < 0) {
        *why = "not the start of a block cowguard handed out";
        return -1;
    }
    size_t w = (size_t)i / 64;
    uint64_t bit = 1ULL << (i % 64);
    if (!(__atomic_load_n(&s->used[w], __ATOMIC_RELAXED) & bit)) {
        *why = "double free";
        return -1;
    }
    uintptr_t a = (uintptr_t)p;
    cg_tls.alloc_writing++;
    uint64_t old = atomic_exchange_explicit(tag_word(a), cache_tag(a), memory_order_relaxed);
    cg_tls.alloc_writing--;
    if (old == cache_tag(a)) {
        *why = "double free";
        return -1;
    }
    *entry = (cg_cached_t){ p, s, (uint32_t)i };
    return s->cls;
}

/* A cached block leaves the cache: handed out (true), with its allocation
 * site recorded, or, when its slab was sealed meanwhile, given to the
 * arena to quarantine (false). */
bool cg_block_cache_take(const cg_cached_t *entry, cg_site_id_t site)
{
    cg_span_t *s = entry->s;
    uint32_t i = entry->i;
    if (cg_likely(!__atomic_load_n(&s->sealed, __ATOMIC_ACQUIRE))) {
        cg_tls.alloc_writing++;
        atomic_store_explicit(tag_word((uintptr_t)entry->p), 0, memory_order_relaxed);
        cg_tls.alloc_writing--;
        /* Threads share descriptors: write only when it changes. */
        if (s->block_site[i] != site) s->block_site[i] = site;
        return true;
    }
    cg_arena_lock();
    free_locked(entry->p, true);
    cg_arena_unlock();
    return false;
}

/* Arena lock held: cached blocks go back (tcache.c, in batches). They were
 * validated when they went in. */
void cg_block_cache_return(void *p)
{
    free_locked(p, true); /* the tag stays: the block is free, and its page may be frozen now */
}

size_t cg_block_usable_size(const void *p)
{
    cg_block_info_t info;
    if (!cg_block_info((uintptr_t)p, &info) || !info.live || info.start != (uintptr_t)p)
        return 0;
    return info.size;
}

/* What the block holding addr is. Takes no lock: the fault handler uses it,
 * and a block being freed at that moment is reported as it was. */
bool cg_block_info(uintptr_t addr, cg_block_info_t *out)
{
    cg_span_t *s = cg_arena_span_of(addr);
    if (!s) return false;
    if (s->state == CG_SPAN_SLAB) {
        uintptr_t i = (uintptr_t)(((uint64_t)(addr - s->start) * s->block_recip) >> 40); /* floor, as cg_slab_index */
        if (i >= s->nblocks) return false;
        out->start = s->start + i * s->block_size;
        out->size = s->block_size;
        out->live = (s->used[i / 64] >> (i % 64) & 1) && !(s->quar[i / 64] >> (i % 64) & 1)
                    && !block_cached(out->start);
        out->site = s->block_site[i];
        return true;
    }
    if (s->state == CG_SPAN_LARGE) {
        out->start = s->block;
        out->size = ((uintptr_t)s->npages << CG_PAGE_SHIFT) - (s->block - s->start);
        out->live = s->nused != 0;
        out->site = s->site;
        return true;
    }
    return false;
}

/* ---- growing blocks ---------------------------------------------------------- */

/* Pages from which a block that must move has its pages moved, not copied. */
#define MOVE_MIN_PAGES 32

/* The large, unsealed, live block p's span, or NULL. */
static cg_span_t *large_of(const void *p)
{
    cg_span_t *s = cg_arena_span_of((uintptr_t)p);
    return s && s->state == CG_SPAN_LARGE && s->block == (uintptr_t)p && s->nused && !s->sealed ? s : NULL;
}

/* Grow the large block p in place to hold size bytes: true when it now
 * does (its run took the pages after it). */
bool cg_block_grow(void *p, size_t size)
{
    if (!large_of(p)) return false;
    cg_arena_lock();
    cg_span_t *s = large_of(p); /* again, under the lock */
    bool ok = false;
    if (s) {
        size_t old = s->npages, need = (size + (s->block - s->start) + CG_PAGE - 1) >> CG_PAGE_SHIFT;
        ok = need <= old || cg_run_extend(s, need);
        if (ok && need > old) cg_arena.live_bytes += (need - old) << CG_PAGE_SHIFT;
    }
    cg_arena_unlock();
    return ok;
}

/* The large block p, moved to a new run that holds size bytes and half as
 * much again (so that a block grown by appends moves a logarithmic number
 * of times), with site; p is freed. From MOVE_MIN_PAGES, its pages are
 * moved rather than copied. NULL when p is no large unsealed block or no
 * run is free (the caller allocates and copies). */
void *cg_block_move(void *p, size_t size, cg_site_id_t site)
{
    if (!large_of(p)) return NULL;
    size_t need = (size + CG_PAGE - 1) >> CG_PAGE_SHIFT, want = need + need / 2;
    cg_arena_lock();
    cg_span_t *s = large_of(p), *t = NULL;
    if (s && !(t = cg_run_alloc(want, CG_PAGE))) t = cg_run_alloc(want = need, CG_PAGE);
    if (!t) {
        cg_arena_unlock();
        return NULL;
    }
    t->state = CG_SPAN_LARGE;
    t->block = t->start;
    t->site = site;
    t->nused = 1;
    t->dirty = 0;
    cg_arena.live_bytes += want << CG_PAGE_SHIFT;
    cg_arena.live_blocks++;
    size_t old = ((size_t)s->npages << CG_PAGE_SHIFT) - (s->block - s->start);
    if (s->block == s->start && s->npages >= MOVE_MIN_PAGES && cg_run_move(s, t)) {
        cg_arena.live_bytes -= (size_t)s->npages << CG_PAGE_SHIFT;
        cg_arena.live_blocks--;
        s->nused = 0;
        cg_run_free(s); /* its pages read as zero now */
        cg_arena_unlock();
        return (void *)t->block;
    }
    cg_arena_unlock();
    memcpy((void *)t->block, p, old);
    cg_block_free(p);
    return (void *)t->block;
}

/* Is the block at p in a sealed span? (Then realloc must move it.) */
bool cg_block_sealed(const void *p)
{
    cg_span_t *s = cg_arena_span_of((uintptr_t)p);
    return s && __atomic_load_n(&s->sealed, __ATOMIC_ACQUIRE);
}

/* Arena lock held. Seal every span: slabs leave the partial lists, free
 * runs go to the sealed list. Then the epoch moves, so that thread caches
 * give their blocks back and a thaw racing with the seal sees it. Returns
 * the end of the pages spans hold, which the caller makes read-only. */
uintptr_t cg_alloc_seal(void)
{
    uintptr_t top = cg_arena.top;
    for (uintptr_t a = cg_arena.base; a < top;) {
        cg_span_t *s = cg_arena.pagemap[cg_arena_page(a)];
        a += (uintptr_t)s->npages << CG_PAGE_SHIFT;
        if (s->sealed) continue;
        if (s->state == CG_SPAN_SLAB) cg_slab_seal(s);
        else cg_run_seal(s);
    }
    atomic_fetch_add(&epoch, 1);
    return top;
}

/* Arena lock held, the pages below end writable again: every sealed span
 * takes allocations again, and blocks freed while it was sealed are free. */
void cg_alloc_unseal(uintptr_t end)
{
    for (uintptr_t a = cg_arena.base; a < end;) {
        cg_span_t *s = cg_arena.pagemap[cg_arena_page(a)];
        /* From the span's own start: a span freed below may have merged
         * with the free run after it, so a can lie inside s. Taken before
         * s can merge away. */
        a = s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT);
        if (!s->sealed) continue;
        if (s->state == CG_SPAN_SLAB) cg_slab_unseal(s);
        else cg_run_unseal(s);
    }
}

/* Seals so far: a thread's cache of free blocks is good only within one. */
uint64_t cg_alloc_epoch(void)
{
    return atomic_load_explicit(&epoch, memory_order_acquire);
}
