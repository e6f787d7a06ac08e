/* next.c: the definitions cowguard passes through to, and the bootstrap pool.
 *
 * Unmarked calls go to the *next* definition in lookup order (dlsym
 * RTLD_NEXT), so a program linked with jemalloc or tcmalloc keeps it. dlsym
 * itself allocates (its error buffer, with calloc); while it runs, the
 * wrappers serve those requests from a static pool, whose blocks are never
 * freed. */
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

cg_next_t cg_next;

/* Each pool block is preceded by a 16-byte header holding its size. */
#define BOOT_POOL_SIZE CG_BOOT_POOL_SIZE
static _Alignas(64) char boot_pool[BOOT_POOL_SIZE];
static _Atomic size_t boot_used;

void *cg_boot_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    if (size > BOOT_POOL_SIZE) return NULL;
    size_t old = atomic_load(&boot_used), start, next;
    do {
        start = (old + 16 + align - 1) & ~(align - 1);
        next = start + size;
        if (next > BOOT_POOL_SIZE) return NULL;
    } while (!atomic_compare_exchange_weak(&boot_used, &old, next));
    memcpy(boot_pool + start - sizeof(size_t), &size, sizeof size);
    return boot_pool + start; /* static storage: already zero */
}

char *const cg_boot_pool = boot_pool;

size_t cg_boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const char *)p - sizeof(size_t), sizeof size);
    return size;
}

/* The malloc family is the one thing cowguard cannot do without: if it is
 * missing, say so and stop. */
static void *must(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        static const char msg[] = "cowguard: cannot find the next definition of ";
        cg_write_all(2, msg, sizeof msg - 1);
        cg_write_all(2, name, strlen(name));
        cg_write_all(2, "\n", 1);
        cg_sys_exit_group(127);
    }
    return f;
}

/* Everything else is optional: a C library may lack a name (glibc before
 * 2.33 has no plain stat, fstat, lstat or fstatat symbols, only the
 * __xstat family), and each wrapper then falls back to the system call or
 * fails the way a missing function would. */
#define WANT(field) (*(void **)&cg_next.field = dlsym(RTLD_NEXT, #field))

void cg_next_resolve(void)
{
    cg_next.malloc = must("malloc");
    cg_next.free = must("free");
    cg_next.calloc = must("calloc");
    cg_next.realloc = must("realloc");
    WANT(posix_memalign);
    WANT(reallocarray);
    WANT(aligned_alloc);
    WANT(memalign);
    WANT(valloc);
    WANT(pvalloc);
    WANT(malloc_usable_size);
    WANT(fork);
    WANT(sigaction);
    WANT(_exit);
    WANT(wait);
    WANT(waitpid);
    WANT(wait3);
    WANT(wait4);
    WANT(waitid);
    WANT(read);
    WANT(pread);
    WANT(pread64);
    WANT(readv);
    WANT(preadv);
    WANT(preadv64);
    WANT(preadv2);
    WANT(preadv64v2);
    WANT(recv);
    WANT(recvfrom);
    WANT(recvmsg);
    WANT(recvmmsg);
    WANT(sigprocmask);
    WANT(pthread_sigmask);
    WANT(sigsuspend);
    WANT(pselect);
    WANT(ppoll);
    WANT(epoll_pwait);
    WANT(mprotect);
    WANT(epoll_wait);
    WANT(poll);
    WANT(select);
    WANT(accept);
    WANT(accept4);
    WANT(getsockname);
    WANT(getpeername);
    WANT(getsockopt);
    WANT(pipe);
    WANT(pipe2);
    WANT(socketpair);
    WANT(stat);
    WANT(fstat);
    WANT(lstat);
    WANT(fstatat);
    WANT(readlink);
    WANT(getrandom);
    WANT(getdents64);
    WANT(statx);
    WANT(readdir);
    WANT(readdir64);
    WANT(readdir_r);
    WANT(readdir64_r);
    WANT(sigaltstack);
    WANT(pthread_attr_setstack);
    WANT(makecontext);
    WANT(dlopen);
    cg_dlopen_next = cg_next.dlopen;
    WANT(daemon);
}

/* A versioned definition (glibc's compatibility symbols are found only so). */
void *cg_next_versioned(const char *name, const char *version)
{
    return dlvsym(RTLD_NEXT, name, version);
}
