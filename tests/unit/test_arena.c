/* test_arena.c: the allocator and the freezer (src/alloc, src/freeze) on
 * their own, linked with nothing above them: size classes, block placement
 * and lookup, zeroing, and the property the design rests on: block
 * bookkeeping lives out of band, so freeing into frozen (PROT_READ) pages
 * never writes them, and what was freed while frozen is reused after a thaw.
 *
 * The tests share one arena (it cannot be torn down); each gives back what
 * it takes, and checks the live counters against where it started. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "freeze.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define ARENA_SIZE (256 * MiB)

typedef struct {
    unsigned char *p;
    size_t n;
} blk_t;

/* ---- helpers ------------------------------------------------------------ */

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* Everything the arena promises about a fresh block of n bytes. */
static void check_block(const void *ptr, size_t n, size_t align)
{
    uintptr_t p = (uintptr_t)ptr;
    if (!ptr) fail_msg("no block for %zu bytes (align %zu)", n, align);
    assert_true(cg_arena_owns(ptr));
    if (p % (align < 16 ? 16 : align))
        fail_msg("%p for %zu bytes not aligned to %zu", ptr, n, align);
    size_t usable = cg_block_usable_size(ptr);
    if (usable < n) fail_msg("usable %zu < %zu", usable, n);
    /* The block's size is its class, or whole pages for a large block. */
    int cls = n <= CG_SMALL_MAX && align <= CG_PAGE ? cg_size_class(n, align) : -1;
    if (cls >= 0) assert_int_equal(usable, cg_class_size(cls));
    else assert_int_equal(usable, round_up(n, CG_PAGE));

    cg_block_info_t info;
    const uintptr_t probes[] = { p, p + n / 2, p + n - 1, p + usable - 1 };
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        memset(&info, 0, sizeof info);
        assert_true(cg_block_info(probes[i], &info));
        assert_int_equal(info.start, p);
        assert_int_equal(info.size, usable);
        assert_true(info.live);
    }
    /* An interior pointer is not a block of its own. */
    if (usable > 1) assert_int_equal(cg_block_usable_size((const char *)ptr + 1), 0);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 31 + 7) | 1; /* never 0, so it cannot pass for zeroing */
}

static void fill(const blk_t *b, unsigned char c)
{
    memset(b->p, c, b->n);
}

static void check_fill(const blk_t *b, unsigned char c)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->p[i] != c)
            fail_msg("block %p+%zu is 0x%02x, want 0x%02x", (void *)b->p, i, b->p[i], c);
}

static void check_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i]) fail_msg("block %p not zeroed at +%zu (0x%02x)", p, i, c[i]);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const blk_t *)a)->p, y = (uintptr_t)((const blk_t *)b)->p;
    return x < y ? -1 : x > y;
}

/* No two live blocks share a byte (sorts the array). */
static void check_disjoint(blk_t *b, size_t n)
{
    qsort(b, n, sizeof *b, by_address);
    for (size_t i = 1; i < n; i++)
        if ((uintptr_t)b[i - 1].p + cg_block_usable_size(b[i - 1].p) > (uintptr_t)b[i].p)
            fail_msg("blocks %p and %p overlap", (void *)b[i - 1].p, (void *)b[i].p);
}

static void free_all(blk_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cg_block_free(b[i].p);
        assert_int_equal(cg_block_usable_size(b[i].p), 0); /* no longer live */
    }
}

static void freeze(void)
{
    cg_freeze_result_t res;
    cg_arena_lock(); /* as cg_freeze_all's contract says */
    assert_int_equal(cg_freeze_all(&res), 0);
    cg_arena_unlock();
}

static void thaw(void)
{
    cg_arena_lock();
    assert_int_equal(cg_thaw_all(), 0);
    cg_arena_unlock();
}

/* Whether writing one byte at p kills a process: tried in a child, so this
 * process stays intact. cmocka catches SIGSEGV to fail a test; the child puts
 * the default action back so the fault ends it. */
static bool write_faults(void *p)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        *(volatile unsigned char *)p = 0x5a;
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}


