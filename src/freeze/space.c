/* space.c: the rest of a forked child's memory: what it copied, and,
 * under COWGUARD_WATCH, the first write to each page, trapped in place.
 *
 * Marked data is only part of what a worker copies. The heap, anonymous
 * mappings, thread stacks and every object's data and bss are shared by a
 * fork as well. As a child starts (the fork's child handler), cowguard
 * lists those mappings from /proc/self/maps and asks the kernel which of
 * their pages are present and anonymous: only those are shared with the
 * parent, so only those can be copied (a page faulted in later is the
 * child's own, and a file page written is not the parent's). At the end,
 * pagemap says which of them the child now maps alone (bit 56): those it
 * copied. No privilege is needed, and nothing is moved.
 *
 * COWGUARD_WATCH=heap (the heap and anonymous mappings) or all (every
 * object's data and bss too) goes further: the child write-protects those
 * present pages where they are, and the fault handler (fault.c) thaws a
 * page at its first write, as for frozen memory: one trap per page, told
 * to the watcher with the writer's context. Left out, because the kernel
 * writes them on its own: every stack (the signal frame), the thread's
 * descriptor and TLS (rseq, the robust list) and its alternate signal
 * stack. Memory the kernel writes for a system call is thawed first
 * (kernel.c), without a trap; a block the child allocates in a protected
 * page is thawed as it is handed out (the C library reads into its own
 * buffers). A region the program protects itself stops being watched.
 * Thaws split mappings: past half of what vm.max_map_count leaves, a
 * thaw makes its whole region writable (its later copies are still
 * measured, not trapped).
 *
 * The tables are cowguard's own mappings, made in the child; the fault
 * path is async-signal-safe. */
#include <errno.h>
#include <fcntl.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "freeze.h"
#include "sys.h"

#define MAX_REGIONS 4096
#define MAX_PRESENT (1u << 17)
#define MAX_NAMES 256
#define MAPS_MAX ((size_t)4 << 20)

typedef struct {
    uintptr_t lo, hi;
    uint32_t first, count; /* its present ranges */
    size_t bit;            /* its first page's bit in the watch bitmap */
    uint16_t name;         /* the object, for data; 0: none */
    uint8_t kind;          /* cg_space_kind_t */
    uint8_t prot;
    bool system;           /* the C library's or the loader's data: measured, never watched */
    _Atomic bool watched;
    int64_t at_exit;       /* its copies when the process began to exit; -1: not taken */
} region_t;

static struct {
    region_t *regions;
    cg_range_t *present;
    char (*names)[CG_SPACE_NAME];
    char *maps;
    _Atomic uint64_t *bits;
    size_t bits_len;
    uint32_t nregions, npresent, nnames;
    pid_t pid;               /* the process the tables describe */
    pid_t exit_taken;        /* the process whose copies at the start of its exit were taken */
    size_t allowance;        /* thaws times two may reach this */
    _Atomic size_t thaws;
} sp;



/* ---- the mappings --------------------------------------------------------- */

static uintptr_t hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9') v = v << 4 | (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v << 4 | (uintptr_t)(c - 'a' + 10);
        else return v;
    }
}

static uint16_t intern(const char *name, size_t len)
{
    const char *slash = memrchr(name, '/', len);
    if (slash) { /* the object's file name; the directory adds nothing here */
        len -= (size_t)(slash + 1 - name);
        name = slash + 1;
    }
    if (len >= CG_SPACE_NAME) len = CG_SPACE_NAME - 1;
    for (uint32_t i = 1; i < sp.nnames; i++)
        if (strncmp(sp.names[i], name, len) == 0 && sp.names[i][len] == 0) return (uint16_t)i;
    if (sp.nnames >= MAX_NAMES) return 0;
    memcpy(sp.names[sp.nnames], name, len);
    sp.names[sp.nnames][len] = 0;
    return (uint16_t)sp.nnames++;
}

static bool adding_system; /* the region being added is the C library's or the loader's */

