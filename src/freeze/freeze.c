/* freeze.c: freezing and thawing the arena, and what the thaws cost.
 *
 * A freeze makes every page below the arena's top read-only with one
 * mprotect, so the frozen range stays one mapping, and sets the page's bit in
 * the frozen bitmap. A trapped write thaws its one page (cg_thaw_page, which
 * is async-signal-safe); a thaw of everything re-merges the mappings and lets
 * the allocator reuse what was freed while frozen.
 *
 * Copies. A trapped write copies its page when another process shares it:
 * the handler reads pagemap before the write, so that copy is known exactly
 * and counted at once. A page made writable without a trap (a unit thawed in
 * bulk, a system call's destination, a range kept for the kernel, the
 * parent's view after COWGUARD_FREEZE_PARENT=0) is copied only if the
 * process writes it afterwards while it is still shared: such a page is
 * "pending", its writes recorded by the kernel (track.c), and cg_settle
 * counts the ones written, at every fork, reclaim and exit. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "freeze.h"

/* The state of every page of the arena's reservation, out of band: one
 * bit per page in each bitmap, mapped at set-up (MAP_NORESERVE: untouched
 * words cost nothing). */
static struct {
    bool ready;
    uintptr_t ever_frozen_end;    /* pages below it were frozen at least once */
    _Atomic uint64_t *frozen;     /* read-only now, by a freeze */
    _Atomic uint64_t *pending;    /* made writable without a trapped write while another process
                                   * shared it; whether this process then wrote (so copied) it is
                                   * settled later (cg_settle) */
    _Atomic cg_tag_t *pending_tag; /* per page: what made it pending (a call's tag), 0 a bulk thaw */
    _Atomic uint64_t *copied;     /* this process copied it (and counted the copy) */
    _Atomic uint64_t *program;    /* the program protected it itself (mprotect) */
} pg;

static const cg_watch_t *watch; /* who counts what happens here (attrib/ledger.c) */
static _Atomic size_t thaws;    /* thaw operations since the last freeze (which re-merges) */

static void budget_setup(void);
static void mark_pending(uintptr_t from, uintptr_t to, cg_tag_t tag, bool assume_shared);
static void mark_pending_frozen(uintptr_t from, uintptr_t to);
static int reclaim_range(uintptr_t from, uintptr_t to);
static bool move_pages(uintptr_t from, uintptr_t to, size_t len);
#ifndef MREMAP_DONTUNMAP
#define DONTUNMAP 4 /* Linux 5.7's value, for older headers */
#else
#define DONTUNMAP MREMAP_DONTUNMAP
#endif

/* Once the arena is set up (its lock held): the page bitmaps. false when
 * they cannot be mapped (then nothing may be frozen). */
bool cg_freeze_setup(void)
{
    if (pg.ready) return true;
    size_t npages = (cg_arena.end - cg_arena.base) >> CG_PAGE_SHIFT;
    size_t bitmap = (npages + 63) / 64 * 8, tags = npages * sizeof *pg.pending_tag;
    _Atomic uint64_t *frozen = cg_map_anon(bitmap), *pending = cg_map_anon(bitmap), *copied = cg_map_anon(bitmap),
                     *program = cg_map_anon(bitmap);
    _Atomic cg_tag_t *tag = cg_map_anon(tags);
    if (!frozen || !pending || !copied || !program || !tag) {
        if (frozen) cg_unmap_anon(frozen, bitmap);
        if (pending) cg_unmap_anon(pending, bitmap);
        if (copied) cg_unmap_anon(copied, bitmap);
        if (program) cg_unmap_anon(program, bitmap);
        if (tag) cg_unmap_anon(tag, tags);
        return false;
    }
    pg.frozen = frozen;
    pg.pending = pending;
    pg.copied = copied;
    pg.program = program;
    pg.pending_tag = tag;
    pg.ever_frozen_end = cg_arena.base;
    cg_arena_on_reclaim(reclaim_range);
    cg_arena_on_move(move_pages);
    __atomic_store_n(&pg.ready, true, __ATOMIC_RELEASE);
    return true;
}

void cg_freeze_watch(const cg_watch_t *w)
{
    watch = w;
}

const cg_watch_t *cg_watcher(void)
{
    return watch;
}

