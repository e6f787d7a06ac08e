/* kernel.h: what the kernel says about this process's memory, for the
 * examples and tests: Private_Dirty and Pss from /proc/self/smaps_rollup,
 * and per page, from /proc/self/pagemap, whether it is present and whether
 * it is mapped exclusively (bit 56: no other process shares it, so it was
 * copied or never shared). Readable without root. */
#ifndef CG_EXAMPLE_KERNEL_H
#define CG_EXAMPLE_KERNEL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PM_PRESENT (1ULL << 63)
#define PM_EXCLUSIVE (1ULL << 56)

/* A field of /proc/self/smaps_rollup in kB, or -1. */
static inline long kernel_rollup_kb(const char *field)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = atol(line + n + 1);
            break;
        }
    fclose(f);
    return kb;
}

/* The pagemap entry of the page holding addr, or 0 on error. */
static inline uint64_t kernel_pagemap(const void *addr)
{
    static int fd = -1;
    static pid_t fd_pid;
    if (fd < 0 || fd_pid != getpid()) { /* a forked child opens its own */
        if (fd >= 0) close(fd);
        fd = open("/proc/self/pagemap", O_RDONLY);
        fd_pid = getpid();
    }
    uint64_t e = 0;
    off_t off = (off_t)((uintptr_t)addr / (uintptr_t)sysconf(_SC_PAGESIZE)) * 8;
    if (fd < 0 || pread(fd, &e, sizeof e, off) != (ssize_t)sizeof e) return 0;
    return e;
}

/* 1 when the page holding addr is present and mapped by this process only. */
static inline int kernel_page_exclusive(const void *addr)
{
    uint64_t e = kernel_pagemap(addr);
    return (e & PM_PRESENT) && (e & PM_EXCLUSIVE);
}

/* How many pages of [start, start+len) are present and exclusive. */
static inline size_t kernel_exclusive_pages(const void *start, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)start & ~(page - 1), end = (uintptr_t)start + len;
    size_t n = 0;
    for (; a < end; a += page) n += (size_t)kernel_page_exclusive((const void *)a);
    return n;
}

#endif