/* ---- set-up ------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    char *envp[] = { NULL };
    cg_options_load(envp);
    return 0;
}

/* After each test: one that failed by a signal (cmocka longjmps out of it)
 * may have left the arena lock held, which would hang every later test, or
 * the arena frozen, which would fail them all. Single-threaded here, so
 * starting the lock afresh is safe; a thaw with nothing frozen changes
 * nothing. */
static int unlock_teardown(void **state)
{
    (void)state;
    cg_arena_reset_lock();
    cg_arena_lock();
    cg_thaw_all();
    cg_arena_unlock();
    return 0;
}

/* Nothing is handed out before the reservation is made (the interpose
 * layer makes it at the first marked allocation, as here). */
static void test_lazy_reserve(void **state)
{
    (void)state;
    int x;
    assert_false(cg_arena.ready);
    assert_false(cg_arena_owns(&x)); /* base == end == 0: nothing is ours */
    assert_false(cg_arena_owns(NULL));
    assert_null(cg_block_alloc(1, 16, false, 0));
    assert_false(cg_page_frozen((uintptr_t)&x));
    assert_int_equal(cg_ever_frozen_end(), 0);
    cg_arena_lock();
    assert_true(cg_arena_setup(ARENA_SIZE));
    assert_true(cg_freeze_setup());
    cg_arena_unlock();
    void *p = cg_block_alloc(1, 16, false, 0);
    check_block(p, 1, 16);
    assert_true(cg_arena.ready);
    assert_int_equal(cg_arena.end - cg_arena.base, ARENA_SIZE);
    assert_int_equal(cg_arena.base % (2 * MiB), 0);
    cg_block_free(p);
    assert_int_equal(cg_arena.live_blocks, 0);
    assert_int_equal(cg_arena.live_bytes, 0);
}

/* ---- size classes ------------------------------------------------------- */

static void test_size_classes(void **state)
{
    (void)state;
    for (int c = 0; c < CG_NUM_CLASSES; c++) {
        assert_int_equal(cg_class_size(c) % 16, 0);
        if (c) assert_true(cg_class_size(c) > cg_class_size(c - 1));
    }
    assert_int_equal(cg_class_size(0), 16);
    assert_int_equal(cg_class_size(CG_NUM_CLASSES - 1), CG_SMALL_MAX);

    for (size_t n = 1; n <= CG_SMALL_MAX; n++) {
        int c = cg_size_class(n, 16);
        if (c < 0 || cg_class_size(c) < n || (c > 0 && cg_class_size(c - 1) >= n))
            fail_msg("cg_size_class(%zu, 16) = %d: not the smallest class that fits", n, c);
        assert_int_equal(cg_size_class(n, 1), c); /* below 16 means 16 */
    }
    assert_int_equal(cg_size_class(0, 16), 0);
    assert_int_equal(cg_size_class(CG_SMALL_MAX + 1, 16), -1);
    assert_int_equal(cg_size_class((size_t)1 << 40, 16), -1);

    static const size_t aligns[] = { 32, 64, 256, 1024, 4096 };
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        size_t al = aligns[a];
        for (size_t n = 1; n <= CG_SMALL_MAX; n += (n < 512 ? 1 : 13)) {
            int c = cg_size_class(n, al);
            if (c < 0) fail_msg("cg_size_class(%zu, %zu) = -1", n, al);
            assert_true(cg_class_size(c) >= n);
            assert_int_equal(cg_class_size(c) % al, 0);
            for (int d = 0; d < c; d++) /* and no smaller class would do */
                if (cg_class_size(d) >= n && cg_class_size(d) % al == 0)
                    fail_msg("cg_size_class(%zu, %zu) = %zu, but %zu fits", n, al,
                             cg_class_size(c), cg_class_size(d));
        }
    }
    assert_int_equal(cg_size_class(100, 8192), -1); /* beyond a page: a large block */

    for (int c = 0; c < CG_NUM_CLASSES; c++) {
        size_t bytes = (size_t)cg_class_pages(c) * CG_PAGE;
        size_t blocks = bytes / cg_class_size(c);
        if (blocks > CG_SLAB_MAX_BLOCKS || blocks < 8)
            fail_msg("class %zu: %zu blocks per slab", cg_class_size(c), blocks);
    }
}

