/* sitecache.c: a thread's allocation stacks, remembered.
 *
 * Unwinding sixteen frames at every marked allocation costs more than the
 * allocation. But a call site is mostly reached the same way again, and a
 * stack can be recognised without unwinding it: each frame's return
 * address lies in a stack slot whose distance from the first frame's slot
 * depends only on the frames below it (a function's frame size is fixed at
 * a given instruction). So the first unwind of a stack records, with its
 * site id, where each return address lay; the next allocation from the
 * same call site reads those slots and compares. All equal: the same stack,
 * the same site, no unwind. Any difference (another caller, a function
 * whose frame varies with alloca): a miss, a full unwind, and the entry is
 * replaced. A thread keeps 1024 sets of 4 entries, keyed by the first two
 * return addresses (where the second lies is learnt per first: a wrapper
 * such as xmalloc is one first frame for every stack through it), in
 * memory mapped at its first marked allocation and unmapped at its exit.
 * Reads stay inside the thread's stack: a call made on another stack (a
 * coroutine's, an alternate signal stack) takes the plain backtrace.
 *
 * Learning where the slots lie takes a slower unwind than the cached one
 * libunwind does for a plain backtrace. A call site reached from more
 * stacks than its set holds would pay it at every call: so each set may
 * learn 16 stacks, and after that its misses take the plain backtrace. */
#include <errno.h>
#include <sys/mman.h>

#include "attrib.h"

#define SETS 1024
#define WAYS 4
#define FIRSTS 512 /* where the second return address lies, per first */
#define LEARN 16 /* stacks a set may learn */

typedef struct {
    uintptr_t ra0;   /* the first return address: the key; 0 = empty */
    uint32_t n;      /* frames */
    uint32_t reach;  /* bytes from the first slot to past the last */
    cg_site_id_t id;
    uint32_t off[CG_MAX_FRAMES]; /* off[k]: the slot of frame k, from frame 0's */
    uintptr_t ra[CG_MAX_FRAMES];
} entry_t;

typedef struct {
    uintptr_t ra0;
    uint32_t off1; /* 0: frame 0 was the only one */
} first_t;

typedef struct {
    entry_t entries[SETS * WAYS];
    first_t firsts[FIRSTS];
    uint8_t next[SETS];   /* the way each set replaces next */
    uint8_t learnt[SETS]; /* stacks each set has learnt */
} table_t;

static __thread struct {
    table_t *table;
    uintptr_t stack_lo, stack_hi; /* this thread's stack */
    uint8_t state;    /* 0 untried, 1 ready, 2 unavailable */
} me CG_TLS;

static pthread_key_t exit_key;
static _Atomic int key_state; /* 0 untried, 1 made, -1 failed */

/* A destructor that runs after this one may still allocate: it finds no
 * table and unwinds. */
static void on_thread_exit(void *table)
{
    me.table = NULL;
    me.state = 2;
    if (table) cg_unmap_anon(table, sizeof(table_t));
}

static bool setup(void)
{
    if (cg_likely(me.state == 1)) return true;
    if (me.state == 2) return false;
    me.state = 2;
    int saved = errno; /* a malloc wrapper keeps errno */
    cg_tls.busy++; /* pthread_getattr_np reads /proc/self/maps with stdio in the main thread */
    int ks = atomic_load(&key_state);
    if (ks == 0) {
        int expected = 0;
        int made = pthread_key_create(&exit_key, on_thread_exit) == 0 ? 1 : -1;
        if (!atomic_compare_exchange_strong(&key_state, &expected, made) && made == 1) pthread_key_delete(exit_key);
        ks = atomic_load(&key_state);
    }
    pthread_attr_t attr;
    void *lo = NULL;
    size_t size = 0;
    if (ks == 1 && pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &lo, &size) != 0) size = 0;
        pthread_attr_destroy(&attr);
    }
    if (size) {
        void *t = cg_map_anon(sizeof(table_t));
        if (t) {
            me.table = t;
            me.stack_lo = (uintptr_t)lo;
            me.stack_hi = (uintptr_t)lo + size;
            me.state = 1;
            pthread_setspecific(exit_key, t);
        }
    }
    cg_tls.busy--;
    errno = saved;
    return me.state == 1;
}

