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
#include <unistd.h>

#include "internal.h"
#include "sys.h"

static inline size_t page_index(uintptr_t addr)
{
    return (addr - cg_arena.base) >> CG_PAGE_SHIFT;
}

static void budget_setup(void);
static void mark_pending(uintptr_t from, uintptr_t to, uint32_t site, bool assume_shared);
static void mark_pending_frozen(uintptr_t from, uintptr_t to);
static _Atomic uint64_t generation; /* freezes so far: a thaw re-checks it */
static _Atomic size_t thaws; /* thaw operations since the last freeze (which re-merges) */

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
 * program's. user_pages counts the calls that made any, so the common case
 * stays one mprotect per range. */
static _Atomic size_t user_pages;

static void set_bits(size_t from, size_t to, bool on)
{
    set_range(cg_arena.frozen, from, to, on);
    if (on && atomic_load_explicit(&user_pages, memory_order_relaxed))
        for (size_t w = from / 64; w < (to + 63) / 64; w++)
            atomic_fetch_and_explicit(&cg_arena.frozen[w],
                                      ~atomic_load_explicit(&cg_arena.user[w], memory_order_relaxed),
                                      memory_order_relaxed);
}

static bool user_page(size_t i)
{
    return atomic_load_explicit(&cg_arena.user[i / 64], memory_order_relaxed) >> (i % 64) & 1;
}

/* mprotect [from, to) to prot, around the program's own protected pages.
 * Async-signal-safe. */
static int protect(uintptr_t from, uintptr_t to, int prot)
{
    if (!atomic_load_explicit(&user_pages, memory_order_relaxed))
        return cg_mprotect((void *)from, to - from, prot);
    int r = 0;
    for (size_t i = page_index(from), end = page_index(to); i < end;) {
        while (i < end && user_page(i)) i++;
        size_t j = i;
        while (j < end && !user_page(j)) j++;
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
    if (!cg_arena.ready || !len || addr >= cg_arena.end || addr + len <= cg_arena.base) return;
    uintptr_t from = addr < cg_arena.base ? cg_arena.base : addr & ~(uintptr_t)(CG_PAGE - 1);
    uintptr_t to = addr + len > cg_arena.end ? cg_arena.end : addr + len;
    bool mine = prot != (PROT_READ | PROT_WRITE);
    if (mine) atomic_fetch_add(&user_pages, 1);
    for (uintptr_t a = from; a < to; a += CG_PAGE) {
        size_t i = page_index(a);
        uint64_t bit = 1ULL << (i % 64);
        if (mine) {
            atomic_fetch_or(&cg_arena.user[i / 64], bit);
            atomic_fetch_and(&cg_arena.frozen[i / 64], ~bit);
        } else {
            atomic_fetch_and(&cg_arena.user[i / 64], ~bit);
        }
    }
}

bool cg_page_program_protected(uintptr_t addr)
{
    return atomic_load_explicit(&user_pages, memory_order_relaxed) && user_page(page_index(addr));
}

/* In a forked child: its parent's pending pages and copies are not its own. */
void cg_freeze_child(void)
{
    if (!cg_arena.ready) return;
    set_range(cg_arena.pending, 0, page_index(cg_arena.frozen_end), false);
    set_range(cg_arena.copied, 0, page_index(cg_arena.frozen_end), false);
    cg_track_child();
}

/* Pages frozen now, in this process. */
size_t cg_frozen_pages(void)
{
    size_t n = 0, words = (page_index(cg_arena.frozen_end) + 63) / 64;
    for (size_t w = 0; w < words; w++)
        n += (size_t)__builtin_popcountll(atomic_load_explicit(&cg_arena.frozen[w], memory_order_relaxed));
    return n;
}

bool cg_page_frozen(uintptr_t addr)
{
    if (!cg_arena_owns((void *)addr) || addr >= cg_arena.frozen_end) return false;
    size_t i = page_index(addr);
    return atomic_load_explicit(&cg_arena.frozen[i / 64], memory_order_relaxed) >> (i % 64) & 1;
}

/* Freezes so far in this process (and its parents): a thread's cache of
 * free blocks is good only within one. */
uint64_t cg_freeze_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}

static cg_range_t kept[CG_KEEP_SLOTS]; /* the arena lock serialises freezes */

/* Arena lock held. Freeze every page that belongs to a span.
 *
 * The order matters to code that takes no lock: spans are flagged first
 * (a thread cache then hands out nothing of them), then the generation
 * moves (a thaw in flight re-freezes its page, caches flush), then the
 * bits are set (the fault handler recognises the faults) and only then are
 * the pages protected. */
