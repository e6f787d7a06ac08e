/* arena.c: the reservation that holds marked data, its page runs and their
 * descriptors.
 *
 * One PROT_NONE reservation [base, end) makes "is this pointer ours?" two
 * compares. Pages are handed out from a bump pointer (top) and from lists of
 * free runs; each page maps to its span descriptor through the pagemap, which,
 * like every descriptor, lives outside the data pages. One lock guards all of
 * it; the fault handler only reads. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

cg_arena_t cg_arena = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Pages are made accessible in steps of this much, to keep mprotect calls rare. */
#define COMMIT_STEP ((uintptr_t)1 << 20)
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uintptr_t)(a) - 1))

static inline size_t page_index(uintptr_t addr)
{
    return (addr - cg_arena.base) >> CG_PAGE_SHIFT;
}

void cg_arena_lock(void)
{
    pthread_mutex_lock(&cg_arena.lock);
}

void cg_arena_unlock(void)
{
    pthread_mutex_unlock(&cg_arena.lock);
}

/* In a forked child only the forking thread exists; the lock it took in the
 * prepare handler is started afresh. */
void cg_arena_reset_lock(void)
{
    pthread_mutex_init(&cg_arena.lock, NULL);
}

static void *map_noreserve(size_t size, int prot)
{
    void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

bool cg_arena_setup(size_t reserve)
{
    const size_t align = (size_t)2 << 20; /* huge-page aligned, should THP be wanted */
    reserve = ALIGN_UP(reserve, align);
    char *raw = map_noreserve(reserve + align, PROT_NONE);
    if (!raw) return false;
    uintptr_t base = ALIGN_UP((uintptr_t)raw, align);
    if (base > (uintptr_t)raw) munmap(raw, base - (uintptr_t)raw);
    munmap((char *)(base + reserve), (uintptr_t)raw + align - base);

    size_t npages = reserve >> CG_PAGE_SHIFT;
    cg_span_t **pagemap = map_noreserve(npages * sizeof *pagemap, PROT_READ | PROT_WRITE);
    size_t bitmap = (npages + 63) / 64 * 8;
    /* Out of band, and untouched pages cost nothing: MAP_NORESERVE. */
    _Atomic uint64_t *frozen = map_noreserve(bitmap, PROT_READ | PROT_WRITE);
    _Atomic uint64_t *pending = map_noreserve(bitmap, PROT_READ | PROT_WRITE);
    _Atomic uint64_t *copied = map_noreserve(bitmap, PROT_READ | PROT_WRITE);
    _Atomic uint64_t *user = map_noreserve(bitmap, PROT_READ | PROT_WRITE);
    _Atomic uint32_t *pending_site = map_noreserve(npages * sizeof *pending_site, PROT_READ | PROT_WRITE);
    if (!pagemap || !frozen || !pending || !copied || !user || !pending_site) {
        if (pagemap) munmap(pagemap, npages * sizeof *pagemap);
        if (frozen) munmap(frozen, bitmap);
        if (pending) munmap(pending, bitmap);
        if (copied) munmap(copied, bitmap);
        if (user) munmap(user, bitmap);
        if (pending_site) munmap(pending_site, npages * sizeof *pending_site);
        munmap((void *)base, reserve);
        return false;
    }
    cg_arena.pagemap = pagemap;
    cg_arena.frozen = frozen;
    cg_arena.pending = pending;
    cg_arena.copied = copied;
    cg_arena.user = user;
    cg_arena.pending_site = pending_site;
    cg_arena.top = cg_arena.commit = cg_arena.frozen_end = base;
    cg_arena.end = base + reserve;
    cg_arena.base = base;
    /* Last: from here on cg_arena_owns() can answer yes. */
    __atomic_store_n(&cg_arena.size, reserve, __ATOMIC_RELEASE);
    __atomic_store_n(&cg_arena.ready, true, __ATOMIC_RELEASE);
    return true;
}

/* ---- span lists (doubly linked through the descriptors) ----------------- */

void cg_list_push(cg_list_t *l, cg_span_t *s)
{
    s->prev = NULL;
    s->next = l->head;
    if (l->head) l->head->prev = s;
    l->head = s;
}

void cg_list_remove(cg_list_t *l, cg_span_t *s)
{
    if (s->prev) s->prev->next = s->next;
    else l->head = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* ---- descriptors: carved from chunks of their own, recycled on a list --- */

static cg_span_t *desc_new(void)
{
    static cg_span_t *chunk;
    static size_t chunk_left;
    cg_span_t *s = cg_arena.spare;
    if (s) {
        cg_arena.spare = s->next;
    } else {
        if (chunk_left == 0) {
            const size_t bytes = 256 * 1024;
            chunk = map_noreserve(bytes, PROT_READ | PROT_WRITE);
            if (!chunk) return NULL;
            chunk_left = bytes / sizeof *chunk;
        }
        s = chunk++;
        chunk_left--;
    }
    memset(s, 0, sizeof *s);
    return s;
}

static void desc_free(cg_span_t *s)
{
    s->state = CG_SPAN_FREE;
    s->next = cg_arena.spare;
    cg_arena.spare = s;
}

static void map_pages(cg_span_t *s)
{
    size_t first = page_index(s->start);
    for (size_t i = 0; i < s->npages; i++) cg_arena.pagemap[first + i] = s;
}

cg_span_t *cg_arena_span_of(uintptr_t addr)
{
    if (!cg_arena_owns((void *)addr) || addr >= cg_arena.top) return NULL;
    return cg_arena.pagemap[page_index(addr)];
}

/* ---- free runs ---------------------------------------------------------- */

static cg_list_t *run_list(size_t npages)
{
    return &cg_arena.runs[npages < CG_RUN_LISTS ? npages : CG_RUN_LISTS];
}

static void run_unlist(cg_span_t *s)
{
    cg_list_remove(run_list(s->npages), s);
    s->listed = CG_LISTED_NONE;
}

static void run_list_add(cg_span_t *s)
{
    cg_list_push(run_list(s->npages), s);
    s->listed = CG_LISTED_RUNS;
}

static cg_span_t *free_neighbour(uintptr_t addr);

/* Put a free, unfrozen run on its list, merged with free neighbours. */
static void run_insert(cg_span_t *s)
{
    cg_span_t *prev = s->start > cg_arena.base ? free_neighbour(s->start - CG_PAGE) : NULL;
    if (prev) {
        run_unlist(prev);
        prev->npages += s->npages;
        prev->dirty |= s->dirty;
        desc_free(s);
        s = prev;
    }
    cg_span_t *next = free_neighbour(s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT));
    if (next) {
        run_unlist(next);
        s->npages += next->npages;
        s->dirty |= next->dirty;
        desc_free(next);
    }
    map_pages(s);
    run_list_add(s);
}

/* Cut [start, start + npages) out of the unlisted free run s; what lies
 * before and after goes back on the lists. */
static cg_span_t *run_carve(cg_span_t *s, uintptr_t start, size_t npages)
{
    uintptr_t end = s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT);
    uintptr_t stop = start + (npages << CG_PAGE_SHIFT);
    cg_span_t *head = start > s->start ? desc_new() : NULL;
    cg_span_t *tail = stop < end ? desc_new() : NULL;
    if ((start > s->start && !head) || (stop < end && !tail)) {
        if (head) desc_free(head);
        if (tail) desc_free(tail);
        run_list_add(s);
        return NULL;
    }
    if (head) {
        head->start = s->start;
        head->npages = (uint32_t)((start - s->start) >> CG_PAGE_SHIFT);
        head->state = CG_SPAN_FREE;
        head->dirty = s->dirty;
        map_pages(head);
        run_list_add(head);
    }
    if (tail) {
        tail->start = stop;
        tail->npages = (uint32_t)((end - stop) >> CG_PAGE_SHIFT);
        tail->state = CG_SPAN_FREE;
        tail->dirty = s->dirty;
        map_pages(tail);
        run_list_add(tail);
    }
    s->start = start;
    s->npages = (uint32_t)npages;
    return s;
}

