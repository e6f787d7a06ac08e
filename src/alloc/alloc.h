/* alloc.h: the allocator of marked blocks (above base).
 *
 * One reservation holds every marked block, so "is this pointer marked?"
 * is two compares. Its pages are cut into runs, each described out of band
 * by a span, so that no bookkeeping ever writes a data page. It knows
 * nothing of forks or signals: the layer above seals spans before it makes
 * their pages read-only, and tells the allocator, through one function
 * pointer, how sealed pages become usable again. */
#ifndef CG_ALLOC_H
#define CG_ALLOC_H

#include "base.h"

#pragma GCC visibility push(hidden) /* as in base.h */

/* Slabs hold at most this many blocks, so their bitmaps are fixed in size. */
#define CG_SLAB_MAX_BLOCKS 512
#define CG_SLAB_WORDS (CG_SLAB_MAX_BLOCKS / 64)
#define CG_SMALL_MAX 16384 /* larger blocks get page runs of their own */
#define CG_NUM_CLASSES 36

/* An allocation site, as the layer above numbers them (attrib/sites.c);
 * 0 = unknown. Kept per block. */
typedef uint32_t cg_site_id_t;

typedef enum {
    CG_SPAN_FREE = 0, /* unused pages, on a free list */
    CG_SPAN_SLAB,     /* blocks of one size class */
    CG_SPAN_LARGE,    /* one block of a page run */
} cg_span_state_t;

typedef enum { CG_LISTED_NONE = 0, CG_LISTED_PARTIAL, CG_LISTED_RUNS, CG_LISTED_SEALED } cg_listed_t;

/* The out-of-band descriptor of a page run. Nothing about a live block is
 * ever stored in the data pages themselves; a free block in a thread's
 * cache carries a tag in its second word (block.c). */
typedef struct cg_span_s {
    uintptr_t start;          /* first page */
    uint32_t npages;
    uint8_t state;            /* cg_span_state_t */
    uint8_t sealed;           /* its pages were made read-only: it hands out nothing, and what is
                               * freed in it waits (quarantined) until it is unsealed or reclaimed */
    uint8_t cls;              /* CG_SPAN_SLAB: size class */
    uint8_t listed;           /* cg_listed_t: which list it is on */
    uint8_t dirty;            /* CG_SPAN_FREE: pages may hold old data */
    uint32_t block_size;      /* CG_SPAN_SLAB */
    uint64_t block_recip;     /* CG_SPAN_SLAB: 2^40 / block_size, rounded up: offset * it >> 40 is the index */
    uint32_t nblocks;         /* CG_SPAN_SLAB */
    uint32_t nused;           /* blocks handed out, quarantined ones included */
    uint32_t nquar;           /* of them, quarantined */
    uint32_t hint;            /* CG_SPAN_SLAB: first bitmap word worth a look */
    uintptr_t block;          /* CG_SPAN_LARGE: the block (aligned in the run) */
    struct cg_span_s *next, *prev;
    cg_site_id_t site;        /* CG_SPAN_LARGE: allocation site */
    uint64_t used[CG_SLAB_WORDS]; /* 1 = block handed out (or quarantined) */
    uint64_t quar[CG_SLAB_WORDS]; /* 1 = freed while sealed, not reusable */
    cg_site_id_t block_site[CG_SLAB_MAX_BLOCKS]; /* CG_SPAN_SLAB: allocation site per block */
} cg_span_t;

typedef struct cg_list_s {
    cg_span_t *head;
} cg_list_t;

/* Free runs of up to this many pages are kept on exact-size lists. */
#define CG_RUN_LISTS 64

typedef struct cg_arena_s {
    /* Read on every free and marked request, written almost never: one
     * cache line of its own, apart from the lock and what it guards. */
    uintptr_t base, end;         /* the reservation */
    uintptr_t size;              /* end - base once set up, 0 before: "ours" is p - base < size */
    cg_span_t **pagemap;         /* page index -> descriptor (out of band) */
    bool ready;
    _Alignas(64) pthread_mutex_t lock;
    uintptr_t top;               /* pages below top belong to spans */
    uintptr_t commit;            /* pages below commit are accessible; above, PROT_NONE */
    cg_list_t partial[CG_NUM_CLASSES]; /* slabs with free blocks */
    cg_list_t runs[CG_RUN_LISTS + 1];  /* free runs by size; last: larger */
    cg_list_t sealed_runs;       /* free runs whose pages are sealed, for reclaiming */
    cg_span_t *spare;            /* unused descriptors */
    size_t live_bytes;           /* sum of live block sizes */
    size_t live_blocks;
    size_t kept_pages;           /* pages of large free runs kept dirty (about) */
    uint64_t tag_key;            /* random: what a cached block's tag is made of (block.c) */
} cg_arena_t;

/* What a pointer into the arena belongs to, for diagnostics. */
typedef struct cg_block_info_s {
    uintptr_t start;
    size_t size;
    bool live;
    cg_site_id_t site; /* allocation site, 0 = unknown */
} cg_block_info_t;

