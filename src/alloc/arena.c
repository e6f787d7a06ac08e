/* arena.c: the reservation that holds marked data, its page runs and their
 * descriptors.
 *
 * One PROT_NONE reservation [base, end) makes "is this pointer ours?" two
 * compares. Pages are handed out from a bump pointer (top) and from lists of
 * free runs; each page maps to its span descriptor through the pagemap, which,
 * like every descriptor, lives outside the data pages. One lock guards all of
 * it; the fault handler only reads.
 *
 * A sealed span (its pages made read-only by the layer above) is never
 * merged or reused: writing its pages would copy them. When it holds
 * nothing live any more, the reclaim function that layer set makes its
 * pages usable again. */
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "alloc.h"

cg_arena_t cg_arena = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Pages are made accessible in steps of this much, to keep mprotect calls rare. */
#define COMMIT_STEP ((uintptr_t)1 << 20)

/* Free runs of this many pages or more are large (see keep_dirty). */
#define LARGE_RUN 64
#define KEPT_MIN (((size_t)64 << 20) >> CG_PAGE_SHIFT)

/* errno as the lock's holder found it. Every system call of the allocator
 * (and of the freezer's hooks) is made with the lock held, so keeping
 * errno here keeps it for every malloc wrapper, and the paths that take
 * no lock (a thread's cache) make no system call. */
static int held_errno;

void cg_arena_lock(void)
{
    pthread_mutex_lock(&cg_arena.lock);
    held_errno = errno;
}

/* The lock, if it is free: for work that may be skipped (a signal
 * handler may have interrupted its holder, this very thread). */
bool cg_arena_trylock(void)
{
    if (pthread_mutex_trylock(&cg_arena.lock) != 0) return false;
    held_errno = errno;
    return true;
}

void cg_arena_unlock(void)
{
    errno = held_errno;
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
    reserve = CG_ALIGN_UP(reserve, align);
    char *raw = map_noreserve(reserve + align, PROT_NONE);
    if (!raw) return false;
    uintptr_t base = CG_ALIGN_UP((uintptr_t)raw, align);
    if (base > (uintptr_t)raw) munmap(raw, base - (uintptr_t)raw);
    munmap((char *)(base + reserve), (uintptr_t)raw + align - base);
    size_t npages = reserve >> CG_PAGE_SHIFT;
    /* Out of band, and untouched pages cost nothing: MAP_NORESERVE. */
    cg_span_t **pagemap = map_noreserve(npages * sizeof *pagemap, PROT_READ | PROT_WRITE);
    if (!pagemap) {
        munmap((void *)base, reserve);
        return false;
    }
    cg_arena.pagemap = pagemap;
    /* Huge pages, unless the user said no or the kernel allows none: a fork
     * copies, and a freeze write-protects, one entry per 2 MiB instead of
     * 512 (a first fork with 1 GiB marked: 33 ms -> 1.5 ms here). A write
     * into a frozen huge page splits it and copies 4 KiB, as before. */
    if (cg_opt.huge_pages) madvise((void *)base, reserve, MADV_HUGEPAGE);
    /* The kernel's 16 random bytes for this process (glibc uses the first
     * eight for the stack protector): no program stores their mix by chance. */
    const unsigned char *random = (const unsigned char *)getauxval(AT_RANDOM);
    uint64_t key = 0x9e3779b97f4a7c15ULL ^ base;
    if (random) memcpy(&key, random + 8, sizeof key);
    cg_arena.tag_key = key | 1;
    cg_arena.top = cg_arena.commit = base;
    cg_arena.end = base + reserve;
    cg_arena.base = base;
    /* Last: from here on cg_arena_owns() can answer yes. */
    __atomic_store_n(&cg_arena.size, reserve, __ATOMIC_RELEASE);
    __atomic_store_n(&cg_arena.ready, true, __ATOMIC_RELEASE);
    return true;
}

/* Arena lock held, nothing handed out yet: the arena is not to be used
 * after all (what the layer above needs with it could not be made). It is
 * unpublished, not unmapped: a thread that read the old bounds must not
 * find another mapping there. */
void cg_arena_withdraw(void)
{
    __atomic_store_n(&cg_arena.ready, false, __ATOMIC_RELEASE);
    __atomic_store_n(&cg_arena.size, 0, __ATOMIC_RELEASE);
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
    size_t first = cg_arena_page(s->start);
    for (size_t i = 0; i < s->npages; i++) cg_arena.pagemap[first + i] = s;
}

cg_span_t *cg_arena_span_of(uintptr_t addr)
{
    if (!cg_arena_owns((void *)addr) || addr >= cg_arena.top) return NULL;
    return cg_arena.pagemap[cg_arena_page(addr)];
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

/* Put a free, unsealed run on its list, merged with free neighbours. */
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
    uintptr_t start = CG_ALIGN_UP(s->start, align);
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
    uintptr_t new_commit = CG_ALIGN_UP(upto, COMMIT_STEP);
    if (new_commit > cg_arena.end) new_commit = cg_arena.end;
    if (cg_mprotect((void *)cg_arena.commit, new_commit - cg_arena.commit, PROT_READ | PROT_WRITE) != 0)
        return false;
    cg_arena.commit = new_commit;
    return true;
}