/* The aligned start of npages pages inside free run s, or 0 if they do not fit. */
static uintptr_t run_fit(const cg_span_t *s, size_t npages, size_t align)
{
    uintptr_t start = ALIGN_UP(s->start, align);
    uintptr_t end = s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT);
    return start < end && npages <= (end - start) >> CG_PAGE_SHIFT ? start : 0;
}

static cg_span_t *run_from_lists(size_t npages, size_t align)
{
    /* Exact-size lists first (any run there fits when align is a page),
     * then the list of larger runs, first fit. */
    for (size_t n = npages < CG_RUN_LISTS ? npages : CG_RUN_LISTS; n <= CG_RUN_LISTS; n++) {
        for (cg_span_t *s = cg_arena.runs[n].head; s; s = s->next) {
            uintptr_t start = run_fit(s, npages, align);
            if (!start) continue;
            run_unlist(s);
            return run_carve(s, start, npages);
        }
    }
    return NULL;
}

/* Make [commit, upto) accessible. */
static bool commit_to(uintptr_t upto)
{
    if (upto <= cg_arena.commit) return true;
    uintptr_t new_commit = ALIGN_UP(upto, COMMIT_STEP);
    if (new_commit > cg_arena.end) new_commit = cg_arena.end;
    if (cg_mprotect((void *)cg_arena.commit, new_commit - cg_arena.commit, PROT_READ | PROT_WRITE) != 0)
        return false;
    cg_arena.commit = new_commit;
    return true;
}