/* ---- allocation and lookup ---------------------------------------------- */

static void test_alloc_many_sizes(void **state)
{
    (void)state;
    enum { MAXB = 4096 };
    static blk_t b[MAXB];
    size_t nb = 0;
    size_t live0 = cg_arena.live_blocks, bytes0 = cg_arena.live_bytes;

    for (size_t n = 1; n <= 20000; n += (n < 2048 ? 1 : 61)) b[nb++].n = n;
    static const size_t big[] = { 16384, 16385, 65536, MiB, MiB + 1, 3 * MiB };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) b[nb++].n = big[i];
    assert_true(nb <= MAXB);

    size_t bytes = 0;
    for (size_t i = 0; i < nb; i++) {
        b[i].p = cg_block_alloc(b[i].n, 16, false, 0);
        check_block(b[i].p, b[i].n, 16);
        fill(&b[i], pattern(i));
        bytes += cg_block_usable_size(b[i].p);
    }
    assert_int_equal(cg_arena.live_blocks, live0 + nb);
    assert_int_equal(cg_arena.live_bytes, bytes0 + bytes);
    for (size_t i = 0; i < nb; i++) check_fill(&b[i], pattern(i)); /* nobody wrote over it */
    check_disjoint(b, nb);
    free_all(b, nb);
    assert_int_equal(cg_arena.live_blocks, live0);
    assert_int_equal(cg_arena.live_bytes, bytes0);
}

static void test_alloc_aligned(void **state)
{
    (void)state;
    static const size_t aligns[] = { 1, 16, 64, 256, 4096, 8192, 65536, 2 * MiB };
    static const size_t sizes[] = { 1, 17, 100, 1000, 4096, 5000, 16384, 16385, 70000 };
    blk_t b[sizeof aligns / sizeof aligns[0] * sizeof sizes / sizeof sizes[0]];
    size_t nb = 0, live0 = cg_arena.live_blocks;
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            blk_t *x = &b[nb++];
            x->n = sizes[s];
            x->p = cg_block_alloc(x->n, aligns[a], false, 0);
            check_block(x->p, x->n, aligns[a]);
            fill(x, pattern(nb));
        }
    for (size_t i = 0; i < nb; i++) check_fill(&b[i], pattern(i + 1));
    check_disjoint(b, nb);
    free_all(b, nb);
    assert_int_equal(cg_arena.live_blocks, live0);
}

static void test_owns(void **state)
{
    (void)state;
    void *p = cg_block_alloc(64, 16, false, 0);
    check_block(p, 64, 16);

    void *m = malloc(64);
    int on_stack;
    assert_non_null(m);
    assert_false(cg_arena_owns(m));
    assert_false(cg_arena_owns(&on_stack));
    assert_false(cg_arena_owns(NULL));
    assert_false(cg_arena_owns((void *)cg_arena.end));
    assert_false(cg_arena_owns((void *)(cg_arena.base - 1)));
    assert_false(cg_arena_owns((void *)UINTPTR_MAX));
    assert_true(cg_arena_owns((void *)cg_arena.base));
    assert_true(cg_arena_owns((void *)(cg_arena.end - 1)));

    cg_block_info_t info;
    assert_false(cg_block_info((uintptr_t)m, &info));
    assert_false(cg_block_info((uintptr_t)&on_stack, &info));
    assert_false(cg_block_info(cg_arena.end - 1, &info)); /* ours, but no span yet */
    assert_int_equal(cg_block_usable_size(m), 0);
    assert_int_equal(cg_block_usable_size(NULL), 0);
    assert_null(cg_arena_span_of((uintptr_t)m));
    assert_null(cg_arena_span_of(cg_arena.top));

    free(m);
    cg_block_free(p);
}

/* ---- zeroing ------------------------------------------------------------ */

/* Fill blocks with 0xff, free them, ask for zeroed blocks of the same size:
 * every one must read zero, including those that reuse the dirty ones. */