static inline uintptr_t ever_frozen_end(void)
{
    return __atomic_load_n(&pg.ever_frozen_end, __ATOMIC_ACQUIRE);
}

/* The end of the pages ever frozen here; 0 before the first set-up. */
uintptr_t cg_ever_frozen_end(void)
{
    return ever_frozen_end();
}

static void set_range(_Atomic uint64_t *map, size_t from, size_t to, bool on)
{
    for (size_t i = from; i < to;) {
        if (i % 64 == 0 && to - i >= 64) { /* whole words at a time */
            atomic_store_explicit(&map[i / 64], on ? ~0ULL : 0, memory_order_relaxed);
            i += 64;
            continue;
        }
        uint64_t bit = 1ULL << (i % 64);
        if (on) atomic_fetch_or_explicit(&map[i / 64], bit, memory_order_relaxed);
        else atomic_fetch_and_explicit(&map[i / 64], ~bit, memory_order_relaxed);
        i++;
    }
}

/* Pages the program protected itself (mprotect to anything but read-write):
 * cowguard neither freezes nor thaws them, and their faults are the
 * program's. program_calls counts the calls that made any, so the common
 * case stays one mprotect per range. */
static _Atomic size_t program_calls;

static void set_bits(size_t from, size_t to, bool on)
{
    set_range(pg.frozen, from, to, on);
    if (on && atomic_load_explicit(&program_calls, memory_order_relaxed))
        for (size_t w = from / 64; w < (to + 63) / 64; w++)
            atomic_fetch_and_explicit(&pg.frozen[w],
                                      ~atomic_load_explicit(&pg.program[w], memory_order_relaxed),
                                      memory_order_relaxed);
}

static bool program_page(size_t i)
{
    return atomic_load_explicit(&pg.program[i / 64], memory_order_relaxed) >> (i % 64) & 1;
}

/* mprotect [from, to) to prot, around the program's own protected pages.
 * Async-signal-safe. */
static int protect(uintptr_t from, uintptr_t to, int prot)
{
    if (!atomic_load_explicit(&program_calls, memory_order_relaxed))
        return cg_mprotect((void *)from, to - from, prot);
    int r = 0;
    for (size_t i = cg_arena_page(from), end = cg_arena_page(to); i < end;) {
        while (i < end && program_page(i)) i++;
        size_t j = i;
        while (j < end && !program_page(j)) j++;
        if (j > i && cg_mprotect((void *)(cg_arena.base + (i << CG_PAGE_SHIFT)), (j - i) << CG_PAGE_SHIFT,
                                      prot) != 0)
            r = -1;
        i = j;
    }
    return r;
}

/* The program set prot on [addr, addr + len): pages left read-write are
 * cowguard's again, others the program's. */
void cg_note_program_protect(uintptr_t addr, size_t len, int prot)
{
    if (!__atomic_load_n(&pg.ready, __ATOMIC_ACQUIRE) || !len || addr >= cg_arena.end || addr + len <= cg_arena.base)
        return;
    uintptr_t from = addr < cg_arena.base ? cg_arena.base : cg_page_down(addr);
    uintptr_t to = addr + len > cg_arena.end ? cg_arena.end : addr + len;
    bool mine = prot != (PROT_READ | PROT_WRITE);
    if (mine) atomic_fetch_add(&program_calls, 1);
    for (uintptr_t a = from; a < to; a += CG_PAGE) {
        size_t i = cg_arena_page(a);
        uint64_t bit = 1ULL << (i % 64);
        if (mine) {
            atomic_fetch_or(&pg.program[i / 64], bit);
            atomic_fetch_and(&pg.frozen[i / 64], ~bit);
        } else {
            atomic_fetch_and(&pg.program[i / 64], ~bit);
        }
    }
}

static bool program_protected(uintptr_t addr)
{
    return atomic_load_explicit(&program_calls, memory_order_relaxed) && program_page(cg_arena_page(addr));
}

/* In a forked child: its parent's pending pages and copies are not its own. */
void cg_freeze_child(void)
{
    if (!pg.ready) return;
    set_range(pg.pending, 0, cg_arena_page(pg.ever_frozen_end), false);
    set_range(pg.copied, 0, cg_arena_page(pg.ever_frozen_end), false);
    cg_track_child();
}

