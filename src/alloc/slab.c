/* slab.c: size classes and small blocks.
 *
 * A slab is a page run cut into blocks of one size class, with its
 * allocation bitmap in the descriptor, never in the pages. Classes are
 * multiples of 16 (16..128 in steps of 16, then four per doubling up to
 * 16 KiB), so every block is 16-aligned and power-of-two classes serve
 * larger alignments. A sealed slab hands out nothing; blocks freed while it is
 * sealed are quarantined (marked in a second bitmap) until it is unsealed. */
#include <string.h>

#include "alloc.h"

static const uint32_t class_size[CG_NUM_CLASSES] = {
    16,   32,   48,   64,   80,   96,    112,   128,   160,   192,   224,   256,
    320,  384,  448,  512,  640,  768,   896,   1024,  1280,  1536,  1792,  2048,
    2560, 3072, 3584, 4096, 5120, 6144,  7168,  8192,  10240, 12288, 14336, 16384,
};

size_t cg_class_size(int cls)
{
    return class_size[cls];
}

/* The class of a size up to CG_SMALL_MAX, by arithmetic (no table that
 * threads could race to fill): 16-byte steps up to 128, then four classes
 * per doubling, (2^b, 2^(b+1)] cut in steps of 2^(b-2). */
static int class_of(size_t size)
{
    if (size <= 128) return size ? (int)((size + 15) / 16) - 1 : 0;
    unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1)); /* 2^b < size <= 2^(b+1) */
    size_t step = (size_t)1 << (b - 2);
    return 8 + (int)(b - 7) * 4 + (int)((size - ((size_t)1 << b) + step - 1) / step) - 1;
}

/* The smallest class that holds size bytes and whose blocks are all aligned
 * to align (blocks start at multiples of the class size within a
 * page-aligned slab), or -1. */
int cg_size_class(size_t size, size_t align)
{
    if (size > CG_SMALL_MAX || align > CG_PAGE) return -1;
    int c = class_of(size);
    if (align <= 16) return c;
    for (; c < CG_NUM_CLASSES; c++)
        if (class_size[c] % align == 0) return c;
    return -1;
}

/* Pages per slab: room for about 64 KiB of blocks, at least 8 and at most
 * CG_SLAB_MAX_BLOCKS of them. */
uint32_t cg_class_pages(int cls)
{
    size_t bs = class_size[cls];
    size_t want = 65536 / bs;
    if (want < 8) want = 8;
    if (want > CG_SLAB_MAX_BLOCKS) want = CG_SLAB_MAX_BLOCKS;
    return (uint32_t)((want * bs + CG_PAGE - 1) / CG_PAGE);
}

static uint32_t class_blocks(int cls)
{
    size_t n = ((size_t)cg_class_pages(cls) << CG_PAGE_SHIFT) / class_size[cls];
    return n > CG_SLAB_MAX_BLOCKS ? CG_SLAB_MAX_BLOCKS : (uint32_t)n;
}

static cg_span_t *slab_new(int cls)
{
    cg_span_t *s = cg_run_alloc(cg_class_pages(cls), CG_PAGE);
    if (!s) return NULL;
    s->state = CG_SPAN_SLAB;
    s->cls = (uint8_t)cls;
    s->block_size = class_size[cls];
    s->block_recip = (UINT64_C(1) << 40) / s->block_size + 1;
    s->nblocks = class_blocks(cls);
    /* Bits past the last block read as taken, so the search never finds them. */
    for (uint32_t i = s->nblocks; i < CG_SLAB_MAX_BLOCKS; i++) s->used[i / 64] |= 1ULL << (i % 64);
    s->dirty = 0;
    return s;
}

static void partial_add(cg_span_t *s)
{
    cg_list_push(&cg_arena.partial[s->cls], s);
    s->listed = CG_LISTED_PARTIAL;
}

static void partial_remove(cg_span_t *s)
{
    cg_list_remove(&cg_arena.partial[s->cls], s);
    s->listed = CG_LISTED_NONE;
}

/* Arena lock held. */
void *cg_slab_alloc(int cls)
{
    cg_span_t *s = cg_arena.partial[cls].head;
    if (!s) {
        s = slab_new(cls);
        if (!s) return NULL;
        partial_add(s);
    }
    for (uint32_t w = s->hint; w < CG_SLAB_WORDS; w++) {
        uint64_t free_bits = ~s->used[w];
        if (!free_bits) continue;
        unsigned bit = (unsigned)__builtin_ctzll(free_bits);
        s->used[w] |= 1ULL << bit;
        s->hint = w;
        if (++s->nused == s->nblocks) partial_remove(s);
        return (void *)(s->start + ((uintptr_t)w * 64 + bit) * s->block_size);
    }
    return NULL; /* unreachable while nused < nblocks on the partial list */
}

/* The block index of p in s, or -1 when p is not a block start. A multiply
 * instead of a division: exact for offsets below 2^40 / block size, far
 * above a slab's 2 MiB at most. */
long cg_slab_index(const cg_span_t *s, uintptr_t p)
{
    uintptr_t off = p - s->start;
    uintptr_t i = (uintptr_t)(((uint64_t)off * s->block_recip) >> 40);
    if (i * s->block_size != off) return -1;
    return i < s->nblocks ? (long)i : -1;
}

/* Arena lock held. 0, or -1 when p is not a live block of s. */
int cg_slab_free(cg_span_t *s, uintptr_t p)
{
    long i = cg_slab_index(s, p);
    if (i < 0) return -1;
    uint64_t bit = 1ULL << (i % 64);
    size_t w = (size_t)i / 64;
    if (!(s->used[w] & bit) || (s->quar[w] & bit)) return -1;
    if (s->sealed) {
        /* The block's pages are read-only: reuse waits until the slab is
         * unsealed, or until it is wholly free and can be reclaimed. */
        s->quar[w] |= bit;
        if (++s->nquar == s->nused) cg_span_reclaim(s);
        return 0;
    }
    s->used[w] &= ~bit;
    if (w < s->hint) s->hint = (uint32_t)w;
    if (s->nused-- == s->nblocks) partial_add(s);
    if (s->nused == 0) {
        partial_remove(s);
        cg_run_free(s);
    }
    return 0;
}

/* Arena lock held: the slab's pages are about to be made read-only. */
void cg_slab_seal(cg_span_t *s)
{
    if (s->listed == CG_LISTED_PARTIAL) partial_remove(s);
    __atomic_store_n(&s->sealed, 1, __ATOMIC_RELEASE); /* thread caches read it without the lock */
}

/* Arena lock held: the slab's pages are writable again. Quarantined blocks
 * become free; the slab takes allocations again. */
void cg_slab_unseal(cg_span_t *s)
{
    s->sealed = 0;
    for (uint32_t w = 0; w < CG_SLAB_WORDS; w++) {
        uint64_t q = s->quar[w];
        if (!q) continue;
        s->used[w] &= ~q;
        s->quar[w] = 0;
        s->nused -= (uint32_t)__builtin_popcountll(q);
        if (w < s->hint) s->hint = w;
    }
    s->nquar = 0;
    if (s->nused == 0) cg_run_free(s);
    else if (s->nused < s->nblocks) partial_add(s);
}