static void zero_case(size_t n, size_t count)
{
    blk_t *old = calloc(count, sizeof *old), *neu = calloc(count, sizeof *neu);
    assert_non_null(old);
    assert_non_null(neu);
    for (size_t i = 0; i < count; i++) {
        old[i].n = n;
        old[i].p = cg_block_alloc(n, 16, false, 0);
        check_block(old[i].p, n, 16);
        memset(old[i].p, 0xff, cg_block_usable_size(old[i].p));
    }
    qsort(old, count, sizeof *old, by_address);
    uintptr_t lo = (uintptr_t)old[0].p, hi = (uintptr_t)old[count - 1].p + n;
    for (size_t i = 0; i < count; i++) cg_block_free(old[i].p);

    size_t reused = 0;
    for (size_t i = 0; i < count; i++) {
        neu[i].n = n;
        neu[i].p = cg_block_alloc(n, 16, true, 0);
        check_block(neu[i].p, n, 16);
        check_zero(neu[i].p, n);
        reused += (uintptr_t)neu[i].p >= lo && (uintptr_t)neu[i].p < hi;
    }
    /* Otherwise the test proved nothing about dirty memory. */
    if (!reused) fail_msg("%zu-byte blocks: no zeroed block reused a dirty one", n);
    free_all(neu, count);
    free(old);
    free(neu);
}

static void test_zeroing(void **state)
{
    (void)state;
    size_t live0 = cg_arena.live_blocks;
    zero_case(16, 600);       /* more than one slab */
    zero_case(100, 300);
    zero_case(1000, 100);
    zero_case(16384, 20);
    zero_case(20000, 64);     /* small runs: kept dirty, zeroed by memset */
    zero_case(MiB, 4);        /* large runs: given back to the kernel */
    zero_case(3 * MiB + 5, 3);
    assert_int_equal(cg_arena.live_blocks, live0);
}

/* ---- freezing: metadata out of band ------------------------------------- */