/* Pages frozen now, in this process. */
size_t cg_frozen_pages(void)
{
    if (!pg.ready) return 0;
    size_t n = 0, words = (cg_arena_page(pg.ever_frozen_end) + 63) / 64;
    for (size_t w = 0; w < words; w++)
        n += (size_t)__builtin_popcountll(atomic_load_explicit(&pg.frozen[w], memory_order_relaxed));
    return n;
}

bool cg_page_frozen(uintptr_t addr)
{
    if (!cg_arena_owns((void *)addr) || addr >= ever_frozen_end()) return false;
    size_t i = cg_arena_page(addr);
    return atomic_load_explicit(&pg.frozen[i / 64], memory_order_relaxed) >> (i % 64) & 1;
}

/* A fault at addr (SEGV_ACCERR) is a write to a frozen page: in the
 * arena, below the pages ever frozen (only a freeze makes them
 * inaccessible there), and not one the program protected itself. */
bool cg_frozen_fault(uintptr_t addr)
{
    return cg_arena_owns((void *)addr) && addr < ever_frozen_end() && !program_protected(addr);
}

static cg_range_t kept[CG_KEEP_SLOTS]; /* the arena lock serialises freezes */

/* Arena lock held. Freeze every page that belongs to a span.
 *
 * The order matters to code that takes no lock: spans are sealed first (a
 * thread cache then hands out nothing of them) and the allocator's epoch
 * moves (a thaw in flight re-freezes its page, caches flush), then the
 * bits are set (the fault handler recognises the faults) and only then are
 * the pages protected. The caller has installed the fault handler. */
int cg_freeze_all(cg_freeze_result_t *out)
{
    out->pages = out->marked_bytes = 0;
    if (!pg.ready || cg_arena.top == cg_arena.base) return 0;
    budget_setup();
    /* Pending pages written so far were copied before this fork shares them
     * anew: count them now; the freeze makes the rest trap again. */
    cg_settle_all(true);
    uintptr_t top = cg_alloc_seal();
    set_bits(0, cg_arena_page(top), true);
    if (top > pg.ever_frozen_end) __atomic_store_n(&pg.ever_frozen_end, top, __ATOMIC_RELEASE);
    /* Memory the kernel writes (alternate signal stacks, stacks, buffers of
     * calls in flight) is left out of the mprotect altogether: a signal
     * frame written there in between would kill the process. */
    size_t nkept = cg_keep_ranges(cg_arena.base, top, kept, CG_KEEP_SLOTS);
    int r = 0;
    uintptr_t at = cg_arena.base;
    for (size_t i = 0; i <= nkept; i++) {
        uintptr_t stop = i < nkept ? kept[i].lo : top;
        if (stop > at && protect(at, stop, PROT_READ) != 0) r = -1;
        if (i == nkept) break;
        /* Shared once the fork is done: what the kernel writes there is
         * settled like any pending page. */
        mark_pending(kept[i].lo, kept[i].hi, 0, true);
        protect(kept[i].lo, kept[i].hi, PROT_READ | PROT_WRITE);
        set_bits(cg_arena_page(kept[i].lo), cg_arena_page(kept[i].hi), false);
        at = kept[i].hi;
    }
    if (r != 0) {
        cg_message("cannot freeze marked data (mprotect: %s); it stays writable", cg_strerror(errno));
        cg_thaw_all();
        return -1;
    }
    atomic_store(&thaws, 0); /* one mapping again, but for the kept ranges */
    out->pages = cg_arena_page(top);
    out->marked_bytes = cg_arena.live_bytes;
    cg_debug("froze %zu pages (%zu bytes live in %zu blocks)", out->pages, cg_arena.live_bytes,
             cg_arena.live_blocks);
    return 0;
}

/* Arena lock held. Thaw everything; blocks freed while frozen become free. */
int cg_thaw_all(void)
{
    if (!pg.ready || pg.ever_frozen_end == cg_arena.base) return 0;
    uintptr_t end = pg.ever_frozen_end;
    mark_pending_frozen(cg_arena.base, end); /* writable now without traps: settled later */
    if (protect(cg_arena.base, end, PROT_READ | PROT_WRITE) != 0) {
        cg_message("cannot thaw marked data (mprotect: %s)", cg_strerror(errno));
        return -1;
    }
    set_bits(0, cg_arena_page(end), false);
    cg_alloc_unseal(end);
    return 0;
}

