/* measure.c: what the kernel says about this process, read at its exit.
 *
 * /proc/self/smaps_rollup gives Private_Dirty and Pss; /proc/self/pagemap's
 * bit 56 (exclusively mapped, readable without root) tells, for each page a
 * trapped write thawed here, whether the kernel really gave this process its
 * own copy. Plain open/read/pread into stack buffers: this runs in _exit,
 * which a signal handler may call. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

#define PM_PRESENT (1ULL << 63)
#define PM_EXCLUSIVE (1ULL << 56)
#define CHUNK 512 /* pagemap entries read at once */

static int64_t field_kb(const char *text, const char *name)
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

/* From /proc/self/status: the resident set now, its high-water mark, and
 * its file-backed part. */
static void rss(int64_t *now_kb, int64_t *peak_kb, int64_t *file_kb)
{
    static char buf[4096];
    *now_kb = *peak_kb = *file_kb = -1;
    if (!cg_proc_read("/proc/self/status", buf, sizeof buf)) return;
    *now_kb = field_kb(buf, "VmRSS");
    *peak_kb = field_kb(buf, "VmHWM");
    *file_kb = field_kb(buf, "RssFile");
}

/* In a forked child: its resident set as it starts, so that what it adds
 * for itself can be told at its end. Copies of shared pages do not change
 * the resident set; new memory does, and so do the pages of files (the
 * program's code) a child faults in again, since a fork does not hand
 * those on: their growth is taken off at the end. */
void cg_measure_fork(cg_slot_t *s)
{
    /* The high-water mark comes with the parent's memory description: start
     * it afresh (clear_refs 5 resets it to the current size, nothing else). */
    int fd = cg_sys_open("/proc/self/clear_refs", O_WRONLY);
    bool reset = fd >= 0 && syscall(SYS_write, fd, "5", 1) == 1;
    if (fd >= 0) cg_sys_close(fd);
    int64_t now, peak, file;
    rss(&now, &peak, &file);
    if (!s) return;
    s->rss_at_fork_kb = reset ? now : -1;
    s->file_at_fork_kb = file;
}

static bool rollup(int64_t *private_dirty_kb, int64_t *pss_kb)
{
    static char buf[4096]; /* once per process: no big frame on a small signal stack */
    if (!cg_proc_read("/proc/self/smaps_rollup", buf, sizeof buf)) return false;
    *private_dirty_kb = field_kb(buf, "Private_Dirty");
    *pss_kb = field_kb(buf, "Pss");
    return *private_dirty_kb >= 0 && *pss_kb >= 0;
}

/* From pagemap, over the pages ever frozen: those still resident and shared
 * with another process, and those this process copied that it still holds
 * alone. */
static void arena_pages(uint64_t *shared, uint64_t *copies_held)
{
    *shared = *copies_held = 0;
    if (!cg_arena.ready) return;
    int fd = cg_sys_open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return;
    size_t first = cg_arena.base >> CG_PAGE_SHIFT;
    size_t npages = (cg_arena.frozen_end - cg_arena.base) >> CG_PAGE_SHIFT;
    static uint64_t entries[CHUNK]; /* once per process, as above */
    for (size_t c = 0; c < npages; c += CHUNK) {
        size_t n = npages - c < CHUNK ? npages - c : CHUNK;
        if (cg_sys_pread(fd, entries, n * 8, (off_t)((first + c) * 8)) != (ssize_t)(n * 8)) break;
        for (size_t k = 0; k < n; k++) {
            size_t i = c + k;
            if (cg_pagemap_shared(entries[k])) (*shared)++;
            else if (cg_pagemap_private(entries[k])
                     && (atomic_load_explicit(&cg_arena.copied[i / 64], memory_order_relaxed) >> (i % 64) & 1))
                (*copies_held)++;
        }
    }
    cg_sys_close(fd);
}

/* The open /proc/self/pagemap: opening it costs more than the rest of a
 * trapped write, so it stays open, close-on-exec, at a high descriptor
 * number out of the program's way. The program may still close it (a
 * close_range or closefrom loop) and reuse the number for a file of its
 * own: so before each use the descriptor is checked to be the file opened
 * (device and inode), and when it is not, cowguard forgets it, leaves the
 * program's file alone and opens pagemap again. A forked child closes its
 * parent's (it describes the parent's memory) and opens its own. */
static _Atomic int pagemap_fd = -1;
static _Atomic uint64_t pagemap_dev, pagemap_ino;

static bool is_pagemap(int fd)
{
    struct stat st;
    return cg_sys_fstat(fd, &st) == 0 && (uint64_t)st.st_dev == atomic_load(&pagemap_dev)
           && (uint64_t)st.st_ino == atomic_load(&pagemap_ino);
}

static int pagemap_open(void)
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
void cg_measure_child(void)
{
    int fd = atomic_exchange(&pagemap_fd, -1);
    if (fd >= 0 && is_pagemap(fd)) cg_sys_close(fd);
}

/* The pagemap entries of n pages from addr. Async-signal-safe: the fault
 * handler reads them. errno is left as it was. */
int cg_pagemap_read(uintptr_t addr, size_t n, uint64_t *entries)
{
    int saved = errno, r = -1;
    int fd = pagemap_open();
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

int cg_pagemap_fd(void)
{
    return pagemap_open();
}

/* Fill s with this process's numbers, as the kernel has them now. Pending
 * pages are settled first: its copies are all counted. */
void cg_measure_self(cg_slot_t *s)
{
    if (!s) return;
    if (cg_arena.ready) cg_settle(cg_arena.base, cg_arena.frozen_end, true);
    int64_t pd = -1, pss = -1;
    if (!rollup(&pd, &pss)) pd = pss = -1;
    uint64_t shared, held;
    arena_pages(&shared, &held);
    s->private_dirty_kb = pd;
    s->pss_kb = pss;
    s->shared_pages = (int64_t)shared;
    s->own_kb = pd < 0 ? -1 : pd > (int64_t)(held * (CG_PAGE / 1024)) ? pd - (int64_t)(held * (CG_PAGE / 1024)) : 0;
    int64_t now, peak, file;
    rss(&now, &peak, &file);
    if (peak < 0 || s->rss_at_fork_kb < 0 || file < 0 || s->file_at_fork_kb < 0) {
        s->own_peak_kb = -1;
    } else {
        int64_t refaulted = file > s->file_at_fork_kb ? file - s->file_at_fork_kb : 0;
        int64_t grew = peak - s->rss_at_fork_kb - refaulted;
        s->own_peak_kb = grew > 0 ? grew : 0;
    }
    atomic_store(&s->measured, 1);
}