static void add_region(uintptr_t lo, uintptr_t hi, cg_space_kind_t kind, uint16_t name, int prot)
{
    /* cowguard's own tables and the arena's reservation are not the program's */
    cg_range_t own;
    while (lo < hi && cg_own_map_overlap(lo, hi, &own)) {
        if (own.lo > lo) add_region(lo, own.lo, kind, name, prot);
        lo = own.hi;
    }
    if (lo < cg_arena.end && hi > cg_arena.base) {
        if (lo < cg_arena.base) add_region(lo, cg_arena.base, kind, name, prot);
        lo = cg_arena.end;
    }
    if (lo >= hi || sp.nregions >= MAX_REGIONS) return;
    region_t *r = &sp.regions[sp.nregions++];
    *r = (region_t){ .lo = lo, .hi = hi, .name = name, .kind = (uint8_t)kind, .prot = (uint8_t)prot,
                     .system = adding_system, .at_exit = -1 };
}

/* Where the writable segment holding addr ends (page-aligned), by the
 * program headers of the object mapped at base (its mapping of offset 0,
 * which holds them), or 0: a nameless mapping after an object's data is
 * its bss only as far as the segment goes; past it, memory mapped there
 * later (an allocator's arena) is anonymous. The headers are read where
 * the loader mapped them: the loader's own list would need its lock, which
 * a thread that no longer exists in this child may have held. */
static uintptr_t segment_end(uintptr_t base, uintptr_t addr)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
    if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(ElfW(Phdr)) ||
        eh->e_phoff + (size_t)eh->e_phnum * sizeof(ElfW(Phdr)) > CG_PAGE)
        return 0;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
    uintptr_t bias = 0;
    bool first = true;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD) continue;
        if (first) bias = base - cg_page_down(ph[i].p_vaddr); /* the first load segment is at base */
        first = false;
        uintptr_t lo = bias + ph[i].p_vaddr, hi = cg_page_up(lo + ph[i].p_memsz);
        if ((ph[i].p_flags & PF_W) && addr >= cg_page_down(lo) && addr < hi) return hi;
    }
    return 0;
}

