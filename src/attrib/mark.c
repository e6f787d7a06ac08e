/* mark.c: which allocations are marked read-only.
 *
 * The test on every malloc is one compare with a global word, the floor
 * (cg_mark_floor, read inline by the malloc wrappers): a request below it
 * cannot be marked and goes straight to the next allocator. It is 0 (no
 * request passes without a look) before start-up is done and while any
 * thread is inside a region or a slow rule is in force; COWGUARD_MIN_SIZE
 * when that is set; else SIZE_MAX. The rules behind it are in
 * cg_mark_decide: the thread's own region, the size, and the rules that
 * cost more: COWGUARD_PREFORK, and COWGUARD_SITES,
 * which unwinds the allocation stack and matches its functions and objects
 * against globs. A stack's verdict is cached by the stack's hash, so a hot
 * allocation site pays for symbols and globs once; the unwind itself
 * (libunwind's cached fast path) it pays every time, since one call site
 * reached from different callers can get different verdicts. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "attrib.h"

uint64_t cg_mark_min_size;
bool cg_mark_enabled;
size_t cg_mark_floor;
__thread uint32_t cg_region_depth CG_TLS;

static bool prefork;                  /* COWGUARD_PREFORK, until the first fork */
static _Atomic uint32_t regions_open; /* threads inside a region now */

/* Whose allocations are never marked by a rule:
 * - the dynamic loader's (link maps, scopes, TLS vectors): it writes them
 *   at every dlopen and thread start, in every process, and at exit when
 *   the report loads libdw; none of it is the program's data;
 * - the C library's own (stdio buffers, directory streams, resolver and
 *   NSS buffers) by the implicit rules and the size rule: libc fills them
 *   with its internal read, which no wrapper can see, and a frozen page
 *   would make it fail with EFAULT. A region the program opened still
 *   marks them (strdup inside a region is marked); the stdio and readdir
 *   wrappers then thaw what the kernel is about to fill. */
static uintptr_t libc_lo, libc_hi, ldso_lo, ldso_hi;

#define MAX_GLOBS 32
static struct {
    const char *text;
    size_t len;
} globs[MAX_GLOBS];
static int nglobs;

/* Verdict cache: hash with the low two bits replaced by the verdict. */
#define CACHE_SLOTS 16384
#define VERDICT_MARK 1
#define VERDICT_SKIP 2
static _Atomic uint64_t *cache;

static void parse_sites(const char *s)
{
    while (s && *s && nglobs < MAX_GLOBS) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len) {
            globs[nglobs].text = s;
            globs[nglobs].len = len;
            nglobs++;
        }
        s = comma ? comma + 1 : NULL;
    }
    if (s && *s) cg_message("COWGUARD_SITES: more than %d globs; the rest are ignored", MAX_GLOBS);
}

void cg_mark_setup(void)
{
    cg_mark_min_size = cg_opt.min_size;
    prefork = cg_opt.prefork != 0;
    parse_sites((const char *)(uintptr_t)cg_opt.sites);
    if (nglobs) {
        cache = cg_map_anon(CACHE_SLOTS * sizeof *cache); /* NULL: every stack is matched afresh */
    }
    cg_code_range((uintptr_t)&fopen, &libc_lo, &libc_hi);
    cg_loader_range(&ldso_lo, &ldso_hi);
    cg_mark_enabled = true;
}

static size_t floor_now(void)
{
    if (!cg_mark_enabled) return SIZE_MAX;
    /* COWGUARD_WATCH: every block is recorded (heap.c), in every process */
    if (atomic_load(&regions_open) || prefork || nglobs || cg_opt.watch != CG_WATCH_MARKED) return 0;
    return cg_mark_min_size ? (size_t)cg_mark_min_size : SIZE_MAX;
}

/* Publish the floor for what is in force now: at the end of start-up and
 * whenever an input changes. Two threads may race (one opening a region,
 * one closing its own): each checks after its own store that the floor
 * still matches, and stores again if not, so the last word is right. */
void cg_mark_refresh(void)
{
    size_t f;
    do {
        f = floor_now();
        __atomic_store_n(&cg_mark_floor, f, __ATOMIC_SEQ_CST);
    } while (floor_now() != f);
}

