/* proc.c: what the kernel says about this process, read without
 * allocating: /proc files, /proc/self/pagemap, and where the loaded objects'
 * code lies. Plain system calls into caller's buffers: these run in the
 * fault handler, in forked children and in _exit. */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>

#include "base.h"
#include "sys.h"

#define PM_PRESENT (1ULL << 63)
#define PM_EXCLUSIVE (1ULL << 56)

/* The text of a /proc file (NUL-terminated, cut at size - 1); its length. */
size_t cg_proc_read(const char *path, char *buf, size_t size)
{
    int fd = cg_sys_open(path, O_RDONLY);
    size_t len = 0;
    if (fd >= 0) {
        ssize_t r;
        while (len < size - 1 && (r = cg_sys_read(fd, buf + len, size - 1 - len)) > 0) len += (size_t)r;
        cg_sys_close(fd);
    }
    buf[len] = '\0';
    return len;
}

/* The number after "name:" in a /proc text of "Name:   123 kB" lines; -1
 * when the line is missing. */
int64_t cg_proc_field_kb(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            int64_t v = 0;
            for (const char *p = line + n + 1; *p; p++) {
                if (*p >= '0' && *p <= '9') v = v * 10 + (*p - '0');
                else if (*p != ' ' && *p != '\t') break;
            }
            return v;
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    return -1;
}

/* The process's mappings now: the lines of /proc/self/maps. */
size_t cg_count_mappings(void)
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

/* ---- pagemap ------------------------------------------------------------------
 *
 * Opening /proc/self/pagemap costs more than the rest of a trapped write,
 * so it stays open, close-on-exec, at a high descriptor number out of the
 * program's way. The program may still close it (a close_range or
 * closefrom loop) and reuse the number for a file of its own: so before
 * each use the descriptor is checked to be the file opened (device and
 * inode), and when it is not, cowguard forgets it, leaves the program's
 * file alone and opens pagemap again. A forked child closes its parent's
 * (it describes the parent's memory) and opens its own. */
static _Atomic int pagemap_fd = -1;
static _Atomic uint64_t pagemap_dev, pagemap_ino;

static bool is_pagemap(int fd)
{
    struct stat st;
    return cg_sys_fstat(fd, &st) == 0 && (uint64_t)st.st_dev == atomic_load(&pagemap_dev)
           && (uint64_t)st.st_ino == atomic_load(&pagemap_ino);
}

/* The open pagemap of this process, or -1. */
int cg_pagemap_fd(void)
{
    int fd = atomic_load(&pagemap_fd);
    if (fd >= 0) {
        if (is_pagemap(fd)) return fd;
        atomic_compare_exchange_strong(&pagemap_fd, &fd, -1); /* not ours any more: forget it */
    }
    int raw = cg_sys_open("/proc/self/pagemap", O_RDONLY);
    if (raw < 0) return -1;
    struct stat st;
    if (cg_sys_fstat(raw, &st) != 0) {
        cg_sys_close(raw);
        return -1;
    }
    fd = fcntl(raw, F_DUPFD_CLOEXEC, 900);
    if (fd < 0) fd = raw;
    else cg_sys_close(raw);
    atomic_store(&pagemap_dev, (uint64_t)st.st_dev);
    atomic_store(&pagemap_ino, (uint64_t)st.st_ino);
    int expected = -1;
    if (!atomic_compare_exchange_strong(&pagemap_fd, &expected, fd)) { /* another thread won */
        cg_sys_close(fd);
        fd = expected;
    }
    return fd;
}

/* In a forked child: the inherited descriptor reads the parent's pages. */
void cg_pagemap_child(void)
{
    int fd = atomic_exchange(&pagemap_fd, -1);
    if (fd >= 0 && is_pagemap(fd)) cg_sys_close(fd);
}

/* The pagemap entries of n pages from addr. Async-signal-safe: the fault
 * handler reads them. errno is left as it was. */
int cg_pagemap_read(uintptr_t addr, size_t n, uint64_t *entries)
{
    int saved = errno, r = -1;
    int fd = cg_pagemap_fd();
    if (fd >= 0 && cg_sys_pread(fd, entries, n * 8, (off_t)((addr >> CG_PAGE_SHIFT) * 8)) == (ssize_t)(n * 8))
        r = 0;
    errno = saved;
    return r;
}

/* Present, and mapped by another process too: a write would copy it. */
bool cg_pagemap_shared(uint64_t entry)
{
    return (entry & PM_PRESENT) && !(entry & PM_EXCLUSIVE);
}

