/* failshim.c: a preload for tests that makes mmap and mprotect fail on
 * demand, to show cowguard surviving it. Set by the environment:
 *   FAILSHIM_MMAP_MIN=BYTES    mmap of at least BYTES fails with ENOMEM
 *   FAILSHIM_MMAP_SHARED=1     MAP_SHARED mmap fails with ENOMEM
 *   FAILSHIM_MPROTECT=read     mprotect to PROT_READ alone fails with ENOMEM
 *   FAILSHIM_MPROTECT=write    mprotect to read-write fails with ENOMEM
 *   FAILSHIM_SKIP=N            let the first N matching mprotect calls through */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long skip = -1;

static int env_flag(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    static void *(*next)(void *, size_t, int, int, int, off_t);
    if (!next) next = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    const char *min = getenv("FAILSHIM_MMAP_MIN");
    if ((min && len >= strtoull(min, NULL, 10)) || ((flags & MAP_SHARED) && env_flag("FAILSHIM_MMAP_SHARED", "1"))) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return next(addr, len, prot, flags, fd, off);
}

int mprotect(void *addr, size_t len, int prot)
{
    static int (*next)(void *, size_t, int);
    if (!next) next = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "mprotect");
    if (skip < 0) skip = getenv("FAILSHIM_SKIP") ? atol(getenv("FAILSHIM_SKIP")) : 0;
    int match = (prot == PROT_READ && env_flag("FAILSHIM_MPROTECT", "read"))
                || (prot == (PROT_READ | PROT_WRITE) && env_flag("FAILSHIM_MPROTECT", "write"));
    if (match && skip-- <= 0) {
        errno = ENOMEM;
        return -1;
    }
    return next(addr, len, prot);
}
