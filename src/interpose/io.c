/* io.c: the exported calls whose buffers the kernel writes: the
 * read family, and the calls servers make with buffers on the heap (event
 * arrays, socket addresses, stat structures, pipe descriptors). A frozen
 * page there makes the call fail with EFAULT instead of faulting, so while
 * the call runs its destination is kept writable (freeze/kernel.c): frozen pages
 * are thawed first (and counted as trapped writes), and a fork in another
 * thread meanwhile leaves them writable. Calls left out, and writes that
 * reach the kernel without going through an exported function, are listed
 * in docs/limitations.md. A missing next definition (an older C library)
 * falls back to the system call. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "interpose.h"

/* Copy the program's argument structures without trusting them: a bad
 * pointer must give the call its EFAULT, not crash cowguard. */
static bool peek(void *dst, const void *src, size_t n)
{
    struct iovec local = { dst, n }, remote = { (void *)src, n };
    int saved = errno;
    bool ok = src && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
    errno = saved;
    return ok;
}

/* The iovecs' buffers: the span of those that lie in the arena is kept as
 * one range, and each buffer's own frozen pages are thawed. */
static void keep_iov(cg_keeps_t *k, const struct iovec *iov, int n)
{
    struct iovec v[64];
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    if (!cg_kernel_writes_matter()) return;
    for (int i = 0; i < n; i += 64) {
        int m = n - i < 64 ? n - i : 64;
        if (!peek(v, iov + i, (size_t)m * sizeof *v)) break;
        for (int j = 0; j < m; j++) {
            uintptr_t a = (uintptr_t)v[j].iov_base, b = a + v[j].iov_len;
            if (!v[j].iov_len || b <= cg_arena.base || a >= cg_arena.end) continue;
            if (a < lo) lo = a;
            if (b > hi) hi = b;
        }
    }
    if (lo < hi && k->n < (int)(sizeof k->slot / sizeof k->slot[0])) k->slot[k->n++] = cg_keep_call_register(lo, hi);
    for (int i = 0; i < n; i += 64) {
        int m = n - i < 64 ? n - i : 64;
        if (!peek(v, iov + i, (size_t)m * sizeof *v)) break;
        for (int j = 0; j < m; j++) cg_before_kernel_write((uintptr_t)v[j].iov_base, v[j].iov_len);
    }
}

static void keep_msg(cg_keeps_t *k, const struct msghdr *msg)
{
    struct msghdr m;
    if (!cg_kernel_writes_matter() || !peek(&m, msg, sizeof m)) return;
    cg_keeps_add(k, msg, sizeof m); /* lengths and flags come back */
    cg_keeps_add(k, m.msg_name, m.msg_namelen);
    cg_keeps_add(k, m.msg_control, m.msg_controllen);
    keep_iov(k, m.msg_iov, (int)m.msg_iovlen);
}

CG_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    INTO(buf, n, CG_NEXT(read) ? cg_next.read(fd, buf, n) : syscall(SYS_read, fd, buf, n));
}

CG_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    INTO(buf, n, CG_NEXT(pread) ? cg_next.pread(fd, buf, n, off) : syscall(SYS_pread64, fd, buf, n, off));
}

CG_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    INTO(buf, n, CG_NEXT(pread64) ? cg_next.pread64(fd, buf, n, off) : syscall(SYS_pread64, fd, buf, n, off));
}

#define IOV_CALL(call)                                                       \
    do {                                                                     \
        cg_keeps_t k_ = { .n = 0 };                                          \
        keep_iov(&k_, iov, n);                                               \
        ssize_t r_ = (call);                                                 \
        cg_keeps_end(&k_);                                                   \
        return r_;                                                           \
    } while (0)

CG_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    IOV_CALL(CG_NEXT(readv) ? cg_next.readv(fd, iov, n) : syscall(SYS_readv, fd, iov, n));
}

CG_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    IOV_CALL(CG_NEXT(preadv) ? cg_next.preadv(fd, iov, n, off) : syscall(SYS_preadv, fd, iov, n, off, 0));
}

CG_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off_t off)
{
    IOV_CALL(CG_NEXT(preadv64) ? cg_next.preadv64(fd, iov, n, off) : syscall(SYS_preadv, fd, iov, n, off, 0));
}

CG_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
    IOV_CALL(CG_NEXT(preadv2) ? cg_next.preadv2(fd, iov, n, off, flags)
                              : syscall(SYS_preadv2, fd, iov, n, off, 0, flags));
}