/* ---- the mapping budget -------------------------------------------------
 *
 * Thawing one page of a frozen range splits its mapping in up to three, and
 * the kernel allows vm.max_map_count mappings (65530 by default), after
 * which mprotect fails. So cowguard allows its thaws half of the mappings
 * still free when it first freezes, and thaws larger aligned units as that
 * allowance runs out: one page, then 16, then 512, then everything. A
 * program writing scattered frozen pages keeps running; pages thawed
 * without being written are not trapped any more, but their copies are
 * still counted (pending pages, above). */

static size_t allowance; /* thaws times two may reach this */

/* Normal context (the first freeze). */
static void budget_setup(void)
{
    if (allowance) return;
    char buf[32];
    size_t max = 65530;
    if (cg_proc_read("/proc/sys/vm/max_map_count", buf, sizeof buf)) {
        size_t v = 0;
        for (const char *p = buf; *p >= '0' && *p <= '9'; p++) v = v * 10 + (size_t)(*p - '0');
        if (v) max = v;
    }
    size_t used = cg_count_mappings();
    allowance = max > used ? (max - used) / 2 : 1;
}

/* Pages per thaw now; 0 means the whole frozen range. */
static size_t thaw_unit(void)
{
    size_t added = atomic_load_explicit(&thaws, memory_order_relaxed) * 2;
    if (added < allowance / 2) return 1;
    if (added < allowance / 4 * 3) return 16;
    if (added < allowance / 8 * 7) return 512;
    return 0;
}

/* ---- pending pages ------------------------------------------------------- */

static inline void tell(cg_tag_t tag, cg_copy_how_t how)
{
    if (watch) watch->copy(tag, how);
}

static void count_copy(size_t i, cg_tag_t tag, cg_copy_how_t how)
{
    atomic_fetch_or_explicit(&pg.copied[i / 64], 1ULL << (i % 64), memory_order_relaxed);
    tell(tag, how);
}

/* [from, to), frozen until now, becomes writable without a trap: the pages
 * another process shares now (all of them, when assume_shared: a fork is
 * about to share them) become pending, with what made them so, and the
 * kernel starts recording their writes. Before they are made writable.
 * Async-signal-safe. */
static void mark_pending(uintptr_t from, uintptr_t to, cg_tag_t tag, bool assume_shared)
{
    uint64_t entries[64]; /* the handler may run on a small alternate stack */
    for (uintptr_t a = from; a < to; a += sizeof entries / 8 * CG_PAGE) {
        size_t n = (to - a) >> CG_PAGE_SHIFT;
        if (n > 64) n = 64;
        bool known = !assume_shared && cg_pagemap_read(a, n, entries) == 0;
        for (size_t k = 0; k < n; k++) {
            if (known && !cg_pagemap_shared(entries[k])) continue; /* not shared, or not there: no copy */
            size_t i = cg_arena_page(a) + k;
            atomic_store_explicit(&pg.pending_tag[i], tag, memory_order_relaxed);
            uint64_t old = atomic_fetch_or_explicit(&pg.pending[i / 64], 1ULL << (i % 64), memory_order_relaxed);
            if (!(old & (1ULL << (i % 64)))) tell(0, CG_PENDING_MORE);
        }
    }
    cg_track_arm(from, to);
}

/* The frozen pages of [from, to) become pending (cg_thaw_all). */
static void mark_pending_frozen(uintptr_t from, uintptr_t to)
{
    for (uintptr_t a = from; a < to;) {
        while (a < to && !cg_page_frozen(a)) a += CG_PAGE;
        uintptr_t b = a;
        while (b < to && cg_page_frozen(b)) b += CG_PAGE;
        if (b > a) mark_pending(a, b, 0, false);
        a = b;
    }
}

static void settle_one(uintptr_t page, bool estimated)
{
    size_t i = cg_arena_page(page);
    uint64_t bit = 1ULL << (i % 64);
    if (!(atomic_fetch_and_explicit(&pg.pending[i / 64], ~bit, memory_order_relaxed) & bit)) return;
    tell(0, CG_PENDING_LESS);
    count_copy(i, atomic_load_explicit(&pg.pending_tag[i], memory_order_relaxed),
               estimated ? CG_COPY_ESTIMATED : CG_COPY_SETTLED);
}