static cg_span_t *run_from_top(size_t npages, size_t align)
{
    uintptr_t start = ALIGN_UP(cg_arena.top, align);
    if (start > cg_arena.end || npages > (cg_arena.end - start) >> CG_PAGE_SHIFT) return NULL;
    uintptr_t stop = start + (npages << CG_PAGE_SHIFT);
    cg_span_t *s = desc_new();
    cg_span_t *gap = start > cg_arena.top ? desc_new() : NULL;
    if (!s || (start > cg_arena.top && !gap) || !commit_to(stop)) {
        if (s) desc_free(s);
        if (gap) desc_free(gap);
        return NULL;
    }
    if (gap) { /* pages skipped for alignment become a free run */
        gap->start = cg_arena.top;
        gap->npages = (uint32_t)((start - cg_arena.top) >> CG_PAGE_SHIFT);
        gap->state = CG_SPAN_FREE;
        run_insert(gap);
    }
    s->start = start;
    s->npages = (uint32_t)npages;
    cg_arena.top = stop;
    return s;
}

/* Arena lock held. A frozen span that holds nothing live any more (a large
 * block or a whole slab freed while frozen, a frozen free run) becomes
 * free, usable pages again, instead of waiting for a thaw that may never
 * come (COWGUARD_FREEZE_PARENT=1 has none). false: it stays as it is. */
bool cg_span_reclaim(cg_span_t *s)
{
    uintptr_t end = s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT);
    if (cg_reclaim_range(s->start, end) != 0) return false;
    if (s->listed == CG_LISTED_FROZEN) cg_list_remove(&cg_arena.frozen_runs, s);
    s->listed = CG_LISTED_NONE;
    s->frozen = 0;
    s->dirty = 0;
    s->state = CG_SPAN_FREE;
    s->nused = s->nquar = 0;
    cg_run_free(s);
    return true;
}

/* Reclaim frozen free runs until one of npages pages is back. */
static void reclaim_runs(size_t npages)
{
    for (cg_span_t *s = cg_arena.frozen_runs.head, *next; s; s = next) {
        next = s->next;
        size_t n = s->npages;
        if (cg_span_reclaim(s) && n >= npages) return;
    }
}

/* A run of npages pages whose start is aligned to align (a power of two, at
 * least a page). Its descriptor is zeroed but for start, npages and dirty. */
cg_span_t *cg_run_alloc(size_t npages, size_t align)
{
    if (npages == 0 || npages >= UINT32_MAX) return NULL;
    cg_span_t *s = run_from_lists(npages, align);
    if (!s && cg_arena.frozen_runs.head) {
        reclaim_runs(npages);
        s = run_from_lists(npages, align);
    }
    if (!s) s = run_from_top(npages, align);
    if (!s) return NULL;
    uintptr_t start = s->start;
    uint32_t n = s->npages;
    uint8_t dirty = s->dirty;
    memset(s, 0, sizeof *s);
    s->start = start;
    s->npages = n;
    s->dirty = dirty;
    map_pages(s);
    return s;
}

static cg_span_t *free_neighbour(uintptr_t addr)
{
    if (addr < cg_arena.base || addr >= cg_arena.top) return NULL;
    cg_span_t *n = cg_arena.pagemap[page_index(addr)];
    return n && n->state == CG_SPAN_FREE && !n->frozen && n->listed == CG_LISTED_RUNS ? n : NULL;
}

/* Give a run back. Frozen pages keep their descriptor until a thaw: they are
 * neither merged nor reused, since writing them would copy them. */
void cg_run_free(cg_span_t *s)
{
    s->state = CG_SPAN_FREE;
    s->nused = 0;
    if (s->frozen) return;
    if (s->npages >= 64) { /* give large runs' memory back; they read as zero again */
        madvise((void *)s->start, (size_t)s->npages << CG_PAGE_SHIFT, MADV_DONTNEED);
        s->dirty = 0;
    } else {
        s->dirty = 1;
    }
    run_insert(s);
}