CG_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
    IOV_CALL(CG_NEXT(preadv64v2) ? cg_next.preadv64v2(fd, iov, n, off, flags)
                                 : syscall(SYS_preadv2, fd, iov, n, off, 0, flags));
}

/* A socket address and its length, both written back. */
static void keep_sockaddr(cg_keeps_t *k, struct sockaddr *addr, socklen_t *len)
{
    socklen_t n;
    if (!cg_kernel_writes_matter()) return;
    if (addr && len && peek(&n, len, sizeof n)) cg_keeps_add(k, addr, n);
    cg_keeps_add(k, len, len ? sizeof *len : 0);
}

#define KEPT(setup, call)                                                    \
    do {                                                                     \
        cg_keeps_t k_ = { .n = 0 };                                          \
        setup;                                                               \
        __typeof__(call) r_ = (call);                                        \
        cg_keeps_end(&k_);                                                   \
        return r_;                                                           \
    } while (0)

CG_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    INTO(buf, n, CG_NEXT(recv) ? cg_next.recv(fd, buf, n, flags) : syscall(SYS_recvfrom, fd, buf, n, flags, 0, 0));
}

CG_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
    KEPT((cg_keeps_add(&k_, buf, n), keep_sockaddr(&k_, from, fromlen)),
         CG_NEXT(recvfrom) ? cg_next.recvfrom(fd, buf, n, flags, from, fromlen)
                           : syscall(SYS_recvfrom, fd, buf, n, flags, from, fromlen));
}

CG_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    KEPT(keep_msg(&k_, msg), CG_NEXT(recvmsg) ? cg_next.recvmsg(fd, msg, flags) : syscall(SYS_recvmsg, fd, msg, flags));
}

CG_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags, struct timespec *timeout)
{
    cg_keeps_t k = { .n = 0 };
    if (cg_kernel_writes_matter() && n) {
        cg_keeps_add(&k, vec, n * sizeof *vec); /* headers and lengths come back */
        for (unsigned int i = 0; i < n && i < 64; i++) keep_msg(&k, &vec[i].msg_hdr);
    }
    int r = CG_NEXT(recvmmsg) ? cg_next.recvmmsg(fd, vec, n, flags, timeout)
                              : (int)syscall(SYS_recvmmsg, fd, vec, n, flags, timeout);
    cg_keeps_end(&k);
    return r;
}

/* ---- other calls that write the program's memory from the kernel ---------- */

CG_EXPORT int epoll_wait(int fd, struct epoll_event *ev, int n, int timeout)
{
    INTO(ev, n > 0 ? (size_t)n * sizeof *ev : 0,
         CG_NEXT(epoll_wait) ? cg_next.epoll_wait(fd, ev, n, timeout)
                             : (int)syscall(SYS_epoll_pwait, fd, ev, n, timeout, NULL, (size_t)8));
}

CG_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    INTO(fds, n * sizeof *fds, CG_NEXT(poll) ? cg_next.poll(fds, n, timeout) : (errno = ENOSYS, -1));
}

CG_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
    KEPT((cg_keeps_add(&k_, r, r ? sizeof *r : 0), cg_keeps_add(&k_, w, w ? sizeof *w : 0),
          cg_keeps_add(&k_, e, e ? sizeof *e : 0), cg_keeps_add(&k_, t, t ? sizeof *t : 0)),
         CG_NEXT(select) ? cg_next.select(n, r, w, e, t) : (errno = ENOSYS, -1));
}

CG_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    KEPT(keep_sockaddr(&k_, addr, len),
         CG_NEXT(accept) ? cg_next.accept(fd, addr, len) : (int)syscall(SYS_accept4, fd, addr, len, 0));
}

CG_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    KEPT(keep_sockaddr(&k_, addr, len),
         CG_NEXT(accept4) ? cg_next.accept4(fd, addr, len, flags) : (int)syscall(SYS_accept4, fd, addr, len, flags));
}

CG_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    KEPT(keep_sockaddr(&k_, addr, len),
         CG_NEXT(getsockname) ? cg_next.getsockname(fd, addr, len) : (int)syscall(SYS_getsockname, fd, addr, len));
}

CG_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    KEPT(keep_sockaddr(&k_, addr, len),
         CG_NEXT(getpeername) ? cg_next.getpeername(fd, addr, len) : (int)syscall(SYS_getpeername, fd, addr, len));
}