static void test_freeze_free_thaw(void **state)
{
    (void)state;
    static const struct { size_t n, count; } plan[] = {
        { 24, 300 }, { 100, 200 }, { 1000, 50 }, { 5000, 20 }, { 16384, 10 },
        { 20000, 8 }, { MiB, 2 },
    };
    enum { MAXB = 1024, NPLAN = sizeof plan / sizeof plan[0] };
    static blk_t old[MAXB], after[MAXB];
    size_t nold = 0, nafter = 0;
    size_t live0 = cg_arena.live_blocks, bytes0 = cg_arena.live_bytes;
    uint64_t gen0 = cg_alloc_epoch();

    for (size_t k = 0; k < NPLAN; k++)
        for (size_t i = 0; i < plan[k].count; i++) {
            blk_t *b = &old[nold];
            b->n = plan[k].n;
            b->p = cg_block_alloc(b->n, 16, false, 0);
            check_block(b->p, b->n, 16);
            fill(b, pattern(nold));
            nold++;
        }

    uintptr_t top = cg_arena.top;
    freeze();
    assert_int_equal(cg_alloc_epoch(), gen0 + 1);
    assert_int_equal(cg_ever_frozen_end(), top);
    for (size_t i = 0; i < nold; i++) {
        assert_true(cg_page_frozen((uintptr_t)old[i].p));
        assert_true(cg_page_frozen((uintptr_t)old[i].p + old[i].n - 1));
    }
    assert_false(cg_page_frozen(top)); /* above the frozen range */
    /* Frozen for real, not just in the bitmap. */
    assert_true(write_faults(old[0].p));
    assert_true(write_faults(old[nold - 1].p + old[nold - 1].n - 1));

    /* Freeing into read-only pages: would fault here if free wrote a byte.
     * The last 24-byte block stays live, so its slab (all 300 of them) keeps
     * its freed blocks quarantined; spans left with nothing live (the 1 MiB
     * blocks, whole slabs of larger ones) are reclaimed: dropped with
     * madvise, never written, and writable zero pages again. */
    size_t anchor = plan[0].count - 1;
    for (size_t i = 0; i < nold; i++) {
        if (i == anchor) continue;
        cg_block_free(old[i].p);
        assert_int_equal(cg_block_usable_size(old[i].p), 0);
    }
    assert_int_equal(cg_arena.live_blocks, live0 + 1);
    size_t quarantined = 0, reclaimed = 0;
    for (size_t i = 0; i < nold; i++) {
        if (i == anchor) continue;
        cg_block_info_t info;
        if (cg_page_frozen((uintptr_t)old[i].p)) {
            check_fill(&old[i], pattern(i)); /* untouched */
            assert_true(cg_block_info((uintptr_t)old[i].p, &info));
            assert_false(info.live); /* quarantined, not live */
            quarantined++;
        } else {
            check_zero(old[i].p, old[i].n); /* reclaimed: this process's copy dropped */
            reclaimed++;
        }
    }
    for (size_t i = 0; i < plan[0].count; i++) assert_true(cg_page_frozen((uintptr_t)old[i].p));
    assert_false(cg_page_frozen((uintptr_t)old[nold - 1].p)); /* a 1 MiB block: reclaimed */
    assert_true(quarantined >= plan[0].count - 1 && reclaimed >= plan[NPLAN - 1].count);

    /* A quarantined or reclaimed block freed again is refused, without a write. */
    assert_non_null(strstr(cg_block_free(old[0].p), "double free"));
    assert_non_null(strstr(cg_block_free(old[nold - 1].p), "double free"));
    assert_int_equal(cg_arena.live_blocks, live0 + 1);

    /* While frozen, new blocks come from fresh or reclaimed pages: never a
     * frozen one. Zeroing them is a write, so a frozen block handed out
     * would fault. */
    for (size_t k = 0; k < NPLAN; k++)
        for (size_t i = 0; i < plan[k].count / 2 + 1; i++) {
            blk_t *b = &after[nafter++];
            b->n = plan[k].n;
            b->p = cg_block_alloc(b->n, 16, true, 0);
            check_block(b->p, b->n, 16);
            check_zero(b->p, b->n);
            assert_false(cg_page_frozen((uintptr_t)b->p));
            assert_false(cg_page_frozen((uintptr_t)b->p + b->n - 1));
            fill(b, 0xee);
        }
    for (size_t i = 0; i < plan[0].count; i++) check_fill(&old[i], pattern(i));

    thaw();
    for (size_t i = 0; i < nold; i++) assert_false(cg_page_frozen((uintptr_t)old[i].p));

    /* The quarantined space is free again: each size finds its way back into
     * the once-frozen range, and what it gets there is writable. The blocks
     * taken after the freeze stay live, so they cannot be what is reused. */
    static blk_t again[8192];
    size_t nagain = 0;
    for (size_t k = 0; k < NPLAN; k++) {
        bool back = false;
        for (size_t tries = 0; !back && tries < 2000; tries++) {
            assert_true(nagain < sizeof again / sizeof again[0]);
            blk_t *b = &again[nagain++];
            b->n = plan[k].n;
            b->p = cg_block_alloc(b->n, 16, false, 0);
            check_block(b->p, b->n, 16);
            fill(b, 0x77);
            back = (uintptr_t)b->p < top;
        }
        if (!back) fail_msg("%zu-byte blocks never reused the thawed range", plan[k].n);
    }
    for (size_t i = 0; i < nagain; i++) check_fill(&again[i], 0x77);
    for (size_t i = 0; i < nafter; i++) check_fill(&after[i], 0xee);
    check_fill(&old[anchor], pattern(anchor));
    free_all(again, nagain);
    free_all(after, nafter);
    cg_block_free(old[anchor].p);
    assert_int_equal(cg_arena.live_blocks, live0);
    assert_int_equal(cg_arena.live_bytes, bytes0);
}

/* A slab half freed while frozen: after the thaw its quarantined blocks are
 * handed out again, while its live blocks are left alone. Filling the slab
 * up must return every block freed while frozen. */
