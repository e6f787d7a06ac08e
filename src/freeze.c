/* freeze.c: freezing and thawing the arena.
 *
 * A freeze makes every page below the arena's top read-only with one
 * mprotect, so the frozen range stays one mapping, and sets the page's bit in
 * the frozen bitmap. A trapped write thaws its one page (cg_thaw_page, which
 * is async-signal-safe); a thaw of everything re-merges the mappings and lets
 * the allocator reuse what was freed while frozen. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

static inline size_t page_index(uintptr_t addr)
{
    return (addr - cg_arena.base) >> CG_PAGE_SHIFT;
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

static void set_bits(size_t from, size_t to, bool on)
{
    set_range(cg_arena.frozen, from, to, on);
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

/* Arena lock held. Freeze every page that belongs to a span. */
int cg_freeze_all(void)
{
    if (!cg_arena.ready || cg_arena.top == cg_arena.base) return 0;
    uintptr_t top = cg_arena.top;
    /* Handler, bits and bound first: another thread may write a page the
     * instant mprotect returns, and its fault must be recognised as ours. */
    cg_fault_install();
    set_bits(0, page_index(top), true);
    if (top > cg_arena.frozen_end) __atomic_store_n(&cg_arena.frozen_end, top, __ATOMIC_RELEASE);
    if (mprotect((void *)cg_arena.base, top - cg_arena.base, PROT_READ) != 0) {
        cg_message("cannot freeze marked data (mprotect: %s); it stays writable", strerror(errno));
        set_bits(0, page_index(top), false);
        return -1;
    }
    for (uintptr_t a = cg_arena.base; a < top;) {
        cg_span_t *s = cg_arena.pagemap[page_index(a)];
        a += (uintptr_t)s->npages << CG_PAGE_SHIFT;
        if (s->frozen) continue;
        if (s->state == CG_SPAN_SLAB) {
            cg_slab_freeze(s);
        } else {
            if (s->listed == CG_LISTED_RUNS) { /* free pages: not reused while frozen */
                cg_list_remove(&cg_arena.runs[s->npages < CG_RUN_LISTS ? s->npages : CG_RUN_LISTS], s);
                s->listed = CG_LISTED_NONE;
            }
            s->frozen = 1;
        }
    }
    cg_arena.freezes++;
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
    if (mprotect((void *)cg_arena.base, end - cg_arena.base, PROT_READ | PROT_WRITE) != 0) {
        cg_message("cannot thaw marked data (mprotect: %s)", strerror(errno));
        return -1;
    }
    set_bits(0, page_index(end), false);
    for (uintptr_t a = cg_arena.base; a < end;) {
        cg_span_t *s = cg_arena.pagemap[page_index(a)];
        a += (uintptr_t)s->npages << CG_PAGE_SHIFT; /* before s can merge away */
        if (!s->frozen) continue;
        if (s->state == CG_SPAN_SLAB) {
            cg_slab_thaw(s);
        } else {
            s->frozen = 0;
            if (s->state == CG_SPAN_FREE || s->nused == 0) cg_run_free(s);
        }
    }
    return 0;
}

/* A trapped write to addr is about to copy its page (another process shares
 * it): remember the page, for the measurement at exit. Async-signal-safe. */
void cg_note_copied(uintptr_t addr)
{
    size_t i = page_index(addr);
    atomic_fetch_or_explicit(&cg_arena.trapped[i / 64], 1ULL << (i % 64), memory_order_relaxed);
}

/* Make the page holding addr writable again. Async-signal-safe: an atomic
 * bit and one system call. *was_frozen tells whether this call cleared the
 * bit (another thread may have won the race for the same page). */
int cg_thaw_page(uintptr_t addr, bool *was_frozen)
{
    uintptr_t page = addr & ~(uintptr_t)(CG_PAGE - 1);
    size_t i = page_index(page);
    uint64_t bit = 1ULL << (i % 64);
    uint64_t old = atomic_fetch_and_explicit(&cg_arena.frozen[i / 64], ~bit, memory_order_relaxed);
    *was_frozen = (old & bit) != 0;
    if (mprotect((void *)page, CG_PAGE, PROT_READ | PROT_WRITE) == 0) return 0;
    /* Out of mappings (vm.max_map_count): thaw the whole frozen range, which
     * merges it back into one mapping. Its other pages were not written, so
     * they stay shared with the other processes; they are just not trapped. */
    if (mprotect((void *)cg_arena.base, cg_arena.frozen_end - cg_arena.base,
                 PROT_READ | PROT_WRITE) == 0) {
        set_bits(0, page_index(cg_arena.frozen_end), false);
        return 1;
    }
    return -1;
}