/* The private writable mappings, from /proc/self/maps, classified. */
static void list_regions(void)
{
    int fd = cg_sys_open("/proc/self/maps", O_RDONLY);
    size_t len = 0;
    if (fd < 0) return;
    for (ssize_t n; len < MAPS_MAX - 1 && (n = cg_sys_read(fd, sp.maps + len, MAPS_MAX - 1 - len)) > 0;)
        len += (size_t)n;
    cg_sys_close(fd);
    sp.maps[len] = 0;
    uintptr_t own_code = (uintptr_t)cg_space_child, sp_now = (uintptr_t)__builtin_frame_address(0);
    /* The C library and the loader write their own data with every signal
     * blocked (glibc 2.41's fork does, in the child): a watched page there
     * would kill the process. Their code and their first mapping tell them. */
    uintptr_t libc_code = (uintptr_t)&fopen, loader_base = getauxval(AT_BASE);
    const char *own_path = NULL, *prev_path = NULL, *sys_path[2] = { NULL, NULL };
    size_t own_len = 0, prev_len = 0, sys_len[2] = { 0, 0 };
    uintptr_t prev_hi = 0, prev_base = 0; /* the last object's mapping of offset 0 */
    bool prev_guard = false, prev_file_rw = false, prev_own = false;
    for (const char *p = sp.maps; *p;) {
        const char *end = strchr(p, '\n');
        if (!end) end = p + strlen(p);
        uintptr_t lo = hex(&p);
        p++;
        uintptr_t hi = hex(&p);
        const char *perms = ++p;
        uintptr_t offset = 0;
        for (int field = 0; field < 4 && p < end; field++) { /* perms, offset, dev, inode */
            while (p < end && *p != ' ') p++;
            while (p < end && *p == ' ') p++;
            if (field == 0) offset = hex(&p);
        }
        const char *path = p;
        size_t plen = (size_t)(end - p);
        bool file = plen && path[0] == '/';
        if (file && own_code >= lo && own_code < hi) {
            own_path = path;
            own_len = plen;
        }
        bool is_own = file && own_path && plen == own_len && memcmp(path, own_path, plen) == 0;
        if (file && ((libc_code >= lo && libc_code < hi) || lo == loader_base)) {
            int k = lo == loader_base;
            sys_path[k] = path;
            sys_len[k] = plen;
        }
        const char *named = file ? path : plen == 0 && prev_path ? prev_path : NULL;
        size_t named_len = file ? plen : prev_len;
        adding_system = false;
        for (int k = 0; k < 2 && named; k++)
            adding_system |= sys_path[k] && named_len == sys_len[k] && memcmp(named, sys_path[k], named_len) == 0;
        bool rw_private = perms[1] == 'w' && perms[3] == 'p';
        int prot = PROT_READ | PROT_WRITE | (perms[2] == 'x' ? PROT_EXEC : 0);
        if (rw_private && !is_own && !(plen == 0 && prev_own && prev_hi == lo)) {
            if (plen == 6 && memcmp(path, "[heap]", 6) == 0) add_region(lo, hi, CG_SPACE_HEAP, 0, prot);
            else if ((plen >= 7 && memcmp(path, "[stack]", 7) == 0) || (sp_now >= lo && sp_now < hi))
                add_region(lo, hi, CG_SPACE_STACK, 0, prot);
            else if (file) add_region(lo, hi, CG_SPACE_DATA, intern(path, plen), prot);
            else if (plen == 0 && prev_hi == lo && prev_file_rw && segment_end(prev_base, lo)) { /* its bss */
                uintptr_t seg_end = segment_end(prev_base, lo), bss_end = seg_end < hi ? seg_end : hi;
                add_region(lo, bss_end, CG_SPACE_DATA, intern(prev_path, prev_len), prot);
                if (bss_end < hi) add_region(bss_end, hi, CG_SPACE_ANON, 0, prot);
            }
            else if (plen == 0 && prev_hi == lo && prev_guard) /* a thread's stack, above its guard page */
                add_region(lo, hi, CG_SPACE_STACK, 0, prot);
            else if (plen == 0 || (plen > 6 && memcmp(path, "[anon:", 6) == 0))
                add_region(lo, hi, CG_SPACE_ANON, 0, prot);
        }
        prev_hi = hi;
        prev_guard = plen == 0 && perms[0] == '-' && perms[1] == '-' && perms[2] == '-';
        prev_file_rw = file && rw_private && !is_own;
        prev_own = is_own;
        if (file) {
            bool same = prev_path && plen == prev_len && memcmp(path, prev_path, plen) == 0;
            if (!same) prev_base = 0;
            if (offset == 0 && perms[0] == 'r' && (!same || !prev_base)) prev_base = lo;
            prev_path = path;
            prev_len = plen;
        }
        p = *end ? end + 1 : end;
    }
}

/* ---- the pages shared at the fork ---------------------------------------- */

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE_OR_SHARED (1ULL << 61)
#define PM_EXCLUSIVE (1ULL << 56)

static uint32_t region_first; /* the first present range of the region being scanned */

/* A present range of the region being scanned, joined to the one before
 * only within the region: a region's ranges are its own, and its bits
 * cover its pages only. */
static void add_present(uintptr_t lo, uintptr_t hi)
{
    if (sp.npresent > region_first && sp.present[sp.npresent - 1].hi == lo) {
        sp.present[sp.npresent - 1].hi = hi;
        return;
    }
    if (sp.npresent < MAX_PRESENT) sp.present[sp.npresent++] = (cg_range_t){ lo, hi };
}

/* Present anonymous pages of [lo, hi), by PAGEMAP_SCAN (Linux 6.7): 0, or
 * -1 when the kernel has no such ioctl. */