/* Present, and mapped by this process alone. */
bool cg_pagemap_private(uint64_t entry)
{
    return (entry & PM_PRESENT) && (entry & PM_EXCLUSIVE);
}

/* ---- loaded objects --------------------------------------------------------------- */

typedef struct {
    uintptr_t probe, lo, hi;
} code_range_t;

static int find_code(struct dl_phdr_info *info, size_t size, void *arg)
{
    code_range_t *r = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && r->probe >= lo && r->probe < lo + ph->p_memsz) {
            r->lo = lo;
            r->hi = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

/* The executable segment of the loaded object that holds probe. */
bool cg_code_range(uintptr_t probe, uintptr_t *lo, uintptr_t *hi)
{
    code_range_t r = { probe, 0, 0 };
    if (!dl_iterate_phdr(find_code, &r)) return false;
    *lo = r.lo;
    *hi = r.hi;
    return true;
}

static int find_base(struct dl_phdr_info *info, size_t size, void *arg)
{
    code_range_t *r = arg;
    if (info->dlpi_addr != r->probe) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            r->lo = info->dlpi_addr + ph->p_vaddr;
            r->hi = r->lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

/* The executable segment of the dynamic loader (loaded at AT_BASE). */
bool cg_loader_range(uintptr_t *lo, uintptr_t *hi)
{
    code_range_t r = { getauxval(AT_BASE), 0, 0 };
    if (!r.probe || !dl_iterate_phdr(find_base, &r)) return false;
    *lo = r.lo;
    *hi = r.hi;
    return true;
}

static uintptr_t own_lo, own_hi; /* cowguard's own code */

/* At start-up: where cowguard's code lies, so that stacks can leave its
 * frames out and a fault in it can be named. */
void cg_own_code_setup(void)
{
    cg_code_range((uintptr_t)cg_own_code_setup, &own_lo, &own_hi);
}

/* Is ip in cowguard's own code? */
bool cg_own_code(uintptr_t ip)
{
    return ip >= own_lo && ip < own_hi;
}

/* ---- cowguard's own mappings --------------------------------------------------
 *
 * Tables, caches and stacks cowguard maps for itself look like any other
 * private anonymous memory in /proc/self/maps. The measurement of a
 * process's address space, and the watch that write-protects it in place
 * (freeze/space.c), must leave them out: a write cowguard makes there, in
 * its fault handler, must never trap. Every cg_map_anon is noted here. */
#define OWN_MAPS 512
static struct {
    _Atomic uintptr_t lo, hi;
} own_maps[OWN_MAPS];

/* The largest scratch memory cowguard filled and gave back since the last
 * reset (the watch's sort buffer): memory the process held for a while,
 * which its peak resident set counts, but which was not the program's. */
static _Atomic size_t transient;

size_t cg_own_transient(bool reset)
{
    return reset ? atomic_exchange(&transient, 0) : atomic_load(&transient);
}

void cg_own_transient_note(size_t size)
{
    for (size_t t = atomic_load(&transient); size > t;)
        if (atomic_compare_exchange_weak(&transient, &t, size)) break;
}

/* [p, p + size) is cowguard's (mine), or is not any more. Async-signal-safe. */
void cg_own_map_note(const void *p, size_t size, bool mine)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + size;
    for (int i = 0; i < OWN_MAPS; i++) {
        if (mine) {
            uintptr_t none = 0;
            if (atomic_compare_exchange_strong(&own_maps[i].lo, &none, lo)) {
                atomic_store(&own_maps[i].hi, hi);
                return;
            }
        } else if (atomic_load(&own_maps[i].lo) == lo) {
            atomic_store(&own_maps[i].hi, 0);
            atomic_store(&own_maps[i].lo, 0);
            return;
        }
    }
}

/* fn for each of cowguard's mappings. Async-signal-safe. */
void cg_own_map_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg)
{
    for (int i = 0; i < OWN_MAPS; i++) {
        uintptr_t a = atomic_load(&own_maps[i].lo), b = atomic_load(&own_maps[i].hi);
        if (a && b > a) fn(a, b, arg);
    }
}

/* The lowest of cowguard's mappings that overlaps [lo, hi), in *first. */
bool cg_own_map_overlap(uintptr_t lo, uintptr_t hi, cg_range_t *first)
{
    bool any = false;
    for (int i = 0; i < OWN_MAPS; i++) {
        uintptr_t a = atomic_load(&own_maps[i].lo), b = atomic_load(&own_maps[i].hi);
        if (!a || a >= hi || b <= lo || (any && a >= first->lo)) continue;
        first->lo = a;
        first->hi = b;
        any = true;
    }
    return any;
}