static void settle_written(uintptr_t page, void *arg)
{
    if (page >= cg_arena.base && page < pg.ever_frozen_end) settle_one(page, false);
}

/* Count the pending pages of [lo, hi) this process has written: each was
 * copied (it was shared when it became pending). final: they stop being
 * pending (a freeze, a reclaim, the end of the process): those never
 * written are let go. Without the kernel's record of writes, a final
 * settle counts the pending pages the kernel shows private now, as an
 * estimate. Async-signal-safe. */
void cg_settle(uintptr_t lo, uintptr_t hi, bool final)
{
    if (!pg.ready || lo >= hi) return;
    if (hi > pg.ever_frozen_end) hi = pg.ever_frozen_end;
    /* Runs of pending pages, asked of the kernel one run at a time (pages
     * never armed would all read as written). */
    bool recorded = cg_track_armed();
    size_t first = cg_arena_page(lo), last = cg_arena_page(hi);
    for (size_t i = first; recorded && i < last;) {
        uint64_t word = atomic_load_explicit(&pg.pending[i / 64], memory_order_relaxed) >> (i % 64);
        if (!word) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (size_t)__builtin_ctzll(word);
        size_t j = i;
        while (j < last && (atomic_load_explicit(&pg.pending[j / 64], memory_order_relaxed) >> (j % 64) & 1)) j++;
        if (i < last && cg_track_scan(cg_arena.base + (i << CG_PAGE_SHIFT), cg_arena.base + (j << CG_PAGE_SHIFT),
                                      settle_written, NULL) != 0)
            recorded = false;
        i = j;
    }
    if (!final) return;
    uint64_t entry;
    for (size_t w = first / 64; w < (last + 63) / 64; w++) {
        uint64_t bits = atomic_load_explicit(&pg.pending[w], memory_order_relaxed);
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (i < first || i >= last) continue;
            uintptr_t page = cg_arena.base + ((uintptr_t)i << CG_PAGE_SHIFT);
            if (!recorded && cg_pagemap_read(page, 1, &entry) == 0 && cg_pagemap_private(entry)) {
                settle_one(page, true);
                continue;
            }
            uint64_t bit = 1ULL << (i % 64);
            if (atomic_fetch_and_explicit(&pg.pending[w], ~bit, memory_order_relaxed) & bit)
                tell(0, CG_PENDING_LESS);
        }
    }
}

/* Every page ever frozen here (cg_settle). */
void cg_settle_all(bool final)
{
    if (pg.ready) cg_settle(cg_arena.base, ever_frozen_end(), final);
}

/* From pagemap, over the pages ever frozen: those still resident and shared
 * with another process, and those this process copied that it still holds
 * alone. Static buffers: this runs once per process, at its end, maybe on a
 * small signal stack. */
void cg_freeze_residency(uint64_t *shared, uint64_t *copies_held)
{
    static uint64_t entries[512];
    *shared = *copies_held = 0;
    if (!pg.ready) return;
    size_t npages = cg_arena_page(ever_frozen_end());
    for (size_t c = 0; c < npages; c += 512) {
        size_t n = npages - c < 512 ? npages - c : 512;
        if (cg_pagemap_read(cg_arena_page_addr(c), n, entries) != 0) break;
        for (size_t k = 0; k < n; k++) {
            size_t i = c + k;
            if (cg_pagemap_shared(entries[k])) (*shared)++;
            else if (cg_pagemap_private(entries[k])
                     && (atomic_load_explicit(&pg.copied[i / 64], memory_order_relaxed) >> (i % 64) & 1))
                (*copies_held)++;
        }
    }
}

/* ---- reclaim ----------------------------------------------------------------- */

/* Arena lock held. Give back the frozen pages [from, to), which hold
 * nothing live any more, so the allocator can use them again: this
 * process's copies are dropped (other processes keep theirs, and the
 * copies stay counted) and the pages made writable, reading as zero. 0,
 * or -1 when they stay frozen. */
