/* sites.c: the stack table and the write table, both in the board, so that
 * every process of the tree adds to them and the root reads them all.
 *
 * Both are open-addressing hash tables filled lock-free: an entry is claimed
 * with a compare-and-swap, written, then published. The fault handler adds
 * to them, so nothing here allocates, locks or waits for long. */
#include <string.h>
#include <unistd.h>

#include "attrib.h"

#define SITE_EMPTY 0
#define SITE_BUSY 1
#define WRITE_BUSY UINT64_MAX
#define SPINS 1000 /* a writer in another thread finishes within a few stores */
/* An entry lies at most this far from where its hash puts it, so a lookup
 * never looks further: a table that is full, or nearly, costs a new stack
 * 64 probes, not a scan of the whole table. */
#define PROBES 64

static cg_site_t *site_at(cg_board_t *b, uint32_t i)
{
    return (cg_site_t *)((char *)b + b->sites_offset + (size_t)i * b->site_stride);
}

static cg_write_t *writes_of(cg_board_t *b)
{
    return (cg_write_t *)((char *)b + b->writes_offset);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t stack_hash(const uintptr_t *frames, uint32_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (uint32_t i = 0; i < n; i++) h = mix(h ^ frames[i]) + i;
    return h < 2 ? h + 2 : h; /* 0 and 1 mark empty and busy entries */
}

static bool same_stack(const cg_site_t *s, const uintptr_t *frames, uint32_t n)
{
    if (s->nframes != n) return false;
    for (uint32_t i = 0; i < n; i++)
        if (s->frames[i] != frames[i]) return false;
    return true;
}

/* The id of this stack (1..CG_SITE_SLOTS - 1), adding it when new;
 * CG_SITE_OTHER when there is no room for it near its place (the table is
 * full); 0 when backtraces are off. Async-signal-safe. */
static cg_site_id_t site_id(const uintptr_t *frames, uint32_t n, bool writer)
{
    cg_board_t *b = cg_board;
    if (!b || !b->site_frames || n == 0) return 0;
    if (n > b->site_frames) n = b->site_frames;
    uint64_t h = stack_hash(frames, n);
    /* Allocation sites take at most three quarters of the table: the
     * writers, which come after the fork, always find room. */
    bool room = writer || atomic_load_explicit(&b->nsites, memory_order_relaxed) < CG_SITE_SLOTS / 4 * 3;
    for (uint32_t probe = 0; probe < PROBES; probe++) {
        uint32_t i = (uint32_t)((h + probe) % (CG_SITE_SLOTS - 1)); /* the last entry is CG_SITE_OTHER's */
        cg_site_t *s = site_at(b, i);
        uint64_t cur = atomic_load_explicit(&s->hash, memory_order_acquire);
        for (int spin = 0; cur == SITE_BUSY && spin < SPINS; spin++)
            cur = atomic_load_explicit(&s->hash, memory_order_acquire);
        if (cur == SITE_EMPTY && !room) break; /* not here, and no room for it */
        if (cur == SITE_EMPTY) {
            uint64_t expected = SITE_EMPTY;
            if (atomic_compare_exchange_strong(&s->hash, &expected, SITE_BUSY)) {
                for (uint32_t f = 0; f < n; f++) s->frames[f] = frames[f];
                s->nframes = n;
                atomic_fetch_add_explicit(&b->nsites, 1, memory_order_relaxed);
                atomic_store_explicit(&s->hash, h, memory_order_release);
                return (cg_site_id_t)(i + 1);
            }
            cur = expected;
        }
        if (cur == h && same_stack(s, frames, n)) return (cg_site_id_t)(i + 1);
    }
    atomic_fetch_add(&b->lost_sites, 1);
    return CG_SITE_OTHER;
}

cg_site_id_t cg_site_id(const uintptr_t *frames, uint32_t n)
{
    return site_id(frames, n, false);
}

/* Allocation sites in a CPython: the caller's frame (the C function that
 * asked for memory: PyUnicode_New, NumPy's allocator) and the Python
 * frames, with no unwinding: the native frames between are the
 * interpreter's, which the report folds away, and unwinding costs more than
 * the allocation. Remembered per (caller, hash of the Python frames), so
 * that a site seen before costs one walk of the frames and one look. A
 * racing store costs a miss, or, once in 2^64, a neighbouring site. */
#define PY_MEMO 8192
static struct {
    _Atomic uint64_t key; /* a hash of the caller and the frames; 0 empty, 1 being written */
    uintptr_t caller;
    cg_site_id_t id;
} py_memo[PY_MEMO];

/* This thread's recent Python sites, by where they were (cg_py_here) and
 * the caller: a loop that allocates at a few places asks the frames
 * nothing more. The key is written last: a signal handler's allocation
 * in between misses. */
#define RECENT 32
_Static_assert(RECENT == 1 << 5, "python_site's index takes the top 5 bits of a hash");
static __thread struct {
    uint64_t here;
    uintptr_t caller;
    cg_site_id_t id;
} recent_sites[RECENT] CG_TLS;

static cg_site_id_t python_site_slow(uintptr_t caller);

static cg_site_id_t python_site(const uintptr_t *slot)
{
    if (!slot) return 0;
    uintptr_t caller = *slot;
    uint64_t here = cg_py_here();
    if (!here) return 0;
    __typeof__(recent_sites[0]) *r = &recent_sites[((here ^ caller) * 0x9e3779b97f4a7c15ULL) >> 59]; /* RECENT */
    if (r->here == here && r->caller == caller) return r->id;
    cg_site_id_t id = python_site_slow(caller);
    r->here = 0;
    atomic_signal_fence(memory_order_seq_cst);
    r->caller = caller;
    r->id = id;
    atomic_signal_fence(memory_order_seq_cst);
    r->here = here;
    return id;
}

static cg_site_id_t python_site_slow(uintptr_t caller)
{
    cg_pystack_t ps;
    if (!cg_py_stack(&ps, cg_board->site_frames)) return 0;
    uint64_t key = (ps.hash ^ (caller * 0x9e3779b97f4a7c15ULL)) | 2; /* never 0 (empty) or 1 (busy) */
    size_t i = (key >> 17) % PY_MEMO;
    uint64_t cur = atomic_load_explicit(&py_memo[i].key, memory_order_acquire);
    if (cur == key && py_memo[i].caller == caller) {
        cg_site_id_t id = py_memo[i].id;
        atomic_signal_fence(memory_order_acquire);
        if (atomic_load_explicit(&py_memo[i].key, memory_order_acquire) == key) return id;
    }
    uint32_t locs[CG_MAX_FRAMES];
    uint32_t m = cg_py_resolve(&ps, locs);
    if (!m) return 0;
    /* A large program marked whole (COWGUARD_PREFORK) makes more Python
     * stacks than the table holds: as it fills, new allocation sites keep
     * fewer frames, so that the data built last (after the imports) still
     * finds room, with its innermost lines. */
    uint32_t used = atomic_load_explicit(&cg_board->nsites, memory_order_relaxed);
    uint32_t keep = used < CG_SITE_SLOTS / 2 ? m : used < CG_SITE_SLOTS / 8 * 5 ? 4 : 2;
    if (m > keep) m = keep;
    uintptr_t out[CG_MAX_FRAMES];
    cg_site_id_t id = cg_site_id(out, cg_py_splice(&caller, 1, locs, m, out, cg_board->site_frames));
    /* "Other stacks" too: a full table is not asked again. */
    if (cur != 1 && atomic_compare_exchange_strong(&py_memo[i].key, &cur, 1)) {
        py_memo[i].caller = caller;
        py_memo[i].id = id;
        atomic_store_explicit(&py_memo[i].key, key, memory_order_release);
    }
    return id;
}

static cg_site_id_t native_site(const uintptr_t *slot)
{
    cg_site_id_t id;
    cg_sitecache_t known = slot ? cg_sitecache_find(slot, &id) : CG_SITECACHE_UNWIND;
    if (known == CG_SITECACHE_HIT) return id;
    uintptr_t frames[CG_MAX_FRAMES], slots[CG_MAX_FRAMES];
    uint32_t n = known == CG_SITECACHE_LEARN ? cg_backtrace_slots(frames, slots, (uint32_t)cg_opt.backtrace) : 0;
    if (n) {
        id = cg_site_id(frames, n);
        if (slots[0] == (uintptr_t)slot && frames[0] == *slot) cg_sitecache_add(frames, slots, n, id);
        return id;
    }
    n = cg_backtrace(frames, (uint32_t)cg_opt.backtrace);
    return cg_site_id(frames, n);
}

/* The site id of the calling stack, for a marked allocation; 0 when
 * backtraces are off or the board is not set up. slot: where the
 * program's return address into cowguard lies on the stack, when the
 * caller knows (the malloc wrappers do): the thread's cache of stacks
 * (sitecache.c) then answers most calls without unwinding. */
cg_site_id_t cg_site_here(const uintptr_t *slot)
{
    if (!cg_opt.backtrace || !cg_board) return 0;
    cg_site_id_t id = cg_py_active() ? python_site(slot) : 0;
    return id ? id : native_site(slot);
}

/* A writer's stack (native, n frames, unwound from the fault's context)
 * with the thread's Python frames: the site id. In the fault handler. */
cg_site_id_t cg_writer_site(const uintptr_t *native, uint32_t n)
{
    cg_board_t *b = cg_board;
    if (!cg_py_active() || !b || !b->site_frames) return site_id(native, n, true);
    uint32_t locs[CG_MAX_FRAMES];
    uint32_t m = cg_py_locs_probed(locs, b->site_frames);
    if (!m) return site_id(native, n, true);
    uintptr_t out[CG_MAX_FRAMES];
    return site_id(out, cg_py_splice(native, n, locs, m, out, b->site_frames), true);
}

/* The frames of site id, or NULL. */
const cg_site_t *cg_site_get(cg_site_id_t id)
{
    cg_board_t *b = cg_board;
    if (!b || !b->site_frames || id == 0 || id > CG_SITE_SLOTS) return NULL;
    const cg_site_t *s = site_at(b, id - 1u);
    return atomic_load_explicit(&((cg_site_t *)s)->hash, memory_order_acquire) > SITE_BUSY ? s : NULL;
}

/* Count writes (trapped writes, or 0 for a copy settled later) by this
 * process through writer into a block of alloc, and whether they copied a
 * shared page; late: after it began to exit. Async-signal-safe. */
void cg_write_note(cg_site_id_t writer, cg_site_id_t alloc, cg_cause_t cause, uint32_t writes, bool copied, bool late)
{
    cg_board_t *b = cg_board;
    if (!b || !b->site_frames) return;
    uint64_t key = ((uint64_t)cause << (2 * CG_SITE_BITS + 1) | (uint64_t)late << 2 * CG_SITE_BITS |
                    (uint64_t)writer << CG_SITE_BITS | alloc) + 1;
    int32_t pid = (int32_t)getpid();
    uint64_t h = mix(key * 31 + (uint64_t)pid);
    cg_write_t *t = writes_of(b);
    for (uint32_t probe = 0; probe < PROBES; probe++) {
        cg_write_t *w = &t[(h + probe) % CG_WRITE_SLOTS];
        uint64_t cur = atomic_load_explicit(&w->key, memory_order_acquire);
        for (int spin = 0; cur == WRITE_BUSY && spin < SPINS; spin++)
            cur = atomic_load_explicit(&w->key, memory_order_acquire);
        if (cur == 0) {
            uint64_t expected = 0;
            if (atomic_compare_exchange_strong(&w->key, &expected, WRITE_BUSY)) {
                atomic_store(&w->pid, pid);
                atomic_store(&w->writes, writes);
                atomic_store(&w->pages, copied);
                atomic_store_explicit(&w->key, key, memory_order_release);
                return;
            }
            cur = expected;
        }
        if (cur == key && atomic_load(&w->pid) == pid) {
            if (writes) atomic_fetch_add(&w->writes, writes);
            if (copied) atomic_fetch_add(&w->pages, 1);
            return;
        }
    }
    atomic_fetch_add(&b->lost_writes, 1);
    if (copied) atomic_fetch_add(&b->lost_pages, 1);
}

/* Visit every published write entry. */
void cg_write_each(void (*fn)(const cg_write_t *w, cg_site_id_t writer, cg_site_id_t alloc, cg_cause_t cause, bool late,
                              void *arg),
                   void *arg)
{
    cg_board_t *b = cg_board;
    if (!b || !b->site_frames) return;
    cg_write_t *t = writes_of(b);
    for (uint32_t i = 0; i < CG_WRITE_SLOTS; i++) {
        uint64_t key = atomic_load_explicit(&t[i].key, memory_order_acquire);
        if (key == 0 || key == WRITE_BUSY) continue;
        key -= 1;
        fn(&t[i], (cg_site_id_t)(key >> CG_SITE_BITS & CG_SITE_MASK), (cg_site_id_t)(key & CG_SITE_MASK),
           (cg_cause_t)(key >> (2 * CG_SITE_BITS + 1)), (key >> 2 * CG_SITE_BITS) & 1, arg);
    }
}

/* Is frame i of s shown in the text report? With Python frames, the
 * native frames of the interpreter, and every native frame outside the
 * outermost Python frame (the interpreter's start, libc's), are folded
 * away: sites then group by Python location. */
bool cg_site_shown(const cg_site_t *s, uint32_t i)
{
    uint32_t last = UINT32_MAX;
    for (uint32_t k = 0; k < s->nframes; k++)
        if (s->frames[k] & CG_PYFRAME) last = k;
    if (last == UINT32_MAX || (s->frames[i] & CG_PYFRAME)) return true;
    return i < last && !cg_py_interpreter_pc(s->frames[i]);
}

/* The hash of a stack as the text report shows it (the id itself when
 * there is no stack). */
uint64_t cg_site_fold(cg_site_id_t id)
{
    const cg_site_t *s = cg_site_get(id);
    if (!s) return id;
    uintptr_t kept[CG_MAX_FRAMES];
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nframes; i++)
        if (cg_site_shown(s, i)) kept[n++] = s->frames[i];
    return stack_hash(kept, n);
}

const char *cg_cause_name(cg_cause_t cause)
{
    static const char *const names[CG_CAUSES] = { "data", "refcount", "gc", "hash", "field", "allocator", "kernel" };
    return cause < CG_CAUSES ? names[cause] : "data";
}