static cg_span_t *run_from_top(size_t npages, size_t align)
{
    uintptr_t start = CG_ALIGN_UP(cg_arena.top, align);
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

static cg_reclaim_fn reclaim_hook;

void cg_arena_on_reclaim(cg_reclaim_fn fn)
{
    reclaim_hook = fn;
}

/* Arena lock held. A sealed span that holds nothing live any more (a large
 * block or a whole slab freed while sealed, a sealed free run) becomes
 * free, usable pages again, instead of waiting for an unseal that may never
 * come (COWGUARD_FREEZE_PARENT=1 has none). false: it stays as it is. */
bool cg_span_reclaim(cg_span_t *s)
{
    uintptr_t end = s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT);
    if (!reclaim_hook || reclaim_hook(s->start, end) != 0) return false;
    if (s->listed == CG_LISTED_SEALED) cg_list_remove(&cg_arena.sealed_runs, s);
    s->listed = CG_LISTED_NONE;
    s->sealed = 0;
    s->dirty = 0;
    s->state = CG_SPAN_FREE;
    s->nused = s->nquar = 0;
    cg_run_free(s);
    return true;
}

/* Reclaim sealed free runs until one of npages pages is back. */
static void reclaim_runs(size_t npages)
{
    for (cg_span_t *s = cg_arena.sealed_runs.head, *next; s; s = next) {
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
    if (!s && cg_arena.sealed_runs.head) {
        reclaim_runs(npages);
        s = run_from_lists(npages, align);
    }
    if (!s) s = run_from_top(npages, align);
    if (!s) return NULL;
    uintptr_t start = s->start;
    uint32_t n = s->npages;
    uint8_t dirty = s->dirty;
    if (dirty && n >= LARGE_RUN) /* the kept pages it takes are in use again */
        cg_arena.kept_pages -= n < cg_arena.kept_pages ? n : cg_arena.kept_pages;
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
    cg_span_t *n = cg_arena.pagemap[cg_arena_page(addr)];
    return n && n->state == CG_SPAN_FREE && !n->sealed && n->listed == CG_LISTED_RUNS ? n : NULL;
}

/* Large free runs are given back to the kernel (madvise), but only past a
 * budget of pages kept as they are: a program that frees a large block and
 * allocates another would otherwise fault in, and zero, every page again
 * (mimalloc-bench's malloc-large: 7x glibc, which keeps its heap). The
 * budget is 64 MiB, or an eighth of the live bytes when that is more; the
 * count is approximate (a kept run that merges or splits is not followed),
 * so it bounds, it does not account. */
static bool keep_dirty(size_t npages)
{
    size_t budget = cg_arena.live_bytes / 8 >> CG_PAGE_SHIFT;
    if (budget < KEPT_MIN) budget = KEPT_MIN;
    if (cg_arena.kept_pages + npages > budget) return false;
    cg_arena.kept_pages += npages;
    return true;
}

/* Give a run back. Sealed pages keep their descriptor until they are
 * unsealed or reclaimed. */
void cg_run_free(cg_span_t *s)
{
    s->state = CG_SPAN_FREE;
    s->nused = 0;
    if (s->sealed) return;
    if (s->npages >= LARGE_RUN && !keep_dirty(s->npages)) {
        madvise((void *)s->start, (size_t)s->npages << CG_PAGE_SHIFT, MADV_DONTNEED);
        s->dirty = 0;
    } else {
        s->dirty = 1;
    }
    run_insert(s);
}

/* A span that is not a slab is sealed: a free run leaves the lists for the
 * list of sealed runs (reclaimed before new pages are taken). */
void cg_run_seal(cg_span_t *s)
{
    if (s->listed == CG_LISTED_RUNS) {
        cg_list_remove(run_list(s->npages), s);
        cg_list_push(&cg_arena.sealed_runs, s);
        s->listed = CG_LISTED_SEALED;
    }
    __atomic_store_n(&s->sealed, 1, __ATOMIC_RELEASE); /* cg_block_sealed reads it without the lock */
}

/* ... and unsealed: a free run, or a large block freed meanwhile, is free
 * again. */
void cg_run_unseal(cg_span_t *s)
{
    if (s->listed == CG_LISTED_SEALED) {
        cg_list_remove(&cg_arena.sealed_runs, s);
        s->listed = CG_LISTED_NONE;
    }
    s->sealed = 0;
    if (s->state == CG_SPAN_FREE || s->nused == 0) cg_run_free(s);
}

/* Arena lock held. Grow the run of an unsealed large block to npages in
 * place: into the free run right after it, or, at the top, into new pages.
 * false: the pages after it are taken. */
bool cg_run_extend(cg_span_t *s, size_t npages)
{
    if (npages <= s->npages) return true;
    if (s->sealed || npages >= UINT32_MAX) return false;
    size_t more = npages - s->npages;
    uintptr_t end = s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT);
    if (end == cg_arena.top) {
        if (more > (cg_arena.end - end) >> CG_PAGE_SHIFT || !commit_to(end + (more << CG_PAGE_SHIFT))) return false;
        cg_arena.top = end + (more << CG_PAGE_SHIFT);
    } else {
        cg_span_t *next = free_neighbour(end);
        if (!next || next->npages < more) return false;
        run_unlist(next);
        if (!run_carve(next, end, more)) return false; /* no descriptor for the rest: left as it was */
        desc_free(next);                                 /* its pages are s's now */
    }
    s->npages = (uint32_t)npages;
    map_pages(s);
    return true;
}

static cg_move_fn move_hook;

void cg_arena_on_move(cg_move_fn fn)
{
    move_hook = fn;
}

/* Arena lock held. Move the pages of run from to run to (as many as from
 * has), without copying their bytes, when the layer that owns the
 * mappings can: from then reads as zero. */
bool cg_run_move(cg_span_t *from, cg_span_t *to)
{
    return move_hook && !from->sealed && !to->sealed
           && move_hook(from->start, to->start, (size_t)from->npages << CG_PAGE_SHIFT);
}