static int reclaim_range(uintptr_t from, uintptr_t to)
{
    if (thaw_unit() == 0) return -1; /* no mappings to spare: leave them quarantined */
    cg_settle(from, to, true);
    if (madvise((void *)from, to - from, MADV_DONTNEED) != 0
        || protect(from, to, PROT_READ | PROT_WRITE) != 0)
        return -1;
    set_bits(cg_arena_page(from), cg_arena_page(to), false);
    set_range(pg.copied, cg_arena_page(from), cg_arena_page(to), false);
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
    return 0;
}

/* ---- moving pages ------------------------------------------------------------- */

/* Does any page of [from, to) have a state of this layer's (frozen,
 * pending, copied, the program's own protection)? */
static bool has_state(uintptr_t from, uintptr_t to)
{
    for (size_t i = cg_arena_page(from), end = cg_arena_page(to); i < end;) {
        size_t w = i / 64;
        uint64_t any = atomic_load_explicit(&pg.frozen[w], memory_order_relaxed)
                       | atomic_load_explicit(&pg.pending[w], memory_order_relaxed)
                       | atomic_load_explicit(&pg.copied[w], memory_order_relaxed)
                       | atomic_load_explicit(&pg.program[w], memory_order_relaxed);
        size_t lo = i % 64, hi = end - w * 64 < 64 ? end - w * 64 : 64;
        uint64_t mask = (hi == 64 ? ~0ULL : (1ULL << hi) - 1) & ~((1ULL << lo) - 1);
        if (any & mask) return true;
        i = (w + 1) * 64;
    }
    return false;
}

/* Arena lock held (the allocator's move hook). The pages [from, from +
 * len) move to [to, to + len) with mremap, their bytes not copied;
 * MREMAP_DONTUNMAP (Linux 5.7) keeps the old range mapped, reading as
 * zero, so the reservation never has a hole. Only pages with no state here
 * move: what is frozen, pending or the program's is copied by the caller
 * instead, as is everything on a kernel without DONTUNMAP. */
static bool move_pages(uintptr_t from, uintptr_t to, size_t len)
{
    if (has_state(from, from + len) || has_state(to, to + len)) return false;
    int saved = errno;
    /* the system call: mremap is one of cowguard's exported wrappers */
    bool moved = syscall(SYS_mremap, from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | DONTUNMAP, to) != -1;
    errno = saved;
    if (!moved) return false;
    cg_track_remapped(to, to + len);
    cg_track_remapped(from, from + len);
    return true;
}

/* A write to addr trapped: make its page writable again (with the unit
 * around it when mappings run short). *was_frozen tells whether this call
 * thawed the page (another thread may have won the race for it); *copied
 * whether the write copies it, because another process shares it.
 * Async-signal-safe: atomic bits, pagemap reads and mprotect. Returns 0, or
 * -1 when the page cannot be made writable. */
int cg_thaw_page(uintptr_t addr, bool *was_frozen, bool *copied)
{
    uint64_t epoch = cg_alloc_epoch();
    uintptr_t page = cg_page_down(addr);
    uintptr_t end = __atomic_load_n(&pg.ever_frozen_end, __ATOMIC_ACQUIRE);
    size_t i = cg_arena_page(page);
    uint64_t bit = 1ULL << (i % 64);
    /* Shared? Read before the race for the page is decided: a thread that
     * loses it may write (and copy) the page before the winner looks. */
    uint64_t e;
    bool shared = cg_pagemap_read(page, 1, &e) != 0 || cg_pagemap_shared(e);
    uint64_t old = atomic_fetch_and_explicit(&pg.frozen[i / 64], ~bit, memory_order_relaxed);
    *was_frozen = (old & bit) != 0;
    *copied = *was_frozen && shared;
    size_t unit = *was_frozen ? thaw_unit() : 1;
    uintptr_t from = page, to = page + CG_PAGE;
    if (unit != 1) {
        uintptr_t span = unit ? unit * CG_PAGE : end - cg_arena.base;
        from = unit ? cg_arena.base + ((page - cg_arena.base) / span) * span : cg_arena.base;
        to = from + span < end ? from + span : end;
    }
    if (unit != 1 || cg_mprotect((void *)page, CG_PAGE, PROT_READ | PROT_WRITE) != 0) {
        /* A unit, or out of mappings all the same: thaw the larger range,
         * which merges mappings; fall back to everything. Its other frozen
         * pages will be written untrapped: pending. */
        bool all = false;
        if (unit == 1) from = cg_arena.base, to = end, all = true;
        mark_pending_frozen(from, page);
        mark_pending_frozen(page + CG_PAGE, to);
        if (protect(from, to, PROT_READ | PROT_WRITE) != 0) {
            if (all || protect(cg_arena.base, end, PROT_READ | PROT_WRITE) != 0) return -1;
            mark_pending_frozen(cg_arena.base, from);
            mark_pending_frozen(to, end);
            from = cg_arena.base;
            to = end;
        }
        set_bits(cg_arena_page(from), cg_arena_page(to), false);
    }
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
    if (cg_alloc_epoch() != epoch) {
        /* A fork froze everything meanwhile, and this thaw may have undone
         * it for the page: freeze the page again; the write, retried, traps
         * afresh and is counted then. */
        atomic_fetch_or_explicit(&pg.frozen[i / 64], bit, memory_order_relaxed);
        cg_mprotect((void *)page, CG_PAGE, PROT_READ);
        *was_frozen = *copied = false;
        return 0;
    }
    if (*copied) atomic_fetch_or_explicit(&pg.copied[i / 64], bit, memory_order_relaxed);
    return 0;
}