static void test_quarantine_partial_slab(void **state)
{
    (void)state;
    enum { N = 64 };
    const size_t n = 40;
    int cls = cg_size_class(n, 16);
    size_t per_slab = (size_t)cg_class_pages(cls) * CG_PAGE / cg_class_size(cls);
    size_t live0 = cg_arena.live_blocks;
    blk_t b[N];
    for (size_t i = 0; i < N; i++) {
        b[i].n = n;
        b[i].p = cg_block_alloc(n, 16, false, 0);
        check_block(b[i].p, n, 16);
        fill(&b[i], pattern(i));
    }
    /* Nothing else of this class is live, so the N blocks share one slab. */
    cg_span_t *slab = cg_arena_span_of((uintptr_t)b[0].p);
    assert_non_null(slab);
    for (size_t i = 0; i < N; i++) assert_ptr_equal(cg_arena_span_of((uintptr_t)b[i].p), slab);

    freeze();
    for (size_t i = 0; i < N; i += 2) cg_block_free(b[i].p);
    assert_int_equal(cg_arena.live_blocks, live0 + N / 2);
    thaw();

    size_t want = per_slab - N / 2, found = 0;
    blk_t *more = calloc(want, sizeof *more);
    assert_non_null(more);
    for (size_t k = 0; k < want; k++) {
        more[k].n = n;
        more[k].p = cg_block_alloc(n, 16, false, 0);
        check_block(more[k].p, n, 16);
        assert_ptr_equal(cg_arena_span_of((uintptr_t)more[k].p), slab); /* the slab fills first */
        fill(&more[k], 0x3c);
        for (size_t i = 0; i < N; i += 2) found += more[k].p == b[i].p;
    }
    assert_int_equal(found, N / 2);
    for (size_t i = 1; i < N; i += 2) check_fill(&b[i], pattern(i));
    free_all(more, want);
    for (size_t i = 1; i < N; i += 2) cg_block_free(b[i].p);
    free(more);
    assert_int_equal(cg_arena.live_blocks, live0);
}

/* A block that stays live across freeze and thaw keeps its contents and is
 * writable again afterwards; freeing it after the thaw is an ordinary free. */
static void test_live_across_freeze(void **state)
{
    (void)state;
    size_t live0 = cg_arena.live_blocks;
    blk_t b[] = { { NULL, 48 }, { NULL, 3000 }, { NULL, 40000 } };
    for (size_t i = 0; i < 3; i++) {
        b[i].p = cg_block_alloc(b[i].n, 16, false, 0);
        check_block(b[i].p, b[i].n, 16);
        fill(&b[i], pattern(i));
    }
    freeze();
    assert_true(write_faults(b[1].p));
    thaw();
    for (size_t i = 0; i < 3; i++) {
        check_fill(&b[i], pattern(i));
        assert_false(cg_page_frozen((uintptr_t)b[i].p));
        assert_false(write_faults(b[i].p));
        fill(&b[i], 0x11); /* writable in this process too */
        assert_int_equal(cg_block_usable_size(b[i].p) >= b[i].n, 1);
    }
    free_all(b, 3);
    assert_int_equal(cg_arena.live_blocks, live0);
}

/* cg_thaw_page: one page writable again, its bit cleared, the rest frozen. */
static void test_thaw_page(void **state)
{
    (void)state;
    unsigned char *a = cg_block_alloc(3 * CG_PAGE, CG_PAGE, false, 0);
    check_block(a, 3 * CG_PAGE, CG_PAGE);
    memset(a, 0x42, 3 * CG_PAGE);
    freeze();
    bool was = false, copied = true;
    assert_int_equal(cg_thaw_page((uintptr_t)a + CG_PAGE + 100, &was, &copied), 0);
    assert_true(was);
    assert_false(copied); /* no other process maps it: the write copies nothing */
    assert_false(cg_page_frozen((uintptr_t)a + CG_PAGE));
    assert_true(cg_page_frozen((uintptr_t)a));
    assert_true(cg_page_frozen((uintptr_t)a + 2 * CG_PAGE));
    a[CG_PAGE + 5] = 0x43; /* writable in this process */
    assert_true(write_faults(a));
    assert_true(write_faults(a + 2 * CG_PAGE));
    assert_int_equal(cg_thaw_page((uintptr_t)a + CG_PAGE, &was, &copied), 0);
    assert_false(was); /* already thawed */
    thaw();
    assert_int_equal(a[CG_PAGE + 5], 0x43);
    assert_int_equal(a[0], 0x42);
    cg_block_free(a);
}

