/* freeze.c: freezing and thawing the arena.
 *
 * A freeze makes every page below the arena's top read-only with one
 * mprotect, so the frozen range stays one mapping, and sets the page's bit in
 * the frozen bitmap. A trapped write thaws its one page (cg_thaw_page, which
 * is async-signal-safe); a thaw of everything re-merges the mappings and lets
 * the allocator reuse what was freed while frozen. */
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

/* In a forked child: the pages its parent thawed are not its copies. */
void cg_freeze_child(void)
{
    if (cg_arena.ready) set_range(cg_arena.trapped, 0, page_index(cg_arena.frozen_end), false);
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
        protect(kept[i].lo, kept[i].hi, PROT_READ | PROT_WRITE);
        set_bits(page_index(kept[i].lo), page_index(kept[i].hi), false);
        /* Written by the kernel while shared: the measurement at exit tells
         * which were copied. */
        set_range(cg_arena.trapped, page_index(kept[i].lo), page_index(kept[i].hi), true);
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
 * without being written are not trapped any more, but still counted by the
 * kernel if they are copied (see note_shared). */

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

/* Remember the pages of [from, to) that another process shares now: if this
 * process writes one of them, the kernel copies it, and the measurement at
 * exit counts it (trapped bitmap). Async-signal-safe. */
static void note_shared(uintptr_t from, uintptr_t to)
{
    uint64_t entries[64]; /* the handler may run on a small alternate stack */
    for (uintptr_t a = from; a < to; a += sizeof entries / 8 * CG_PAGE) {
        size_t n = (to - a) >> CG_PAGE_SHIFT;
        if (n > 64) n = 64;
        if (cg_pagemap_read(a, n, entries) != 0) {
            set_range(cg_arena.trapped, page_index(a), page_index(a) + n, true); /* unknown: assume shared */
            continue;
        }
        for (size_t k = 0; k < n; k++)
            if (cg_pagemap_shared(entries[k])) {
                size_t i = page_index(a) + k;
                atomic_fetch_or_explicit(&cg_arena.trapped[i / 64], 1ULL << (i % 64), memory_order_relaxed);
            }
    }
}

/* Arena lock held. Give back the frozen pages [from, to), which hold
 * nothing live any more, so the allocator can use them again: this
 * process's copies are dropped (other processes keep theirs) and the pages
 * made writable, reading as zero. 0, or -1 when they stay frozen. */
int cg_reclaim_range(uintptr_t from, uintptr_t to)
{
    if (thaw_unit() == 0) return -1; /* no mappings to spare: leave them quarantined */
    if (madvise((void *)from, to - from, MADV_DONTNEED) != 0
        || protect(from, to, PROT_READ | PROT_WRITE) != 0)
        return -1;
    set_bits(page_index(from), page_index(to), false);
    set_range(cg_arena.trapped, page_index(from), page_index(to), false);
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
    uint64_t old = atomic_fetch_and_explicit(&cg_arena.frozen[i / 64], ~bit, memory_order_relaxed);
    *was_frozen = (old & bit) != 0;
    *copied = false;
    if (*was_frozen) {
        uint64_t e;
        *copied = cg_pagemap_read(page, 1, &e) != 0 || cg_pagemap_shared(e);
        if (*copied) atomic_fetch_or_explicit(&cg_arena.trapped[i / 64], bit, memory_order_relaxed);
    }
    size_t unit = *was_frozen ? thaw_unit() : 1;
    uintptr_t from = page, to = page + CG_PAGE;
    if (unit != 1) {
        uintptr_t span = unit ? unit * CG_PAGE : end - cg_arena.base;
        from = unit ? cg_arena.base + ((page - cg_arena.base) / span) * span : cg_arena.base;
        to = from + span < end ? from + span : end;
    }
    if (unit != 1 || cg_mprotect((void *)page, CG_PAGE, PROT_READ | PROT_WRITE) != 0) {
        /* A unit, or out of mappings all the same: thaw the larger range,
         * which merges mappings; fall back to everything. */
        if (protect(from, to, PROT_READ | PROT_WRITE) != 0) {
            from = cg_arena.base;
            to = end;
            if (protect(from, to, PROT_READ | PROT_WRITE) != 0) return -1;
        }
        set_bits(page_index(from), page_index(to), false);
        if (from < page) note_shared(from, page);
        if (page + CG_PAGE < to) note_shared(page + CG_PAGE, to);
    }
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
    if (atomic_load(&generation) != gen) {
        /* A fork froze everything meanwhile, and this thaw may have undone
         * it for the page: freeze the page again; the write, retried, traps
         * afresh and is counted then. */
        atomic_fetch_or_explicit(&cg_arena.frozen[i / 64], bit, memory_order_relaxed);
        cg_mprotect((void *)page, CG_PAGE, PROT_READ);
        *was_frozen = false;
        return 0;
    }
    return 0;
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
 * make, without trapping it: the pages count as thawed while shared, and
 * the measurement at exit tells which were copied. Async-signal-safe. */
void cg_thaw_range(uintptr_t lo, uintptr_t hi)
{
    if (!cg_arena.ready || !clip(&lo, &hi)) return;
    if (protect(lo, hi, PROT_READ | PROT_WRITE) != 0) return;
    set_bits(page_index(lo), page_index(hi), false);
    set_range(cg_arena.trapped, page_index(lo), page_index(hi), true);
    atomic_fetch_add_explicit(&thaws, 1, memory_order_relaxed);
}

/* In a forked child: freeze [lo, hi) again, as the fork left it before
 * cg_thaw_range kept it writable for the parent. */
void cg_refreeze_range(uintptr_t lo, uintptr_t hi)
{
    if (!cg_arena.ready || !clip(&lo, &hi)) return;
    if (protect(lo, hi, PROT_READ) != 0) return;
    set_bits(page_index(lo), page_index(hi), true);
    set_range(cg_arena.trapped, page_index(lo), page_index(hi), false);
}