/* Is base a slot of this thread's stack, with the table ready? */
static bool on_stack(uintptr_t base)
{
    return setup() && base >= me.stack_lo && base < me.stack_hi;
}

static first_t *first_of(uintptr_t ra0)
{
    return &me.table->firsts[(ra0 * 0x9e3779b97f4a7c15ULL) >> 55 & (FIRSTS - 1)];
}

/* The set of the stack whose first return addresses are ra0 and ra1. */
static size_t set_index(uintptr_t ra0, uintptr_t ra1)
{
    uint64_t h = (ra0 ^ (ra1 * 0xff51afd7ed558ccdULL)) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 54) & (SETS - 1);
}

/* The second return address of the stack at base (0 for a one-frame
 * stack), when this thread knows where it lies. */
static bool second(uintptr_t base, uintptr_t ra0, uintptr_t *ra1)
{
    const first_t *f = first_of(ra0);
    if (f->ra0 != ra0) return false;
    if (f->off1 && f->off1 + sizeof(uintptr_t) > me.stack_hi - base) return false;
    *ra1 = f->off1 ? *(const uintptr_t *)(base + f->off1) : 0;
    return true;
}

/* The site of the stack whose first return address lies at slot, when this
 * thread has seen it: CG_SITECACHE_HIT and *id. Else whether the stack may
 * be learnt (cg_sitecache_add; the learning is counted against its set): a
 * first return address whose second is not known yet may always be. */
cg_sitecache_t cg_sitecache_find(const uintptr_t *slot, cg_site_id_t *id)
{
    uintptr_t ra0 = *slot, base = (uintptr_t)slot, ra1;
    if (!on_stack(base)) return CG_SITECACHE_UNWIND;
    if (!second(base, ra0, &ra1)) return CG_SITECACHE_LEARN;
    size_t set_i = set_index(ra0, ra1);
    entry_t *set = &me.table->entries[set_i * WAYS];
    for (int w = 0; w < WAYS; w++) {
        entry_t *e = &set[w];
        if (e->ra0 != ra0 || e->reach > me.stack_hi - base) continue;
        uint32_t k = 1;
        while (k < e->n && *(const uintptr_t *)(base + e->off[k]) == e->ra[k]) k++;
        if (k == e->n) {
            *id = e->id;
            return CG_SITECACHE_HIT;
        }
    }
    if (me.table->learnt[set_i] >= LEARN) return CG_SITECACHE_UNWIND;
    me.table->learnt[set_i]++;
    return CG_SITECACHE_LEARN;
}

/* Remember a stack just unwound: frames and the slots their return
 * addresses lay in (frame 0's is where the program called cowguard). */
void cg_sitecache_add(const uintptr_t *frames, const uintptr_t *slots, uint32_t n, cg_site_id_t id)
{
    if (n == 0 || n > CG_MAX_FRAMES || !on_stack(slots[0])) return;
    uintptr_t base = slots[0];
    for (uint32_t k = 1; k < n; k++)
        if (slots[k] <= slots[k - 1] || slots[k] - base >= me.stack_hi - base) return; /* not a plain stack */
    first_t *f = first_of(frames[0]);
    f->ra0 = frames[0];
    f->off1 = n > 1 ? (uint32_t)(slots[1] - base) : 0;
    size_t idx = set_index(frames[0], n > 1 ? frames[1] : 0);
    entry_t *e = &me.table->entries[idx * WAYS + me.table->next[idx]++ % WAYS];
    /* A signal handler that allocates meanwhile must not match it half
     * written: the key is cleared first and set last. */
    e->ra0 = 0;
    atomic_signal_fence(memory_order_seq_cst);
    e->n = n;
    e->id = id;
    for (uint32_t k = 0; k < n; k++) {
        e->off[k] = (uint32_t)(slots[k] - base);
        e->ra[k] = frames[k];
    }
    e->reach = e->off[n - 1] + (uint32_t)sizeof(uintptr_t);
    atomic_signal_fence(memory_order_seq_cst);
    e->ra0 = frames[0];
}
