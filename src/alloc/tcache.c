/* tcache.c: per-thread caches of free marked blocks.
 *
 * Every marked request would otherwise take the arena's one lock. A thread
 * keeps up to CACHE_DEPTH freed small blocks per size class and hands them
 * out again without the lock; a miss refills, and a full cache spills, a
 * batch at a time under it.
 *
 * A cached block may lie in a slab that a fork has since sealed and made
 * read-only: handing it out would make the program write a frozen page. So
 * each cache belongs to a seal epoch (cg_alloc_epoch): after a seal a cache
 * is flushed back to the arena, where its blocks are quarantined like any
 * block freed while sealed; and a block is checked once more as it leaves
 * the cache, for a fork that raced with its free. Every block in a cache
 * carries a "cached" bit in its slab's descriptor (block.c), set
 * atomically on the way in: a second free of it is caught, whichever
 * thread makes it. A thread's cache goes back when the thread exits. */
#include "alloc.h"

#define CACHE_DEPTH 32
#define BATCH 16

typedef struct {
    uint64_t epoch;
    bool registered; /* the exit destructor knows this thread */
    uint8_t count[CG_NUM_CLASSES];
    void *block[CG_NUM_CLASSES][CACHE_DEPTH];
} cache_t;

static __thread cache_t cache CG_TLS;
static pthread_key_t exit_key;
static bool key_ok;

/* Give every cached block back to the arena (lock held). */
static void flush_locked(cache_t *c)
{
    for (int cls = 0; cls < CG_NUM_CLASSES; cls++) {
        for (int i = 0; i < c->count[cls]; i++) cg_block_cache_return(c->block[cls][i]);
        c->count[cls] = 0;
    }
}

static void on_thread_exit(void *arg)
{
    cg_arena_lock();
    flush_locked(&cache);
    cg_arena_unlock();
}

void cg_tcache_setup(void)
{
    key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

/* The calling thread's cache, current with the seal epoch. */
static cache_t *current(void)
{
    cache_t *c = &cache;
    uint64_t epoch = cg_alloc_epoch();
    if (cg_unlikely(c->epoch != epoch)) {
        cg_arena_lock();
        flush_locked(c);
        cg_arena_unlock();
        c->epoch = epoch;
    }
    if (cg_unlikely(!c->registered) && key_ok) {
        cg_tls.busy++; /* pthread_setspecific may allocate */
        c->registered = pthread_setspecific(exit_key, c) == 0;
        cg_tls.busy--;
    }
    return c;
}

/* A marked block of class cls, or NULL (then the arena is asked). */
void *cg_tcache_alloc(int cls, uint16_t site)
{
    cache_t *c = current();
    for (;;) {
        if (c->count[cls] == 0) {
            void *batch[BATCH];
            int n = cg_block_alloc_batch(cls, batch, BATCH);
            for (int i = 0; i < n; i++) c->block[cls][c->count[cls]++] = batch[i];
            if (c->count[cls] == 0) return NULL;
        }
        void *p = c->block[cls][--c->count[cls]];
        /* A fork may have sealed its slab since it came in: then it goes
         * to the arena's quarantine, never to the program. */
        if (cg_block_cache_take(p, site)) return p;
    }
}

/* Keep a freed marked block: 1 kept; 0 the arena takes it (not a small
 * block, its slab sealed, or a seal since the caller read epoch, the seal
 * epoch before it looked at the block); -1 not a live block at all, *why
 * says what (the block was not touched). */
int cg_tcache_free(void *p, uint64_t epoch, const char **why)
{
    int cls = cg_block_cache_put(p, why);
    if (cls < 0) return *why ? -1 : 0;
    cache_t *c = current();
    if (c->epoch != epoch) { /* a fork sealed things meanwhile */
        cg_arena_lock();
        cg_block_cache_return(p);
        cg_arena_unlock();
        return 1;
    }
    if (c->count[cls] == CACHE_DEPTH) {
        cg_arena_lock();
        for (int i = 0; i < BATCH; i++) cg_block_cache_return(c->block[cls][--c->count[cls]]);
        cg_arena_unlock();
    }
    c->block[cls][c->count[cls]++] = p;
    return 1;
}