CG_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    KEPT(keep_sockaddr(&k_, val, len),
         CG_NEXT(getsockopt) ? cg_next.getsockopt(fd, level, name, val, len)
                             : (int)syscall(SYS_getsockopt, fd, level, name, val, len));
}

CG_EXPORT int pipe(int fds[2])
{
    if (cg_backtrace_owns_pipe()) return cg_backtrace_pipe(fds, 0); /* libunwind's, in cowguard's unwind */
    INTO(fds, 2 * sizeof *fds, CG_NEXT(pipe) ? cg_next.pipe(fds) : (int)syscall(SYS_pipe2, fds, 0));
}

CG_EXPORT int pipe2(int fds[2], int flags)
{
    if (cg_backtrace_owns_pipe()) return cg_backtrace_pipe(fds, flags);
    INTO(fds, 2 * sizeof *fds, CG_NEXT(pipe2) ? cg_next.pipe2(fds, flags) : (int)syscall(SYS_pipe2, fds, flags));
}

CG_EXPORT int socketpair(int domain, int type, int protocol, int fds[2])
{
    INTO(fds, 2 * sizeof *fds,
         CG_NEXT(socketpair) ? cg_next.socketpair(domain, type, protocol, fds)
                             : (int)syscall(SYS_socketpair, domain, type, protocol, fds));
}

/* The stat family. glibc before 2.33 has no stat, fstat, lstat or fstatat
 * symbols (its header inlines them into __xstat and friends, wrapped
 * below); there the next definitions are missing and the system call
 * stands in. */
CG_EXPORT int stat(const char *path, struct stat *st)
{
    INTO(st, sizeof *st,
         CG_NEXT(stat) ? cg_next.stat(path, st) : (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0));
}

CG_EXPORT int fstat(int fd, struct stat *st)
{
    INTO(st, sizeof *st, CG_NEXT(fstat) ? cg_next.fstat(fd, st) : (int)syscall(SYS_fstat, fd, st));
}

CG_EXPORT int lstat(const char *path, struct stat *st)
{
    INTO(st, sizeof *st,
         CG_NEXT(lstat) ? cg_next.lstat(path, st)
                        : (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW));
}

CG_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    INTO(st, sizeof *st,
         CG_NEXT(fstatat) ? cg_next.fstatat(dirfd, path, st, flags)
                          : (int)syscall(SYS_newfstatat, dirfd, path, st, flags));
}

/* The 64-bit names, which programs built with _FILE_OFFSET_BITS=64 call
 * (Python, git, nginx, redis): the same structure on 64-bit machines,
 * separate symbols from glibc 2.33 on. */
#define STAT64(name, decl, args, fallback)                                   \
    CG_EXPORT int name decl                                                  \
    {                                                                        \
        NEXT_LAZY(name);                                                     \
        INTO(st, sizeof *st, next_ ? next_ args : (int)(fallback));          \
    }
STAT64(stat64, (const char *path, struct stat64 *st), (path, st), syscall(SYS_newfstatat, AT_FDCWD, path, st, 0))
STAT64(fstat64, (int fd, struct stat64 *st), (fd, st), syscall(SYS_fstat, fd, st))
STAT64(lstat64, (const char *path, struct stat64 *st), (path, st),
       syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW))
STAT64(fstatat64, (int dirfd, const char *path, struct stat64 *st, int flags), (dirfd, path, st, flags),
       syscall(SYS_newfstatat, dirfd, path, st, flags))

/* Fortified reads (_FORTIFY_SOURCE): the same calls, with the buffer's size. */
CG_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    NEXT_LAZY(__read_chk);
    INTO(buf, n, next_ ? next_(fd, buf, n, buflen) : syscall(SYS_read, fd, buf, n));
}

CG_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    NEXT_LAZY(__pread_chk);
    INTO(buf, n, next_ ? next_(fd, buf, n, off, buflen) : syscall(SYS_pread64, fd, buf, n, off));
}

CG_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    NEXT_LAZY(__pread64_chk);
    INTO(buf, n, next_ ? next_(fd, buf, n, off, buflen) : syscall(SYS_pread64, fd, buf, n, off));
}

CG_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    NEXT_LAZY(readlinkat);
    INTO(buf, n, next_ ? next_(dirfd, path, buf, n) : syscall(SYS_readlinkat, dirfd, path, buf, n));
}