static int scan_present(int pm, uintptr_t lo, uintptr_t hi)
{
    cg_scan_range_t out[64];
    for (uintptr_t at = lo; at < hi;) {
        cg_scan_arg_t q = { .size = sizeof q, .start = at, .end = hi, .vec = (uintptr_t)out,
                         .vec_len = sizeof out / sizeof out[0],
                         .category_mask = CG_PAGE_IS_PRESENT | CG_PAGE_IS_FILE | CG_PAGE_IS_PFNZERO,
                         .category_inverted = CG_PAGE_IS_FILE | CG_PAGE_IS_PFNZERO,
                         .return_mask = CG_PAGE_IS_PRESENT };
        int n = cg_sys_ioctl(pm, CG_PAGEMAP_SCAN, &q);
        if (n < 0) return -1;
        for (int i = 0; i < n; i++) add_present(out[i].start, out[i].end);
        if (n < (int)(sizeof out / sizeof out[0]) || q.walk_end <= at) break;
        at = q.walk_end;
    }
    return 0;
}

/* The same from pagemap's entries, for older kernels (regions up to 1 GiB). */
static void read_present(uintptr_t lo, uintptr_t hi)
{
    uint64_t e[512];
    if (hi - lo > ((uintptr_t)1 << 30)) return;
    for (uintptr_t a = lo; a < hi; a += sizeof e / 8 * CG_PAGE) {
        size_t n = (hi - a) >> CG_PAGE_SHIFT;
        if (n > 512) n = 512;
        if (cg_pagemap_read(a, n, e) != 0) return;
        for (size_t k = 0; k < n; k++)
            if ((e[k] & PM_PRESENT) && !(e[k] & PM_FILE_OR_SHARED))
                add_present(a + k * CG_PAGE, a + (k + 1) * CG_PAGE);
    }
}

static bool tables(void)
{
    if (sp.regions) return true;
    sp.regions = cg_map_anon(MAX_REGIONS * sizeof *sp.regions);
    sp.present = cg_map_anon(MAX_PRESENT * sizeof *sp.present);
    sp.names = cg_map_anon(MAX_NAMES * sizeof *sp.names);
    sp.maps = cg_map_anon(MAPS_MAX);
    return sp.regions && sp.present && sp.names && sp.maps;
}

/* ---- watching in place ------------------------------------------------------ */

static inline bool bit_get(size_t i)
{
    return atomic_load_explicit(&sp.bits[i / 64], memory_order_relaxed) >> (i % 64) & 1;
}

static inline bool bit_take(size_t i)
{
    uint64_t b = 1ULL << (i % 64);
    return atomic_fetch_and_explicit(&sp.bits[i / 64], ~b, memory_order_relaxed) & b;
}

/* [lo, hi) minus the pages the kernel writes on its own: stacks are not
 * regions to watch at all; here the thread's descriptor and TLS, its
 * alternate signal stack and the pages around the stack pointer (a stack
 * the program allocated). */
typedef struct {
    cg_range_t hole[3];
} holes_t;

static void protect_run(region_t *r, uintptr_t lo, uintptr_t hi, const holes_t *h, size_t *budget)
{
    for (int i = 0; i < 3; i++) {
        const cg_range_t *x = &h->hole[i];
        if (x->lo < hi && x->hi > lo) {
            if (x->lo > lo) protect_run(r, lo, x->lo, h, budget);
            if (x->hi < hi) protect_run(r, x->hi, hi, h, budget);
            return;
        }
    }
    if (lo >= hi || *budget < 2) return;
    if (cg_mprotect((void *)lo, hi - lo, PROT_READ | (r->prot & PROT_EXEC)) != 0) return;
    *budget -= 2;
    for (uintptr_t a = lo; a < hi; a += CG_PAGE) {
        size_t i = r->bit + ((a - r->lo) >> CG_PAGE_SHIFT);
        atomic_fetch_or_explicit(&sp.bits[i / 64], 1ULL << (i % 64), memory_order_relaxed);
    }
}