/* A thaw that merges a freed span with a free run after it goes on with the
 * spans after both: a frozen free run A, then B (reclaimed while frozen:
 * a free, unfrozen run), then a slab C. Thawing A merges it with B; C must
 * still be thawed and hand out blocks again. */
static void test_thaw_after_merge(void **state)
{
    (void)state;
    unsigned char *a = cg_block_alloc(16 * CG_PAGE, 16, false, 0);
    unsigned char *b = cg_block_alloc(16 * CG_PAGE, 16, false, 0);
    assert_ptr_equal(b, a + 16 * CG_PAGE);
    void *c[4];
    for (int i = 0; i < 4; i++) c[i] = cg_block_alloc(4000, 16, false, 0);
    cg_span_t *cs = cg_arena_span_of((uintptr_t)c[0]);
    assert_true((uintptr_t)c[0] >= (uintptr_t)b + 16 * CG_PAGE); /* C comes after B */
    assert_null(cg_block_free(a));
    freeze();
    assert_null(cg_block_free(b)); /* frozen and empty: reclaimed now */
    assert_false(cg_page_frozen((uintptr_t)b));
    assert_null(cg_block_free(c[3])); /* quarantined: the slab is frozen */
    thaw();
    assert_int_equal(cs->sealed, 0);
    for (int i = 0; i < 3; i++) assert_false(cg_page_frozen((uintptr_t)c[i]));
    void *again = cg_block_alloc(4000, 16, false, 0); /* from C's freed block */
    assert_ptr_equal(cg_arena_span_of((uintptr_t)again), cs);
    assert_null(cg_block_free(again));
    for (int i = 0; i < 3; i++) assert_null(cg_block_free(c[i]));
}

/* ---- bad frees ---------------------------------------------------------- */

static void test_bad_free(void **state)
{
    (void)state;
    size_t live0 = cg_arena.live_blocks;
    unsigned char *x = cg_block_alloc(100, 16, false, 0);
    unsigned char *y = cg_block_alloc(100, 16, false, 0); /* keeps x's slab alive */
    unsigned char *l = cg_block_alloc(20000, 16, false, 0);
    check_block(x, 100, 16);
    check_block(y, 100, 16);
    check_block(l, 20000, 16);
    void *m = malloc(32);
    int on_stack;
    assert_non_null(m);

    assert_null(cg_block_free(x));
    /* Each is refused with its reason, and nothing is freed: the caller
     * (interpose_malloc.c) reports it and aborts. */
    assert_non_null(strstr(cg_block_free(x), "double free"));             /* slab */
    assert_non_null(strstr(cg_block_free(y + 16), "not the start"));      /* interior, slab */
    assert_non_null(strstr(cg_block_free(y + 1), "not the start"));       /* interior, slab, unaligned */
    assert_non_null(strstr(cg_block_free(l + CG_PAGE), "not the start")); /* interior, large */
    assert_non_null(strstr(cg_block_free(l + 8), "not the start"));
    assert_non_null(cg_block_free(m));                                    /* not ours at all */
    assert_non_null(cg_block_free(&on_stack));
    assert_non_null(cg_block_free(NULL));
    assert_non_null(cg_block_free((void *)(cg_arena.end - 16)));          /* ours, but past top */

    /* Nothing was freed by any of them. */
    assert_int_equal(cg_arena.live_blocks, live0 + 2);
    assert_int_equal(cg_block_usable_size(y), cg_class_size(cg_size_class(100, 16)));
    assert_int_equal(cg_block_usable_size(l), round_up(20000, CG_PAGE));
    memset(y, 1, 100);
    memset(l, 1, 20000);

    assert_null(cg_block_free(l));
    assert_non_null(strstr(cg_block_free(l), "double free")); /* large */
    assert_null(cg_block_free(y));
    assert_int_equal(cg_arena.live_blocks, live0);
    free(m);
}