/* The first fork ends COWGUARD_PREFORK, in parent and child. */
void cg_mark_fork(void)
{
    if (prefork) {
        prefork = false;
        cg_mark_refresh();
    }
}

/* In a forked child only the forking thread exists: the regions other
 * threads had open are gone with them. */
void cg_mark_child(void)
{
    atomic_store(&regions_open, cg_region_depth ? 1 : 0);
    cg_mark_refresh();
}

static bool any_glob(const char *name, size_t len)
{
    for (int i = 0; i < nglobs; i++)
        if (cg_glob_match(globs[i].text, globs[i].len, name, len)) return true;
    return false;
}

/* A frame matches by its function's name, also without the suffix of a
 * compiler's clone (build_table.constprop.0 is build_table), by its
 * object's file name, or by that name cut after ".so" (so libfoo.so matches
 * libfoo.so.1.2). */
static bool frame_matches(uintptr_t addr)
{
    cg_frame_t f;
    cg_symbolize(addr, &f);
    if (f.function) {
        const char *dot = strchr(f.function, '.');
        if (any_glob(f.function, strlen(f.function))) return true;
        if (dot && dot > f.function && any_glob(f.function, (size_t)(dot - f.function))) return true;
    }
    const char *base = strrchr(f.object, '/');
    base = base ? base + 1 : f.object;
    size_t len = strlen(base);
    if (any_glob(base, len)) return true;
    const char *so = strstr(base, ".so.");
    return so && any_glob(base, (size_t)(so + 3 - base));
}

static bool sites_match(void)
{
    uintptr_t frames[CG_MAX_FRAMES];
    uint32_t n = cg_backtrace(frames, (uint32_t)cg_opt.site_depth);
    if (n == 0) return false; /* no stack (a fork is being prepared): no verdict to keep */
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (uint32_t i = 0; i < n; i++) h = (h ^ frames[i]) * 0xff51afd7ed558ccdULL;
    uint64_t key = h & ~3ULL;
    for (uint32_t probe = 0; cache && probe < 8; probe++) {
        uint64_t e = atomic_load_explicit(&cache[(h + probe) % CACHE_SLOTS], memory_order_relaxed);
        if (e == 0) break;
        if ((e & ~3ULL) == key) return (e & 3) == VERDICT_MARK;
    }
    bool mark = false;
    cg_tls.busy++; /* symbolizing may allocate through dladdr's callees */
    for (uint32_t i = 0; i < n && !mark; i++) mark = frame_matches(frames[i]);
    cg_tls.busy--;
    for (uint32_t probe = 0; cache && probe < 8; probe++) {
        uint64_t expected = 0;
        if (atomic_compare_exchange_strong(&cache[(h + probe) % CACHE_SLOTS], &expected,
                                           key | (mark ? VERDICT_MARK : VERDICT_SKIP)))
            break;
    }
    return mark;
}

/* The rules behind the inline test, for a request it let by. */
bool cg_mark_decide(size_t size, uintptr_t caller)
{
    if (caller >= ldso_lo && caller < ldso_hi) return false;
    if (cg_region_depth) return true;
    if (caller >= libc_lo && caller < libc_hi) return false;
    if (cg_mark_min_size && size >= cg_mark_min_size) return true;
    return prefork || (nglobs && sites_match());
}

/* A region in this thread: while any is open, the floor is 0 and every
 * request takes a look (a thread that exits inside a region leaves it so:
 * slower, never wrong). */
void cg_region_begin(void)
{
    if (cg_region_depth++ == 0) {
        atomic_fetch_add(&regions_open, 1);
        cg_mark_refresh();
    }
}

void cg_region_end(void)
{
    static _Atomic int warned;
    if (cg_region_depth > 0) {
        if (--cg_region_depth == 0) {
            atomic_fetch_sub(&regions_open, 1);
            cg_mark_refresh();
        }
    } else if (!atomic_exchange(&warned, 1)) {
        cg_message("cowguard_readonly_end() without a matching cowguard_readonly_begin(); ignored");
    }
}