static void watch_regions(int mode)
{
    size_t pages = 0;
    for (uint32_t i = 0; i < sp.nregions; i++) {
        region_t *r = &sp.regions[i];
        bool want = r->kind == CG_SPACE_HEAP || r->kind == CG_SPACE_ANON ||
                    (mode == CG_WATCH_ALL && r->kind == CG_SPACE_DATA && !r->system);
        atomic_store(&r->watched, want && r->count);
        r->bit = pages;
        if (want && r->count) pages += (r->hi - r->lo) >> CG_PAGE_SHIFT;
    }
    size_t len = (pages + 63) / 64 * 8;
    if (!pages) return;
    if (len > sp.bits_len) {
        if (sp.bits) cg_unmap_anon((void *)sp.bits, sp.bits_len);
        sp.bits = cg_map_anon(len);
        sp.bits_len = sp.bits ? len : 0;
        if (!sp.bits) return;
    } else {
        memset((void *)sp.bits, 0, len);
    }
    /* The mapping budget: half of what vm.max_map_count leaves. */
    char buf[32];
    size_t max = 65530, v = 0;
    if (cg_proc_read("/proc/sys/vm/max_map_count", buf, sizeof buf)) {
        for (const char *p = buf; *p >= '0' && *p <= '9'; p++) v = v * 10 + (size_t)(*p - '0');
        if (v) max = v;
    }
    size_t used = cg_count_mappings();
    sp.allowance = max > used ? (max - used) / 2 : 0;
    size_t budget = sp.allowance / 2; /* the other half is for the thaws */
    atomic_store(&sp.thaws, 0);
    holes_t h;
    uintptr_t tp = (uintptr_t)pthread_self(), stk = (uintptr_t)__builtin_frame_address(0);
    h.hole[0] = (cg_range_t){ cg_page_down(tp) - 16 * CG_PAGE, cg_page_up(tp) + 16 * CG_PAGE };
    h.hole[1] = (cg_range_t){ cg_page_down(stk) - 64 * CG_PAGE, cg_page_up(stk) + 16 * CG_PAGE };
    stack_t ss;
    h.hole[2] = (cg_range_t){ 0, 0 };
    if (syscall(SYS_sigaltstack, NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) && ss.ss_size)
        h.hole[2] = (cg_range_t){ cg_page_down((uintptr_t)ss.ss_sp), cg_page_up((uintptr_t)ss.ss_sp + ss.ss_size) };
    for (uint32_t i = 0; i < sp.nregions; i++) {
        region_t *r = &sp.regions[i];
        if (!atomic_load(&r->watched)) continue;
        for (uint32_t k = r->first; k < r->first + r->count; k++)
            protect_run(r, sp.present[k].lo, sp.present[k].hi, &h, &budget);
    }
    atomic_fetch_or(&cg_free_hooks, CG_FREE_WATCH);
}

/* The watched region holding addr, or NULL. */
static region_t *watched_region(uintptr_t addr)
{
    uint32_t lo = 0, hi = sp.nregions;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (addr < sp.regions[mid].lo) hi = mid;
        else if (addr >= sp.regions[mid].hi) lo = mid + 1;
        else return atomic_load_explicit(&sp.regions[mid].watched, memory_order_relaxed) ? &sp.regions[mid] : NULL;
    }
    return NULL;
}

/* Stop watching r: every page writable again, as the program had it. */
static void unwatch(region_t *r)
{
    if (!atomic_exchange(&r->watched, false)) return;
    cg_mprotect((void *)r->lo, r->hi - r->lo, r->prot);
    size_t n = (r->hi - r->lo) >> CG_PAGE_SHIFT;
    for (size_t i = 0; i < n; i++) bit_take(r->bit + i);
}

/* A fault (SEGV_ACCERR) at addr: a write to a page watched here? The
 * page is present or swapped out (a guard page is neither); another thread
 * may have thawed it a moment ago, and the write, retried, goes through. */
bool cg_space_fault(uintptr_t addr)
{
    if (!cg_space_watching()) return false;
    region_t *r = watched_region(addr);
    if (!r) return false;
    /* Its bit set: cowguard protected it, and the thaw reads pagemap. */
    if (bit_get(r->bit + ((cg_page_down(addr) - r->lo) >> CG_PAGE_SHIFT))) return true;
    uint64_t e;
    return cg_pagemap_read(cg_page_down(addr), 1, &e) == 0 && (e & (PM_PRESENT | PM_SWAPPED));
}

/* Make the watched page at addr writable. *was: this call thawed it (not
 * another thread); *copied: it was there, and shared with another
 * process, before the write. */
