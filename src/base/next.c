/* next.c: the definitions cowguard passes through to.
 *
 * Unmarked calls go to the *next* definition in lookup order (dlsym
 * RTLD_NEXT), so a program linked with jemalloc or tcmalloc keeps it. dlsym
 * itself allocates (its error buffer, with calloc); while it runs, the
 * malloc wrappers serve those requests from the bootstrap pool
 * (alloc/boot.c). */
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "sys.h"

/* Until start-up is over, every block handed out is the bootstrap pool's,
 * never freed: glibc before 2.34 frees a failed dlsym's message at the next
 * dlsym, and it must not reach the next free. */
static void free_nothing(void *p)
{
    (void)p;
}

/* externally_visible: interpose/dlopen.c's assembly reads it by name, which
 * a build as one unit (LTO) must not change. */
__attribute__((externally_visible)) cg_next_t cg_next = { .free = free_nothing };

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

cg_free_fn cg_next_resolve(void)
{
    cg_free_fn next_free = (cg_free_fn)must("free");
    cg_next.malloc = must("malloc");
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
    WANT(daemon);
    return next_free;
}

/* A versioned definition (glibc's compatibility symbols are found only so). */
void *cg_next_versioned(const char *name, const char *version)
{
    return dlvsym(RTLD_NEXT, name, version);
}
