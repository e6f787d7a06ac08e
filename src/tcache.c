/* tcache.c: per-thread caches of free marked blocks.
 *
 * Every marked request would otherwise take the arena's one lock. A thread
 * keeps up to CACHE_DEPTH freed small blocks per size class and hands them
 * out again without the lock; a miss refills, and a full cache spills, a
 * batch at a time under it.
 *
 * A cached block may lie in a page that a fork has since frozen: handing it
 * out would make the program write a frozen page. So each cache belongs to
 * a freeze generation (cg_freeze_generation): after a freeze a cache is
 * flushed back to the arena, where its blocks are quarantined like any
 * block freed while frozen. A thread's cache goes back when the thread
 * exits. */
#include "internal.h"

#define CACHE_DEPTH 32
#define BATCH 16

typedef struct {
    uint64_t generation;
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
        for (int i = 0; i < c->count[cls]; i++) cg_arena_free_locked(c->block[cls][i]);
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

/* The calling thread's cache, current with the freeze generation, or NULL
 * when the cache cannot be used now. */
static cache_t *current(void)
{
    cache_t *c = &cache;
    uint64_t gen = cg_freeze_generation();
    if (cg_unlikely(c->generation != gen)) {
        cg_arena_lock();
        flush_locked(c);
        cg_arena_unlock();
        c->generation = gen;
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
    if (c->count[cls] == 0) {
        void *batch[BATCH];
        int n = cg_arena_alloc_batch(cls, batch, BATCH);
        for (int i = 0; i < n; i++) c->block[cls][c->count[cls]++] = batch[i];
        if (c->count[cls] == 0) return NULL;
    }
    void *p = c->block[cls][--c->count[cls]];
    cg_arena_set_site(p, site);
    return p;
}

/* Keep a freed marked block of class cls; false: the arena takes it. */
bool cg_tcache_free(void *p, int cls)
{
    cache_t *c = current();
    /* A block freed twice in a row is the usual double free: the arena
     * reports it. (The scan stops short: a full one would cost more than
     * the cache saves.) */
    for (int i = c->count[cls], stop = i > 4 ? i - 4 : 0; i-- > stop;)
        if (c->block[cls][i] == p) return false;
    if (c->count[cls] == CACHE_DEPTH) {
        cg_arena_lock();
        for (int i = 0; i < BATCH; i++) cg_arena_free_locked(c->block[cls][--c->count[cls]]);
        cg_arena_unlock();
    }
    c->block[cls][c->count[cls]++] = p;
    return true;
}