int cg_freeze_all(void)
{
    if (!cg_arena.ready || cg_arena.top == cg_arena.base) return 0;
    uintptr_t top = cg_arena.top;
    cg_fault_install();
    budget_setup();
    /* Pending pages written so far were copied before this fork shares them
     * anew: count them now; the freeze makes the rest trap again. */
    cg_settle(cg_arena.base, cg_arena.frozen_end, true);
    for (uintptr_t a = cg_arena.base; a < top;) {
        cg_span_t *s = cg_arena.pagemap[page_index(a)];
        a += (uintptr_t)s->npages << CG_PAGE_SHIFT;
        if (s->frozen) continue;
        if (s->state == CG_SPAN_SLAB) {
            cg_slab_freeze(s);
        } else {
            if (s->listed == CG_LISTED_RUNS) { /* free pages: reclaimed before they are reused */
                cg_list_remove(&cg_arena.runs[s->npages < CG_RUN_LISTS ? s->npages : CG_RUN_LISTS], s);
                cg_list_push(&cg_arena.frozen_runs, s);
                s->listed = CG_LISTED_FROZEN;
            }
            __atomic_store_n(&s->frozen, 1, __ATOMIC_RELEASE);
        }
    }
    atomic_fetch_add(&generation, 1);
    set_bits(0, page_index(top), true);
    if (top > cg_arena.frozen_end) __atomic_store_n(&cg_arena.frozen_end, top, __ATOMIC_RELEASE);
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
        set_bits(page_index(kept[i].lo), page_index(kept[i].hi), false);
        at = kept[i].hi;
    }
    if (r != 0) {
        cg_message("cannot freeze marked data (mprotect: %s); it stays writable", cg_strerror(errno));
        cg_thaw_all();
        return -1;
    }
    atomic_store(&thaws, 0); /* one mapping again, but for the kept ranges */
    cg_board_note_freeze(cg_arena.live_bytes, page_index(top));
    cg_debug("froze %zu pages (%zu bytes live in %zu blocks)", page_index(top),
             cg_arena.live_bytes, cg_arena.live_blocks);
    return 0;
}