/* A system call is about to write the frozen page at addr: make it
 * writable without a trap. *was_frozen: this call thawed it (another thread
 * may have won the race); the page, if another process shares it, becomes
 * pending with tag, so that only a page the kernel then writes counts as
 * copied. Async-signal-safe. */
void cg_thaw_for_kernel(uintptr_t addr, cg_tag_t tag, bool *was_frozen)
{
    uintptr_t page = cg_page_down(addr);
    size_t i = cg_arena_page(page);
    uint64_t bit = 1ULL << (i % 64);
    *was_frozen = (atomic_load_explicit(&pg.frozen[i / 64], memory_order_relaxed) & bit) != 0;
    if (!*was_frozen) return;
    mark_pending(page, page + CG_PAGE, tag, false); /* before it can be written */
    uint64_t old = atomic_fetch_and_explicit(&pg.frozen[i / 64], ~bit, memory_order_relaxed);
    *was_frozen = (old & bit) != 0;
    if (protect(page, page + CG_PAGE, PROT_READ | PROT_WRITE) != 0) {
        uintptr_t end = __atomic_load_n(&pg.ever_frozen_end, __ATOMIC_ACQUIRE);
        mark_pending_frozen(cg_arena.base, end); /* out of mappings: thaw everything */
        if (protect(cg_arena.base, end, PROT_READ | PROT_WRITE) == 0) set_bits(0, cg_arena_page(end), false);
    }
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
}

/* [lo, hi) clipped to the pages that were ever frozen, widened to pages. */
static bool clip(uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t end = __atomic_load_n(&pg.ever_frozen_end, __ATOMIC_ACQUIRE);
    uintptr_t a = *lo < cg_arena.base ? cg_arena.base : cg_page_down(*lo);
    uintptr_t b = *hi > end ? end : cg_page_up(*hi);
    if (a >= b) return false;
    *lo = a;
    *hi = b;
    return true;
}

/* Make the frozen pages of [lo, hi) writable for a write the kernel will
 * make, without trapping it: they become pending (settled as copies if
 * written while shared). Async-signal-safe. */
void cg_thaw_range(uintptr_t lo, uintptr_t hi)
{
    if (!pg.ready || !clip(&lo, &hi)) return;
    mark_pending_frozen(lo, hi);
    if (protect(lo, hi, PROT_READ | PROT_WRITE) != 0) return;
    set_bits(cg_arena_page(lo), cg_arena_page(hi), false);
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
}

/* In a forked child: freeze [lo, hi) again, as the fork left it before
 * cg_thaw_range kept it writable for the parent. */
void cg_refreeze_range(uintptr_t lo, uintptr_t hi)
{
    if (!pg.ready || !clip(&lo, &hi)) return;
    if (protect(lo, hi, PROT_READ) != 0) return;
    set_bits(cg_arena_page(lo), cg_arena_page(hi), true);
    set_range(pg.pending, cg_arena_page(lo), cg_arena_page(hi), false);
}