int cg_space_thaw(uintptr_t addr, bool *was, bool *copied)
{
    uintptr_t page = cg_page_down(addr);
    *was = *copied = false;
    region_t *r = watched_region(page);
    if (!r) return 0;
    uint64_t e = 0;
    bool read = cg_pagemap_read(page, 1, &e) == 0;
    *was = bit_take(r->bit + ((page - r->lo) >> CG_PAGE_SHIFT));
    if (!*was) return 0;
    *copied = read && (e & PM_PRESENT) && !(e & PM_EXCLUSIVE);
    size_t added = atomic_fetch_add(&sp.thaws, 1) * 2;
    if (added >= sp.allowance) {
        unwatch(r); /* out of mappings: the region's later writes are measured, not trapped */
        return 0;
    }
    return cg_mprotect((void *)page, CG_PAGE, r->prot) == 0 ? 0 : (unwatch(r), 0);
}

/* The kernel, or the C library's own code, is about to write [lo, hi):
 * its watched pages become writable now, untrapped (their copies are
 * still measured at the end). Async-signal-safe. */
void cg_space_thaw_range(uintptr_t lo, uintptr_t hi)
{
    if (!cg_space_watching() || lo >= hi) return;
    for (uintptr_t a = cg_page_down(lo); a < hi;) {
        region_t *r = watched_region(a);
        if (!r) {
            a += CG_PAGE;
            continue;
        }
        uintptr_t end = hi < r->hi ? cg_page_up(hi) : r->hi;
        for (; a < end; a += CG_PAGE)
            if (bit_take(r->bit + ((a - r->lo) >> CG_PAGE_SHIFT)) && cg_mprotect((void *)a, CG_PAGE, r->prot) != 0)
                unwatch(r);
    }
}

/* The program sets the protection of [addr, addr + len) itself: the
 * regions there are its to protect, no longer watched. */
void cg_space_forget(uintptr_t addr, size_t len)
{
    if (!cg_space_watching() || !len) return;
    for (uint32_t i = 0; i < sp.nregions; i++)
        if (sp.regions[i].lo < addr + len && sp.regions[i].hi > addr) unwatch(&sp.regions[i]);
}

/* ---- the fork and the end ------------------------------------------------ */

/* In a forked child: which pages it shares with its parent, and, with
 * mode heap or all, their protection. Inherited protection (this process's
 * parent was itself watched) is taken off first. */
void cg_space_child(int mode)
{
    if (atomic_fetch_and(&cg_free_hooks, (uint8_t)~CG_FREE_WATCH) & CG_FREE_WATCH)
        for (uint32_t i = 0; i < sp.nregions; i++) unwatch(&sp.regions[i]);
    sp.pid = 0;
    if (!tables()) return;
    sp.nregions = sp.npresent = 0;
    sp.nnames = 1;
    list_regions();
    int pm = cg_pagemap_fd();
    bool scan = pm >= 0;
    for (uint32_t i = 0; i < sp.nregions; i++) {
        region_t *r = &sp.regions[i];
        r->first = region_first = sp.npresent;
        if (scan && scan_present(pm, r->lo, r->hi) != 0) {
            scan = false;
            sp.npresent = r->first;
        }
        if (!scan) read_present(r->lo, r->hi);
        r->count = sp.npresent - r->first;
    }
    sp.pid = cg_sys_getpid();
    if (mode != CG_WATCH_MARKED) watch_regions(mode);
}

/* The pages of [lo, hi) present, and of them those this process maps alone. */
typedef struct {
    uint64_t present, alone;
} own_count_t;

static void count(uintptr_t lo, uintptr_t hi, own_count_t *c)
{
    static uint64_t e[512];
    for (uintptr_t a = lo; a < hi; a += sizeof e / 8 * CG_PAGE) {
        size_t n = (hi - a) >> CG_PAGE_SHIFT;
        if (n > sizeof e / 8) n = sizeof e / 8;
        if (cg_pagemap_read(a, n, e) != 0) break;
        for (size_t j = 0; j < n; j++) {
            c->present += (e[j] & PM_PRESENT) != 0;
            c->alone += (e[j] & (PM_PRESENT | PM_EXCLUSIVE | PM_FILE_OR_SHARED)) == (PM_PRESENT | PM_EXCLUSIVE);
        }
    }
}

