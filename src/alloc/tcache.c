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
 * carries a tag in its second word (block.c), swapped in atomically on the
 * way in: a second free of it is caught, whichever thread makes it.
 *
 * A cache is mapped at its thread's first marked request, not kept in
 * thread-local storage: it is 110 KiB, and a static TLS block that size
 * would come off every thread's stack (a program that makes threads with
 * small stacks would fail to). It goes back, blocks and memory, when the
 * thread exits; a request made after that (another destructor's) goes to
 * the arena. */
#include <errno.h>
#include <sys/mman.h>

#include "alloc.h"

#define CACHE_DEPTH 128
#define BATCH 32

typedef struct {
    uint64_t epoch;
    uint8_t count[CG_NUM_CLASSES];
    cg_cached_t block[CG_NUM_CLASSES][CACHE_DEPTH];
} cache_t;

static __thread struct {
    cache_t *cache;
    bool gone; /* the thread is exiting: no cache any more */
} me CG_TLS;
static pthread_key_t exit_key;
static bool key_ok;

/* Give every cached block back to the arena (lock held). */
static void flush_locked(cache_t *c)
{
    for (int cls = 0; cls < CG_NUM_CLASSES; cls++) {
        for (int i = 0; i < c->count[cls]; i++) cg_block_cache_return(c->block[cls][i].p);
        c->count[cls] = 0;
    }
}

static void on_thread_exit(void *arg)
{
    cache_t *c = arg;
    me.cache = NULL;
    me.gone = true;
    cg_arena_lock();
    flush_locked(c);
    cg_arena_unlock();
    cg_unmap_anon(c, sizeof *c);
}

/* This thread's cache, made now; NULL when it cannot be. */
static cache_t *make(void)
{
    if (me.gone || !key_ok) return NULL;
    int saved = errno; /* a malloc wrapper keeps errno */
    cache_t *c = cg_map_anon(sizeof *c);
    if (c) {
        c->epoch = cg_alloc_epoch();
        cg_tls.busy++; /* pthread_setspecific may allocate */
        bool known = pthread_setspecific(exit_key, c) == 0;
        cg_tls.busy--;
        if (!known) {
            cg_unmap_anon(c, sizeof *c);
            c = NULL;
            me.gone = true; /* the next request would fail the same way */
        }
    }
    errno = saved;
    return me.cache = c;
}

void cg_tcache_setup(void)
{
    key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

/* The calling thread's cache, current with the seal epoch; NULL when it
 * has none (the arena serves it). */
static cache_t *current(void)
{
    cache_t *c = me.cache;
    if (cg_unlikely(!c) && !(c = make())) return NULL;
    uint64_t epoch = cg_alloc_epoch();
    if (cg_unlikely(c->epoch != epoch)) {
        cg_arena_lock();
        flush_locked(c);
        cg_arena_unlock();
        c->epoch = epoch;
    }
    return c;
}

/* A marked block of class cls, or NULL (then the arena is asked). */
void *cg_tcache_alloc(int cls, cg_site_id_t site)
{
    cache_t *c = current();
    if (!c) return NULL;
    for (;;) {
        if (c->count[cls] == 0) {
            int n = cg_block_alloc_batch(cls, c->block[cls], BATCH);
            if (n == 0) return NULL;
            /* The batch comes in address order and is taken from its end:
             * turned round, blocks go out in address order, so that data
             * made together lies together, as the program walks it (a
             * Python collection walking a million objects took 1.8x as
             * long when each batch went out backwards). */
            for (int i = 0, j = n - 1; i < j; i++, j--) {
                cg_cached_t t = c->block[cls][i];
                c->block[cls][i] = c->block[cls][j];
                c->block[cls][j] = t;
            }
            c->count[cls] = (uint8_t)n;
        }
        /* Copied at once: a signal handler that frees meanwhile refills the slot. */
        cg_cached_t e = c->block[cls][--c->count[cls]];
        /* A fork may have sealed its slab since it came in: then it goes
         * to the arena's quarantine, never to the program. */
        if (cg_block_cache_take(&e, site)) return e.p;
    }
}

/* Keep a freed marked block: 1 kept; 0 the arena takes it (not a small
 * block, its slab sealed, or a seal since the caller read epoch, the seal
 * epoch before it looked at the block); -1 not a live block at all, *why
 * says what (the block was not touched). */
int cg_tcache_free(void *p, uint64_t epoch, const char **why)
{
    cache_t *c = current();
    if (!c) {
        *why = NULL;
        return 0;
    }
    cg_cached_t entry;
    int cls = cg_block_cache_put(p, &entry, why);
    if (cls < 0) return *why ? -1 : 0;
    if (c->epoch != epoch) { /* a fork sealed things meanwhile */
        cg_arena_lock();
        cg_block_cache_return(p);
        cg_arena_unlock();
        return 1;
    }
    if (c->count[cls] == CACHE_DEPTH) {
        cg_arena_lock();
        for (int i = 0; i < BATCH; i++) cg_block_cache_return(c->block[cls][--c->count[cls]].p);
        cg_arena_unlock();
    }
    c->block[cls][c->count[cls]++] = entry;
    return 1;
}