/* ---- page runs: reuse and coalescing ------------------------------------ */

/* Runs freed by aligned requests serve later aligned requests: 100 rounds of
 * 64 KiB aligned to 64 KiB, and of 100 bytes aligned to 8 KiB, must not keep
 * taking fresh pages from the top. */
static void test_aligned_reuse(void **state)
{
    (void)state;
    static const size_t cases[][2] = { { 64 * 1024, 64 * 1024 }, { 100, 8192 } };
    for (size_t c = 0; c < 2; c++) {
        uintptr_t top = 0;
        for (int i = 0; i < 100; i++) {
            void *p = cg_block_alloc(cases[c][0], cases[c][1], false, 0);
            check_block(p, cases[c][0], cases[c][1]);
            if (i == 0) top = cg_arena.top;
            cg_block_free(p);
        }
        assert_int_equal(cg_arena.top, top);
    }
}

static void test_large_reuse(void **state)
{
    (void)state;
    size_t live0 = cg_arena.live_blocks;
    uintptr_t top = 0;
    for (int i = 0; i < 200; i++) { /* a leak would grow top by 800 MiB: the arena is 256 */
        if (i == 1) top = cg_arena.top; /* the first round may have had to grow it */
        void *q = cg_block_alloc(MiB, 16, false, 0);
        check_block(q, MiB, 16);
        memset(q, 0xcd, MiB);
        void *r = cg_block_alloc(3 * MiB, 16, false, 0);
        check_block(r, 3 * MiB, 16);
        cg_block_free(q);
        cg_block_free(r);
    }
    assert_int_equal(cg_arena.top, top);

    /* Neighbouring free runs merge: 1M and 3M cut from one 4M run come back as
     * one 4M run, at the same place. The 2M-aligned run is fresh from the top,
     * so its neighbourhood is known. */
    void *g = cg_block_alloc(4 * MiB, 2 * MiB, false, 0);
    check_block(g, 4 * MiB, 2 * MiB);
    uintptr_t top2 = cg_arena.top;
    cg_block_free(g);
    unsigned char *a = cg_block_alloc(MiB, 16, false, 0);
    unsigned char *b = cg_block_alloc(3 * MiB, 16, false, 0);
    check_block(a, MiB, 16);
    check_block(b, 3 * MiB, 16);
    assert_ptr_equal(b, a + MiB);
    cg_block_free(a);
    cg_block_free(b);
    /* The merged run is the newest on its list, so it serves the request; it
     * may also have taken in a free run just before a. */
    unsigned char *c = cg_block_alloc(4 * MiB, 16, false, 0);
    check_block(c, 4 * MiB, 16);
    assert_true(c <= a);
    assert_int_equal(cg_arena.top, top2);
    cg_block_free(c);
    assert_int_equal(cg_arena.live_blocks, live0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: it sees the arena unreserved. */
        cmocka_unit_test_teardown(test_lazy_reserve, unlock_teardown),
        cmocka_unit_test_teardown(test_size_classes, unlock_teardown),
        cmocka_unit_test_teardown(test_alloc_many_sizes, unlock_teardown),
        cmocka_unit_test_teardown(test_alloc_aligned, unlock_teardown),
        cmocka_unit_test_teardown(test_owns, unlock_teardown),
        cmocka_unit_test_teardown(test_zeroing, unlock_teardown),
        cmocka_unit_test_teardown(test_freeze_free_thaw, unlock_teardown),
        cmocka_unit_test_teardown(test_quarantine_partial_slab, unlock_teardown),
        cmocka_unit_test_teardown(test_live_across_freeze, unlock_teardown),
        cmocka_unit_test_teardown(test_thaw_page, unlock_teardown),
        cmocka_unit_test_teardown(test_thaw_after_merge, unlock_teardown),
        cmocka_unit_test_teardown(test_bad_free, unlock_teardown),
        cmocka_unit_test_teardown(test_large_reuse, unlock_teardown),
        cmocka_unit_test_teardown(test_aligned_reuse, unlock_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