/* glibc's versioned entry points behind stat() in programs built against
 * glibc before 2.33, still called by them on every later glibc. Defined
 * under their names with asm labels: older headers declare some of them
 * with struct stat64, the same layout on 64-bit machines. */
#if defined(__x86_64__)
#define GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define GLIBC_BASE "GLIBC_2.17"
#else
#define GLIBC_BASE NULL
#endif
#define XSTAT(name, decl, args)                                              \
    int cg_##name decl __asm__(#name);                                       \
    CG_EXPORT int cg_##name decl                                             \
    {                                                                        \
        static int (*next) decl;                                             \
        if (!next && GLIBC_BASE) next = cg_next_versioned(#name, GLIBC_BASE); \
        if (!next) {                                                         \
            errno = ENOSYS;                                                  \
            return -1;                                                       \
        }                                                                    \
        INTO(st, sizeof(struct stat), next args);                            \
    }
XSTAT(__xstat, (int ver, const char *path, void *st), (ver, path, st))
XSTAT(__lxstat, (int ver, const char *path, void *st), (ver, path, st))
XSTAT(__fxstat, (int ver, int fd, void *st), (ver, fd, st))
XSTAT(__fxstatat, (int ver, int dirfd, const char *path, void *st, int flags), (ver, dirfd, path, st, flags))
XSTAT(__xstat64, (int ver, const char *path, void *st), (ver, path, st))
XSTAT(__lxstat64, (int ver, const char *path, void *st), (ver, path, st))
XSTAT(__fxstat64, (int ver, int fd, void *st), (ver, fd, st))
XSTAT(__fxstatat64, (int ver, int dirfd, const char *path, void *st, int flags), (ver, dirfd, path, st, flags))

CG_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
    INTO(buf, n,
         CG_NEXT(readlink) ? cg_next.readlink(path, buf, n) : syscall(SYS_readlinkat, AT_FDCWD, path, buf, n));
}

CG_EXPORT ssize_t getrandom(void *buf, size_t n, unsigned int flags)
{
    INTO(buf, n, CG_NEXT(getrandom) ? cg_next.getrandom(buf, n, flags) : syscall(SYS_getrandom, buf, n, flags));
}

CG_EXPORT ssize_t getdents64(int fd, void *buf, size_t n)
{
    INTO(buf, n, CG_NEXT(getdents64) ? cg_next.getdents64(fd, buf, n) : syscall(SYS_getdents64, fd, buf, n));
}

CG_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *st)
{
    INTO(st, sizeof *st,
         CG_NEXT(statx) ? cg_next.statx(dirfd, path, flags, mask, st)
                        : (int)syscall(SYS_statx, dirfd, path, flags, mask, st));
}

/* readdir fills the directory stream's buffer, which lives in the DIR
 * block itself, with getdents64 from inside the C library: the whole block
 * is kept writable while it runs. */
CG_EXPORT struct dirent *readdir(DIR *dir)
{
    cg_keeps_t k = { .n = 0 };
    cg_keep_block(&k, dir);
    struct dirent *r = CG_NEXT(readdir) ? cg_next.readdir(dir) : (errno = ENOSYS, NULL);
    cg_keeps_end(&k);
    return r;
}

CG_EXPORT struct dirent64 *readdir64(DIR *dir)
{
    cg_keeps_t k = { .n = 0 };
    cg_keep_block(&k, dir);
    struct dirent64 *r = CG_NEXT(readdir64) ? cg_next.readdir64(dir) : (errno = ENOSYS, NULL);
    cg_keeps_end(&k);
    return r;
}

CG_EXPORT int readdir_r(DIR *dir, struct dirent *entry, struct dirent **result)
{
    cg_keeps_t k = { .n = 0 };
    cg_keep_block(&k, dir);
    int r = CG_NEXT(readdir_r) ? cg_next.readdir_r(dir, entry, result) : ENOSYS;
    cg_keeps_end(&k);
    return r;
}

CG_EXPORT int readdir64_r(DIR *dir, struct dirent64 *entry, struct dirent64 **result)
{
    cg_keeps_t k = { .n = 0 };
    cg_keep_block(&k, dir);
    int r = CG_NEXT(readdir64_r) ? cg_next.readdir64_r(dir, entry, result) : ENOSYS;
    cg_keeps_end(&k);
    return r;
}