static void own_count(uintptr_t lo, uintptr_t hi, void *arg)
{
    own_count_t *c = arg;
    int pm = cg_pagemap_fd();
    cg_scan_range_t out[64];
    for (uintptr_t at = lo; pm >= 0 && at < hi;) { /* present ranges first: the tables are sparse */
        cg_scan_arg_t q = { .size = sizeof q, .start = at, .end = hi, .vec = (uintptr_t)out,
                         .vec_len = sizeof out / sizeof out[0], .category_mask = CG_PAGE_IS_PRESENT,
                         .return_mask = CG_PAGE_IS_PRESENT };
        int n = cg_sys_ioctl(pm, CG_PAGEMAP_SCAN, &q);
        if (n < 0) break;
        for (int i = 0; i < n; i++) count(out[i].start, out[i].end, c);
        if (n < (int)(sizeof out / sizeof out[0]) || q.walk_end <= at) return;
        at = q.walk_end;
    }
    if (hi - lo <= ((uintptr_t)64 << 20)) count(lo, hi, c); /* older kernels: small tables only */
}

/* cowguard's own memory (its tables; in a watching child, the sorted
 * block table): the pages resident (*present), and those this process
 * holds alone (returned). Neither is the program's. */
uint64_t cg_space_own_pages(uint64_t *present)
{
    own_count_t c = { 0, 0 };
    cg_own_map_each(own_count, &c);
    if (present) *present = c.present;
    return c.alone;
}

/* The pages of region r shared at the fork that the process now maps
 * alone (copied). */
static uint64_t region_copied(const region_t *r)
{
    static uint64_t e[8192]; /* 64 KiB a read: the reads, not the entries, cost */
    uint64_t copied = 0;
    for (uint32_t k = r->first; k < r->first + r->count; k++)
        for (uintptr_t a = sp.present[k].lo; a < sp.present[k].hi; a += sizeof e / 8 * CG_PAGE) {
            size_t n = (sp.present[k].hi - a) >> CG_PAGE_SHIFT;
            if (n > sizeof e / 8) n = sizeof e / 8;
            if (cg_pagemap_read(a, n, e) != 0) break;
            for (size_t j = 0; j < n; j++)
                copied += (e[j] & (PM_PRESENT | PM_EXCLUSIVE | PM_FILE_OR_SHARED)) == (PM_PRESENT | PM_EXCLUSIVE);
        }
    return copied;
}

/* The process has begun to exit (exit(), or a Python interpreter's
 * finalization): what each region copied so far was copied while it
 * worked. A program's teardown writes (and frees) pages it never wrote
 * while working; they are counted apart. Once per process. */
void cg_space_exit_begins(void)
{
    pid_t me = cg_sys_getpid();
    if (!sp.regions || sp.pid != me || sp.exit_taken == me) return;
    sp.exit_taken = me;
    for (uint32_t i = 0; i < sp.nregions; i++) sp.regions[i].at_exit = (int64_t)region_copied(&sp.regions[i]);
}

/* At the end of a forked child: for each region, fn with the pages shared
 * at the fork that it copied while it worked (up to the start of its exit,
 * when that was seen), and in *late the pages it copied after. Static
 * buffers: this runs once, on the exit path. */
bool cg_space_measure(void (*fn)(cg_space_kind_t kind, const char *name, uint64_t pages, void *arg), void *arg,
                      uint64_t *late)
{
    *late = 0;
    if (!sp.regions || sp.pid != cg_sys_getpid()) return false;
    bool taken = sp.exit_taken == sp.pid;
    for (uint32_t i = 0; i < sp.nregions; i++) {
        const region_t *r = &sp.regions[i];
        uint64_t now = region_copied(r), work = now;
        if (taken && r->at_exit >= 0) {
            work = (uint64_t)r->at_exit; /* what teardown freed was still copied while it worked */
            if (now > work) *late += now - work;
        }
        if (work) fn((cg_space_kind_t)r->kind, r->name ? sp.names[r->name] : "", work, arg);
    }
    return true;
}