/* ---- "arena.c": the reservation, its page runs and their descriptors ---- */
extern cg_arena_t cg_arena;
static inline bool cg_arena_owns(const void *p)
{
    uintptr_t size = __atomic_load_n(&cg_arena.size, __ATOMIC_ACQUIRE); /* published after base */
    return (uintptr_t)p - cg_arena.base < size;
}
static inline bool cg_arena_ready(void)
{
    return __atomic_load_n(&cg_arena.ready, __ATOMIC_ACQUIRE);
}
/* The index of addr's page in the reservation. */
static inline size_t cg_arena_page(uintptr_t addr)
{
    return (addr - cg_arena.base) >> CG_PAGE_SHIFT;
}
static inline uintptr_t cg_arena_page_addr(size_t i)
{
    return cg_arena.base + ((uintptr_t)i << CG_PAGE_SHIFT);
}
bool cg_arena_setup(size_t reserve);
void cg_arena_withdraw(void);
void cg_arena_lock(void);
void cg_arena_unlock(void);
bool cg_arena_trylock(void);
void cg_arena_reset_lock(void);
cg_span_t *cg_arena_span_of(uintptr_t addr);
/* Sealed pages [from, to) that hold nothing live any more become usable:
 * 0 when they are writable again and read as zero, -1 when they stay
 * sealed. Set by the layer that seals (freeze.c); arena lock held. */
typedef int (*cg_reclaim_fn)(uintptr_t from, uintptr_t to);
void cg_arena_on_reclaim(cg_reclaim_fn fn);
/* Move the pages [from, from + len) to [to, to + len) without copying
 * them (both in the arena, page-aligned); from reads as zero after. false:
 * not possible (the caller copies). Set by freeze.c, which owns the
 * mappings. */
typedef bool (*cg_move_fn)(uintptr_t from, uintptr_t to, size_t len);
void cg_arena_on_move(cg_move_fn fn);
/* Within the allocator (arena lock held): */
cg_span_t *cg_run_alloc(size_t npages, size_t align);
void cg_run_free(cg_span_t *s);
void cg_run_seal(cg_span_t *s);
void cg_run_unseal(cg_span_t *s);
bool cg_run_extend(cg_span_t *s, size_t npages);
bool cg_run_move(cg_span_t *from, cg_span_t *to);
bool cg_span_reclaim(cg_span_t *s);
void cg_list_push(cg_list_t *l, cg_span_t *s);
void cg_list_remove(cg_list_t *l, cg_span_t *s);

/* ---- "slab.c": size classes and small blocks (arena lock held) ---------- */
int cg_size_class(size_t size, size_t align);
size_t cg_class_size(int cls);
uint32_t cg_class_pages(int cls);
void *cg_slab_alloc(int cls);
int cg_slab_free(cg_span_t *s, uintptr_t p);
long cg_slab_index(const cg_span_t *s, uintptr_t p);
void cg_slab_seal(cg_span_t *s);
void cg_slab_unseal(cg_span_t *s);

/* ---- "block.c": blocks, and sealing as the allocator sees it ----------- */
/* A block in a thread's cache, with its slab and index: handing it out
 * again needs no lookup. */
typedef struct cg_cached_s {
    void *p;
    cg_span_t *s;
    uint32_t i;
} cg_cached_t;
void *cg_block_alloc(size_t size, size_t align, bool zero, cg_site_id_t site);
const char *cg_block_free(void *p);
int cg_block_alloc_batch(int cls, cg_cached_t *out, int n);
int cg_block_cache_put(void *p, cg_cached_t *entry, const char **why);
bool cg_block_cache_take(const cg_cached_t *entry, cg_site_id_t site);
void cg_block_cache_return(void *p);
size_t cg_block_usable_size(const void *p);
bool cg_block_info(uintptr_t addr, cg_block_info_t *out);
bool cg_block_sealed(const void *p);
bool cg_block_starts(const void *p);
bool cg_block_grow(void *p, size_t size);
void *cg_block_move(void *p, size_t size, cg_site_id_t site);
uintptr_t cg_alloc_seal(void);
void cg_alloc_unseal(uintptr_t end);
uint64_t cg_alloc_epoch(void);

/* ---- "tcache.c": per-thread caches of free marked blocks ---------------- */
void cg_tcache_setup(void);
void *cg_tcache_alloc(int cls, cg_site_id_t site);
int cg_tcache_free(void *p, uint64_t epoch, const char **why);

/* ---- "front.c": what the layers above call --------------------------------- */
void *cg_alloc(size_t size, size_t align, bool zero, cg_site_id_t site);
const char *cg_alloc_free(void *p);

/* ---- "boot.c": the bootstrap pool, before the next malloc is known ------ */
#define CG_BOOT_POOL_SIZE (64 * 1024)
extern char *const cg_boot_pool;
void *cg_boot_alloc(size_t size, size_t align);
size_t cg_boot_size(const void *p);
void cg_boot_guard_next(cg_free_fn next_free);
static inline bool cg_boot_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)cg_boot_pool < CG_BOOT_POOL_SIZE;
}

#pragma GCC visibility pop
#endif /* CG_ALLOC_H */
