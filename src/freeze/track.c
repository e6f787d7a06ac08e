/* track.c: the kernel's own record of which pages a process wrote.
 *
 * Most writes to frozen memory trap, and the fault handler sees whether
 * the page was shared, so whether the write copied it. Some pages are
 * made writable without a trap: a unit thawed in bulk when mappings run
 * short, the destination of a system call, a range kept for the kernel.
 * Whether they are written afterwards, only the kernel knows. With
 * userfaultfd's asynchronous write-protection (Linux 6.7 and later) it
 * keeps that record for cowguard: the pages are write-protected through a
 * userfaultfd of the process's own, a write clears the protection with no
 * signal and no wait, and the PAGEMAP_SCAN ioctl of /proc/self/pagemap
 * lists the pages written since. Without it (older kernels, or a
 * userfaultfd refused), cg_track_armed() says no, and such pages are
 * counted by whether the kernel shows them private, flagged as estimated.
 *
 * The userfaultfd is registered over the whole arena reservation once per
 * process (a forked child has none: the kernel does not hand the
 * registration on) and kept open, close-on-exec, at a high descriptor
 * number, checked before each use like pagemap's. Async-signal-safe. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "freeze.h"
#include "sys.h"

/* From Linux 6.7's headers, for building against older ones. */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define FEATURE_WP_ASYNC (1ULL << 15)
#define FEATURE_WP_UNPOPULATED (1ULL << 13)

static _Atomic int uffd = -1;
static _Atomic uint64_t uffd_ino;
static _Atomic int state; /* 0 untried, 1 working, -1 unavailable in this process */

static bool is_ours(int fd)
{
    struct stat st;
    return cg_sys_fstat(fd, &st) == 0 && (uint64_t)st.st_ino == atomic_load(&uffd_ino);
}

/* The process's userfaultfd, registered over the arena; -1 when write
 * tracking is not available. */
static int tracker(void)
{
    int fd = atomic_load(&uffd);
    if (fd >= 0 && is_ours(fd)) return fd;
    if (fd >= 0 || atomic_load(&state) < 0) { /* the program closed it: the record is gone */
        atomic_store(&state, -1);
        return -1;
    }
    int saved = errno;
    int raw = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    struct uffdio_api api = { .api = UFFD_API, .features = FEATURE_WP_ASYNC | FEATURE_WP_UNPOPULATED };
    struct uffdio_register reg = { .range = { cg_arena.base, cg_arena.end - cg_arena.base },
                                   .mode = UFFDIO_REGISTER_MODE_WP };
    struct stat st;
    if (raw < 0 || cg_sys_ioctl(raw, UFFDIO_API, &api) != 0 || !(api.features & FEATURE_WP_ASYNC)
        || cg_sys_ioctl(raw, UFFDIO_REGISTER, &reg) != 0 || cg_sys_fstat(raw, &st) != 0) {
        if (raw >= 0) cg_sys_close(raw);
        atomic_store(&state, -1);
        errno = saved;
        return -1;
    }
    fd = fcntl(raw, F_DUPFD_CLOEXEC, 900);
    if (fd < 0) fd = raw;
    else cg_sys_close(raw);
    atomic_store(&uffd_ino, (uint64_t)st.st_ino);
    int expected = -1;
    if (!atomic_compare_exchange_strong(&uffd, &expected, fd)) { /* another thread won */
        cg_sys_close(fd);
        fd = expected;
    }
    atomic_store(&state, 1);
    errno = saved;
    return fd;
}

/* Start recording writes to [lo, hi) (page-aligned): false when the kernel
 * cannot, and the caller must count without it. */
bool cg_track_arm(uintptr_t lo, uintptr_t hi)
{
    if (lo >= hi) return true;
    int fd = tracker();
    if (fd < 0) return false;
    int saved = errno;
    struct uffdio_writeprotect wp = { .range = { lo, hi - lo }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
    bool ok = cg_sys_ioctl(fd, UFFDIO_WRITEPROTECT, &wp) == 0;
    if (!ok) atomic_store(&state, -1); /* a page unarmed would read as written: trust none */
    errno = saved;
    return ok;
}

/* Is write tracking working in this process? */
bool cg_track_armed(void)
{
    return atomic_load(&state) > 0 && tracker() >= 0;
}

/* Call fn for each page of [lo, hi) written since it was armed. 0, or -1
 * when the record cannot be read. */
int cg_track_scan(uintptr_t lo, uintptr_t hi, void (*fn)(uintptr_t page, void *arg), void *arg)
{
    if (lo >= hi) return 0;
    if (!cg_track_armed()) return -1;
    int pm = cg_pagemap_fd();
    if (pm < 0) return -1;
    int saved = errno;
    cg_scan_range_t regions[32];
    for (uintptr_t at = lo; at < hi;) {
        cg_scan_arg_t q = { .size = sizeof q, .start = at, .end = hi, .vec = (uintptr_t)regions,
                         .vec_len = sizeof regions / sizeof regions[0], .category_mask = CG_PAGE_IS_WRITTEN,
                         .return_mask = CG_PAGE_IS_WRITTEN };
        int n = cg_sys_ioctl(pm, CG_PAGEMAP_SCAN, &q);
        if (n < 0) {
            errno = saved;
            return -1;
        }
        for (int i = 0; i < n; i++)
            for (uintptr_t p = regions[i].start; p < regions[i].end; p += CG_PAGE) fn(p, arg);
        if (q.walk_end <= at || n < (int)(sizeof regions / sizeof regions[0])) break;
        at = q.walk_end;
    }
    errno = saved;
    return 0;
}

/* [lo, hi) of the arena was mapped anew (pages moved there, or a fresh
 * mapping in their place): the kernel dropped its registration, which is
 * made again when this process has a record of writes going. */
void cg_track_remapped(uintptr_t lo, uintptr_t hi)
{
    int fd = atomic_load(&uffd);
    if (fd < 0 || atomic_load(&state) <= 0 || !is_ours(fd) || lo >= hi) return;
    int saved = errno;
    struct uffdio_register reg = { .range = { lo, hi - lo }, .mode = UFFDIO_REGISTER_MODE_WP };
    if (cg_sys_ioctl(fd, UFFDIO_REGISTER, &reg) != 0) atomic_store(&state, -1); /* pages unregistered: trust none */
    errno = saved;
}

/* In a forked child: the inherited descriptor belongs to the parent's
 * address space; the child makes its own when it needs one. */
void cg_track_child(void)
{
    int fd = atomic_exchange(&uffd, -1);
    if (fd >= 0 && is_ours(fd)) cg_sys_close(fd);
    atomic_store(&state, 0);
}
