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

static void *must(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        /* Without the next malloc nothing can work; say so and stop. */
        static const char msg[] = "cowguard: cannot find the next definition of ";
        cg_write_all(2, msg, sizeof msg - 1);
        cg_write_all(2, name, strlen(name));
        cg_write_all(2, "\n", 1);
        _exit(127);
    }
    return f;
}

void cg_next_resolve(void)
{
    cg_next.malloc = must("malloc");
    cg_next.free = must("free");
    cg_next.calloc = must("calloc");
    cg_next.realloc = must("realloc");
    cg_next.posix_memalign = must("posix_memalign");
    cg_next.fork = must("fork");
    cg_next.sigaction = must("sigaction");
    cg_next._exit = must("_exit");
    cg_next.wait = must("wait");
    cg_next.waitpid = must("waitpid");
    cg_next.wait3 = must("wait3");
    cg_next.wait4 = must("wait4");
    cg_next.waitid = must("waitid");
    cg_next.read = must("read");
    cg_next.pread = must("pread");
    cg_next.pread64 = must("pread64");
    cg_next.readv = must("readv");
    cg_next.preadv = must("preadv");
    cg_next.preadv64 = must("preadv64");
    cg_next.preadv2 = must("preadv2");
    cg_next.preadv64v2 = must("preadv64v2");
    cg_next.recv = must("recv");
    cg_next.recvfrom = must("recvfrom");
    cg_next.recvmsg = must("recvmsg");
    cg_next.recvmmsg = must("recvmmsg");
    cg_next.sigprocmask = must("sigprocmask");
    cg_next.pthread_sigmask = must("pthread_sigmask");
    cg_next.sigsuspend = must("sigsuspend");
    cg_next.pselect = must("pselect");
    cg_next.ppoll = must("ppoll");
    cg_next.epoll_pwait = must("epoll_pwait");
    cg_next.mprotect = must("mprotect");
    cg_next.epoll_wait = must("epoll_wait");
    cg_next.poll = must("poll");
    cg_next.select = must("select");
    cg_next.accept = must("accept");
    cg_next.accept4 = must("accept4");
    cg_next.getsockname = must("getsockname");
    cg_next.getpeername = must("getpeername");
    cg_next.getsockopt = must("getsockopt");
    cg_next.pipe = must("pipe");
    cg_next.pipe2 = must("pipe2");
    cg_next.socketpair = must("socketpair");
    cg_next.stat = must("stat");
    cg_next.fstat = must("fstat");
    cg_next.lstat = must("lstat");
    cg_next.fstatat = must("fstatat");
    cg_next.readlink = must("readlink");
    cg_next.getrandom = must("getrandom");
    /* Not every allocator has these; the wrappers fall back when absent. */
    cg_next.reallocarray = dlsym(RTLD_NEXT, "reallocarray");
    cg_next.aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    cg_next.memalign = dlsym(RTLD_NEXT, "memalign");
    cg_next.valloc = dlsym(RTLD_NEXT, "valloc");
    cg_next.pvalloc = dlsym(RTLD_NEXT, "pvalloc");
    cg_next.malloc_usable_size = dlsym(RTLD_NEXT, "malloc_usable_size");
}