/* ---- blocks ------------------------------------------------------------- */

static void *large_alloc(size_t size, size_t align, bool zero, uint16_t site)
{
    size_t npages = (size + CG_PAGE - 1) >> CG_PAGE_SHIFT;
    cg_span_t *s = cg_run_alloc(npages, align);
    if (!s) return NULL;
    s->state = CG_SPAN_LARGE;
    s->user = s->start;
    s->req_size = size;
    s->site = site;
    s->nused = 1;
    cg_arena.live_bytes += npages << CG_PAGE_SHIFT;
    cg_arena.live_blocks++;
    if (zero && s->dirty) memset((void *)s->user, 0, size);
    s->dirty = 0;
    return (void *)s->user;
}

/* A marked block, or NULL when the arena cannot give one (the caller then
 * passes the request through). align is a power of two; site is recorded
 * for the block. */
void *cg_arena_alloc(size_t size, size_t align, bool zero, uint16_t site)
{
    if (!cg_arena_ensure()) return NULL;
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
            cg_span_t *s = cg_arena.pagemap[page_index((uintptr_t)p)];
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

/* The block index of p in slab s and its bitmap word and bit, or false. */
static bool slab_bit(const cg_span_t *s, uintptr_t p, size_t *w, uint64_t *bit)
{
    long i = cg_slab_index(s, p);
    if (i < 0) return false;
    *w = (size_t)i / 64;
    *bit = 1ULL << (i % 64);
    return true;
}

/* Arena lock held. NULL, or why p cannot be freed. */
static const char *free_locked(void *p)
{
    uintptr_t a = (uintptr_t)p;
    cg_span_t *s = cg_arena_span_of(a);
    if (!s) return "not a block cowguard handed out";
    if (s->state == CG_SPAN_FREE) return "not a live block (a double free?)";
    if (s->state == CG_SPAN_SLAB) {
        uint32_t bs = s->block_size;
        if (cg_slab_index(s, a) < 0) return "not the start of a block cowguard handed out";
        if (cg_slab_free(s, a) != 0) return "double free";
        cg_arena.live_bytes -= bs;
    } else {
        if (a != s->user) return "not the start of a block cowguard handed out";
        if (s->nused == 0) return "double free";
        cg_arena.live_bytes -= (size_t)s->npages << CG_PAGE_SHIFT;
        s->nused = 0;
        if (!s->frozen || !cg_span_reclaim(s)) {
            if (!s->frozen) cg_run_free(s); /* else quarantined until a thaw */
        }
    }
    cg_arena.live_blocks--;
    return NULL;
}

/* Free a marked block: NULL, or why p is not one (the caller reports it;
 * nothing was freed). */
const char *cg_arena_free(void *p)
{
    cg_arena_lock();
    const char *why = free_locked(p);
    cg_arena_unlock();
    return why;
}

/* Up to n blocks of class cls, for a thread's cache; how many. They count
 * as handed out here, and as cached until cg_arena_cache_take. */
int cg_arena_alloc_batch(int cls, void **out, int n)
{
    int k = 0;
    cg_arena_lock();
    size_t bs = cg_class_size(cls);
    for (; k < n; k++) {
        out[k] = cg_slab_alloc(cls);
        if (!out[k]) break;
        cg_arena.live_bytes += bs;
        cg_arena.live_blocks++;
        cg_span_t *s = cg_arena.pagemap[page_index((uintptr_t)out[k])];
        size_t w;
        uint64_t bit;
        if (slab_bit(s, (uintptr_t)out[k], &w, &bit)) atomic_fetch_or(&s->cached[w], bit);
    }
    cg_arena_unlock();
    return k;
}

/* A freed block goes into a thread's cache: its class, or -1 when it may
 * not (not a small block, or its slab is frozen: the arena quarantines
 * it); *why is set when p is no live block at all (double free, interior
 * or foreign pointer). Takes no lock: the bit that says "cached" is set
 * atomically, so a block freed twice, by any threads, is caught. A fork
 * may freeze the slab right after; the cache's generation check catches
 * that. */
int cg_arena_cache_put(const void *p, const char **why)
{
    *why = NULL;
    cg_span_t *s = cg_arena_span_of((uintptr_t)p);
    if (!s || s->state != CG_SPAN_SLAB || __atomic_load_n(&s->frozen, __ATOMIC_ACQUIRE)) return -1;
    size_t w;
    uint64_t bit;
    if (!slab_bit(s, (uintptr_t)p, &w, &bit)) {
        *why = "not the start of a block cowguard handed out";
        return -1;
    }
    if (!(__atomic_load_n(&s->used[w], __ATOMIC_RELAXED) & bit)) {
        *why = "double free";
        return -1;
    }
    if (atomic_fetch_or(&s->cached[w], bit) & bit) {
        *why = "double free";
        return -1;
    }
    return s->cls;
}

/* A cached block leaves the cache: handed out (true), with its allocation
 * site recorded, or, when its slab was frozen meanwhile, given to the
 * arena to quarantine (false). */
bool cg_arena_cache_take(void *p, uint16_t site)
{
    cg_span_t *s = cg_arena_span_of((uintptr_t)p);
    long i = s ? cg_slab_index(s, (uintptr_t)p) : -1;
    if (i < 0) return false; /* cannot happen: validated on the way in */
    atomic_fetch_and(&s->cached[i / 64], ~(1ULL << (i % 64)));
    if (cg_likely(!__atomic_load_n(&s->frozen, __ATOMIC_ACQUIRE))) {
        /* Threads share descriptors: write only when it changes. */
        if (s->block_site[i] != site) s->block_site[i] = site;
        return true;
    }
    cg_arena_lock();
    free_locked(p);
    cg_arena_unlock();
    return false;
}

/* Arena lock held: cached blocks go back (tcache.c, in batches). They were
 * validated when they went in. */
void cg_arena_cache_return(void *p)
{
    cg_span_t *s = cg_arena_span_of((uintptr_t)p);
    size_t w;
    uint64_t bit;
    if (s && slab_bit(s, (uintptr_t)p, &w, &bit)) atomic_fetch_and(&s->cached[w], ~bit);
    free_locked(p);
}

void cg_arena_cache_return_unlocked(void *p)
{
    cg_arena_lock();
    cg_arena_cache_return(p);
    cg_arena_unlock();
}

size_t cg_arena_usable_size(const void *p)
{
    cg_block_info_t info;
    if (!cg_arena_block_info((uintptr_t)p, &info) || !info.live || info.start != (uintptr_t)p)
        return 0;
    return info.size;
}

/* What the block holding addr is. Takes no lock: the fault handler uses it,
 * and a block being freed at that moment is reported as it was. */
bool cg_arena_block_info(uintptr_t addr, cg_block_info_t *out)
{
    cg_span_t *s = cg_arena_span_of(addr);
    if (!s) return false;
    if (s->state == CG_SPAN_SLAB) {
        uintptr_t i = (uintptr_t)(((uint64_t)(addr - s->start) * s->block_recip) >> 40); /* floor, as cg_slab_index */
        if (i >= s->nblocks) return false;
        out->start = s->start + i * s->block_size;
        out->size = s->block_size;
        out->live = (s->used[i / 64] >> (i % 64) & 1) && !(s->quar[i / 64] >> (i % 64) & 1)
                    && !(atomic_load_explicit(&s->cached[i / 64], memory_order_relaxed) >> (i % 64) & 1);
        out->site = s->block_site[i];
        return true;
    }
    if (s->state == CG_SPAN_LARGE) {
        out->start = s->user;
        out->size = ((uintptr_t)s->npages << CG_PAGE_SHIFT) - (s->user - s->start);
        out->live = s->nused != 0;
        out->site = s->site;
        return true;
    }
    return false;
}

/* The reservation is made at the first marked allocation, so a program that
 * marks nothing never has it. If it cannot be made, marking is switched off
 * for good and everything passes through. */
bool cg_arena_ensure(void)
{
    if (cg_likely(__atomic_load_n(&cg_arena.ready, __ATOMIC_ACQUIRE))) return true;
    cg_arena_lock(); /* the fork prepare handler takes it too: no fork mid-setup */
    if (!cg_arena.ready && cg_mark_enabled) {
        if (!cg_arena_setup(cg_opt.arena_max)) {
            cg_message("cannot reserve %zuM of address space for marked data (%s); "
                       "passing every allocation through",
                       (size_t)(cg_opt.arena_max >> 20), cg_strerror(errno));
            cg_mark_enabled = false;
        } else if (!cg_board_setup()) {
            cg_message("cannot map the process-tree board; the report will cover this process only");
        }
    }
    cg_arena_unlock();
    return __atomic_load_n(&cg_arena.ready, __ATOMIC_ACQUIRE);
}