/* Arena lock held. Thaw everything; blocks freed while frozen become free. */
int cg_thaw_all(void)
{
    if (!cg_arena.ready || cg_arena.frozen_end == cg_arena.base) return 0;
    uintptr_t end = cg_arena.frozen_end;
    mark_pending_frozen(cg_arena.base, end); /* writable now without traps: settled later */
    if (protect(cg_arena.base, end, PROT_READ | PROT_WRITE) != 0) {
        cg_message("cannot thaw marked data (mprotect: %s)", cg_strerror(errno));
        return -1;
    }
    set_bits(0, page_index(end), false);
    for (uintptr_t a = cg_arena.base; a < end;) {
        cg_span_t *s = cg_arena.pagemap[page_index(a)];
        /* From the span's own start: a span freed below may have merged
         * with the free run after it, so a can lie inside s. Taken before
         * s can merge away. */
        a = s->start + ((uintptr_t)s->npages << CG_PAGE_SHIFT);
        if (!s->frozen) continue;
        if (s->state == CG_SPAN_SLAB) {
            cg_slab_thaw(s);
        } else {
            if (s->listed == CG_LISTED_FROZEN) {
                cg_list_remove(&cg_arena.frozen_runs, s);
                s->listed = CG_LISTED_NONE;
            }
            s->frozen = 0;
            if (s->state == CG_SPAN_FREE || s->nused == 0) cg_run_free(s);
        }
    }
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

static size_t count_mappings(void)
{
    char buf[8192];
    size_t lines = 0;
    int fd = cg_sys_open("/proc/self/maps", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n;
    while ((n = cg_sys_read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
    cg_sys_close(fd);
    return lines;
}

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
    size_t used = count_mappings();
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

static cg_copy_fn copy_hook; /* who counts a copy settled here (fault.c) */

void cg_freeze_on_copy(cg_copy_fn fn)
{
    copy_hook = fn;
}

static void count_copy(size_t i, uint32_t site, cg_copy_how_t how)
{
    atomic_fetch_or_explicit(&cg_arena.copied[i / 64], 1ULL << (i % 64), memory_order_relaxed);
    if (copy_hook) copy_hook(site, how);
}

/* [from, to), frozen until now, becomes writable without a trap: the pages
 * another process shares now (all of them, when assume_shared: a fork is
 * about to share them) become pending, with what made them so, and the
 * kernel starts recording their writes. Before they are made writable.
 * Async-signal-safe. */
static void mark_pending(uintptr_t from, uintptr_t to, uint32_t site, bool assume_shared)
{
    uint64_t entries[64]; /* the handler may run on a small alternate stack */
    for (uintptr_t a = from; a < to; a += sizeof entries / 8 * CG_PAGE) {
        size_t n = (to - a) >> CG_PAGE_SHIFT;
        if (n > 64) n = 64;
        bool known = !assume_shared && cg_pagemap_read(a, n, entries) == 0;
        for (size_t k = 0; k < n; k++) {
            if (known && !cg_pagemap_shared(entries[k])) continue; /* not shared, or not there: no copy */
            size_t i = page_index(a) + k;
            atomic_store_explicit(&cg_arena.pending_site[i], site, memory_order_relaxed);
            uint64_t old = atomic_fetch_or_explicit(&cg_arena.pending[i / 64], 1ULL << (i % 64), memory_order_relaxed);
            if (!(old & (1ULL << (i % 64))) && copy_hook) copy_hook(0, CG_PENDING_MORE);
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
    size_t i = page_index(page);
    uint64_t bit = 1ULL << (i % 64);
    if (!(atomic_fetch_and_explicit(&cg_arena.pending[i / 64], ~bit, memory_order_relaxed) & bit)) return;
    if (copy_hook) copy_hook(0, CG_PENDING_LESS);
    count_copy(i, atomic_load_explicit(&cg_arena.pending_site[i], memory_order_relaxed),
               estimated ? CG_COPY_ESTIMATED : CG_COPY_SETTLED);
}

static void settle_written(uintptr_t page, void *arg)
{
    if (page >= cg_arena.base && page < cg_arena.frozen_end) settle_one(page, false);
}

/* Count the pending pages of [lo, hi) this process has written: each was
 * copied (it was shared when it became pending). final: they stop being
 * pending (a freeze, a reclaim, the end of the process): those never
 * written are let go. Without the kernel's record of writes, a final
 * settle counts the pending pages the kernel shows private now, as an
 * estimate. Async-signal-safe. */
void cg_settle(uintptr_t lo, uintptr_t hi, bool final)
{
    if (!cg_arena.ready || lo >= hi) return;
    if (hi > cg_arena.frozen_end) hi = cg_arena.frozen_end;
    /* Runs of pending pages, asked of the kernel one run at a time (pages
     * never armed would all read as written). */
    bool recorded = cg_track_armed();
    size_t first = page_index(lo), last = page_index(hi);
    for (size_t i = first; recorded && i < last;) {
        uint64_t word = atomic_load_explicit(&cg_arena.pending[i / 64], memory_order_relaxed) >> (i % 64);
        if (!word) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (size_t)__builtin_ctzll(word);
        size_t j = i;
        while (j < last && (atomic_load_explicit(&cg_arena.pending[j / 64], memory_order_relaxed) >> (j % 64) & 1)) j++;
        if (i < last && cg_track_scan(cg_arena.base + (i << CG_PAGE_SHIFT), cg_arena.base + (j << CG_PAGE_SHIFT),
                                      settle_written, NULL) != 0)
            recorded = false;
        i = j;
    }
    if (!final) return;
    uint64_t entry;
    for (size_t w = first / 64; w < (last + 63) / 64; w++) {
        uint64_t bits = atomic_load_explicit(&cg_arena.pending[w], memory_order_relaxed);
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
            if ((atomic_fetch_and_explicit(&cg_arena.pending[w], ~bit, memory_order_relaxed) & bit) && copy_hook)
                copy_hook(0, CG_PENDING_LESS);
        }
    }
}

/* ---- reclaim ----------------------------------------------------------------- */

/* Arena lock held. Give back the frozen pages [from, to), which hold
 * nothing live any more, so the allocator can use them again: this
 * process's copies are dropped (other processes keep theirs, and the
 * copies stay counted) and the pages made writable, reading as zero. 0,
 * or -1 when they stay frozen. */
int cg_reclaim_range(uintptr_t from, uintptr_t to)
{
    if (thaw_unit() == 0) return -1; /* no mappings to spare: leave them quarantined */
    cg_settle(from, to, true);
    if (madvise((void *)from, to - from, MADV_DONTNEED) != 0
        || protect(from, to, PROT_READ | PROT_WRITE) != 0)
        return -1;
    set_bits(page_index(from), page_index(to), false);
    set_range(cg_arena.copied, page_index(from), page_index(to), false);
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
    return 0;
}

/* A write to addr trapped: make its page writable again (with the unit
 * around it when mappings run short). *was_frozen tells whether this call
 * thawed the page (another thread may have won the race for it); *copied
 * whether the write copies it, because another process shares it.
 * Async-signal-safe: atomic bits, pagemap reads and mprotect. Returns 0, or
 * -1 when the page cannot be made writable. */
int cg_thaw_page(uintptr_t addr, bool *was_frozen, bool *copied)
{
    uint64_t gen = atomic_load(&generation);
    uintptr_t page = addr & ~(uintptr_t)(CG_PAGE - 1);
    uintptr_t end = __atomic_load_n(&cg_arena.frozen_end, __ATOMIC_ACQUIRE);
    size_t i = page_index(page);
    uint64_t bit = 1ULL << (i % 64);
    /* Shared? Read before the race for the page is decided: a thread that
     * loses it may write (and copy) the page before the winner looks. */
    uint64_t e;
    bool shared = cg_pagemap_read(page, 1, &e) != 0 || cg_pagemap_shared(e);
    uint64_t old = atomic_fetch_and_explicit(&cg_arena.frozen[i / 64], ~bit, memory_order_relaxed);
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
        set_bits(page_index(from), page_index(to), false);
    }
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
    if (atomic_load(&generation) != gen) {
        /* A fork froze everything meanwhile, and this thaw may have undone
         * it for the page: freeze the page again; the write, retried, traps
         * afresh and is counted then. */
        atomic_fetch_or_explicit(&cg_arena.frozen[i / 64], bit, memory_order_relaxed);
        cg_mprotect((void *)page, CG_PAGE, PROT_READ);
        *was_frozen = *copied = false;
        return 0;
    }
    if (*copied) atomic_fetch_or_explicit(&cg_arena.copied[i / 64], bit, memory_order_relaxed);
    return 0;
}

/* A system call is about to write the frozen page at addr: make it
 * writable without a trap. *was_frozen: this call thawed it (another thread
 * may have won the race); the page, if another process shares it, becomes
 * pending with site, so that only a page the kernel then writes counts as
 * copied. Async-signal-safe. */
void cg_thaw_for_kernel(uintptr_t addr, uint32_t site, bool *was_frozen)
{
    uintptr_t page = addr & ~(uintptr_t)(CG_PAGE - 1);
    size_t i = page_index(page);
    uint64_t bit = 1ULL << (i % 64);
    *was_frozen = (atomic_load_explicit(&cg_arena.frozen[i / 64], memory_order_relaxed) & bit) != 0;
    if (!*was_frozen) return;
    mark_pending(page, page + CG_PAGE, site, false); /* before it can be written */
    uint64_t old = atomic_fetch_and_explicit(&cg_arena.frozen[i / 64], ~bit, memory_order_relaxed);
    *was_frozen = (old & bit) != 0;
    if (protect(page, page + CG_PAGE, PROT_READ | PROT_WRITE) != 0) {
        uintptr_t end = __atomic_load_n(&cg_arena.frozen_end, __ATOMIC_ACQUIRE);
        mark_pending_frozen(cg_arena.base, end); /* out of mappings: thaw everything */
        if (protect(cg_arena.base, end, PROT_READ | PROT_WRITE) == 0) set_bits(0, page_index(end), false);
    }
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
}

/* [lo, hi) clipped to the pages that were ever frozen, widened to pages. */
static bool clip(uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t end = __atomic_load_n(&cg_arena.frozen_end, __ATOMIC_ACQUIRE);
    uintptr_t a = *lo < cg_arena.base ? cg_arena.base : *lo & ~(uintptr_t)(CG_PAGE - 1);
    uintptr_t b = *hi > end ? end : (*hi + CG_PAGE - 1) & ~(uintptr_t)(CG_PAGE - 1);
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
    if (!cg_arena.ready || !clip(&lo, &hi)) return;
    mark_pending_frozen(lo, hi);
    if (protect(lo, hi, PROT_READ | PROT_WRITE) != 0) return;
    set_bits(page_index(lo), page_index(hi), false);
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
}

/* In a forked child: freeze [lo, hi) again, as the fork left it before
 * cg_thaw_range kept it writable for the parent. */
void cg_refreeze_range(uintptr_t lo, uintptr_t hi)
{
    if (!cg_arena.ready || !clip(&lo, &hi)) return;
    if (protect(lo, hi, PROT_READ) != 0) return;
    set_bits(page_index(lo), page_index(hi), true);
    set_range(cg_arena.pending, page_index(lo), page_index(hi), false);
}
