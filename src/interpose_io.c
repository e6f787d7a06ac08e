/* interpose_io.c: the exported calls whose buffers the kernel writes: the
 * read family, and the calls servers make with buffers on the heap (event
 * arrays, socket addresses, stat structures, pipe descriptors). A frozen
 * page there makes the call fail with EFAULT instead of faulting, so the
 * destination's frozen pages are thawed first (and counted as trapped
 * writes). Calls left out, and writes that reach the kernel without going
 * through an exported function, are listed in docs/limitations.md. */
#include <poll.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* The next definition of fn, resolving cowguard first if need be. */
#define NEXT(fn) (cg_likely(cg_is_ready()) ? cg_next.fn : (cg_init(), cg_next.fn))

/* Copy the program's argument structures without trusting them: a bad
 * pointer must give the call its EFAULT, not crash cowguard. */
static bool peek(void *dst, const void *src, size_t n)
{
    struct iovec local = { dst, n }, remote = { (void *)src, n };
    return src && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

static bool arena_frozen(void)
{
    return __atomic_load_n(&cg_arena.frozen_end, __ATOMIC_RELAXED) > cg_arena.base;
}

static void before_iov(const struct iovec *iov, int n)
{
    struct iovec v[64];
    if (!arena_frozen()) return;
    for (int i = 0; i < n; i += 64) {
        int k = n - i < 64 ? n - i : 64;
        if (!peek(v, iov + i, (size_t)k * sizeof *v)) return;
        for (int j = 0; j < k; j++) cg_before_kernel_write((uintptr_t)v[j].iov_base, v[j].iov_len);
    }
}

static void before_msg(const struct msghdr *msg)
{
    struct msghdr m;
    if (!arena_frozen() || !peek(&m, msg, sizeof m)) return;
    cg_before_kernel_write((uintptr_t)msg, sizeof m); /* lengths and flags come back */
    cg_before_kernel_write((uintptr_t)m.msg_name, m.msg_namelen);
    cg_before_kernel_write((uintptr_t)m.msg_control, m.msg_controllen);
    before_iov(m.msg_iov, (int)m.msg_iovlen);
}

CG_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    cg_before_kernel_write((uintptr_t)(buf), n);
    ssize_t (*next)(int, void *, size_t) = NEXT(read);
    return next ? next(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

CG_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    cg_before_kernel_write((uintptr_t)(buf), n);
    return NEXT(pread)(fd, buf, n, off);
}

CG_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    cg_before_kernel_write((uintptr_t)(buf), n);
    return NEXT(pread64)(fd, buf, n, off);
}

CG_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    before_iov(iov, n);
    return NEXT(readv)(fd, iov, n);
}

CG_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    before_iov(iov, n);
    return NEXT(preadv)(fd, iov, n, off);
}

CG_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off_t off)
{
    before_iov(iov, n);
    return NEXT(preadv64)(fd, iov, n, off);
}

CG_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
    before_iov(iov, n);
    return NEXT(preadv2)(fd, iov, n, off, flags);
}

CG_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
    before_iov(iov, n);
    return NEXT(preadv64v2)(fd, iov, n, off, flags);
}

CG_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    cg_before_kernel_write((uintptr_t)(buf), n);
    return NEXT(recv)(fd, buf, n, flags);
}

CG_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
    cg_before_kernel_write((uintptr_t)(buf), n);
    socklen_t len;
    if (from && arena_frozen() && peek(&len, fromlen, sizeof len)) cg_before_kernel_write((uintptr_t)from, len);
    cg_before_kernel_write((uintptr_t)(fromlen), sizeof *fromlen);
    return NEXT(recvfrom)(fd, buf, n, flags, from, fromlen);
}

CG_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    before_msg(msg);
    return NEXT(recvmsg)(fd, msg, flags);
}

CG_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags, struct timespec *timeout)
{
    for (unsigned int i = 0; i < n && arena_frozen(); i++) {
        before_msg(&vec[i].msg_hdr);
        cg_before_kernel_write((uintptr_t)&vec[i].msg_len, sizeof vec[i].msg_len);
    }
    return NEXT(recvmmsg)(fd, vec, n, flags, timeout);
}

/* ---- other calls that write the program's memory from the kernel ---------- */

CG_EXPORT int epoll_wait(int fd, struct epoll_event *ev, int n, int timeout)
{
    if (n > 0) cg_before_kernel_write((uintptr_t)ev, (size_t)n * sizeof *ev);
    return NEXT(epoll_wait)(fd, ev, n, timeout);
}

CG_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    cg_before_kernel_write((uintptr_t)fds, n * sizeof *fds);
    return NEXT(poll)(fds, n, timeout);
}

CG_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
    cg_before_kernel_write((uintptr_t)r, r ? sizeof *r : 0);
    cg_before_kernel_write((uintptr_t)w, w ? sizeof *w : 0);
    cg_before_kernel_write((uintptr_t)e, e ? sizeof *e : 0);
    cg_before_kernel_write((uintptr_t)t, t ? sizeof *t : 0);
    return NEXT(select)(n, r, w, e, t);
}

static void before_sockaddr(struct sockaddr *addr, socklen_t *len)
{
    socklen_t n;
    if (addr && len && arena_frozen() && peek(&n, len, sizeof n)) cg_before_kernel_write((uintptr_t)addr, n);
    cg_before_kernel_write((uintptr_t)len, len ? sizeof *len : 0);
}

CG_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    before_sockaddr(addr, len);
    return NEXT(accept)(fd, addr, len);
}

CG_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    before_sockaddr(addr, len);
    return NEXT(accept4)(fd, addr, len, flags);
}

CG_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    before_sockaddr(addr, len);
    return NEXT(getsockname)(fd, addr, len);
}

CG_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    before_sockaddr(addr, len);
    return NEXT(getpeername)(fd, addr, len);
}

CG_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    before_sockaddr(val, len);
    return NEXT(getsockopt)(fd, level, name, val, len);
}

CG_EXPORT int pipe(int fds[2])
{
    cg_before_kernel_write((uintptr_t)fds, 2 * sizeof *fds);
    return NEXT(pipe)(fds);
}

CG_EXPORT int pipe2(int fds[2], int flags)
{
    cg_before_kernel_write((uintptr_t)fds, 2 * sizeof *fds);
    return NEXT(pipe2)(fds, flags);
}

CG_EXPORT int socketpair(int domain, int type, int protocol, int fds[2])
{
    cg_before_kernel_write((uintptr_t)fds, 2 * sizeof *fds);
    return NEXT(socketpair)(domain, type, protocol, fds);
}

CG_EXPORT int stat(const char *path, struct stat *st)
{
    cg_before_kernel_write((uintptr_t)st, sizeof *st);
    return NEXT(stat)(path, st);
}

CG_EXPORT int fstat(int fd, struct stat *st)
{
    cg_before_kernel_write((uintptr_t)st, sizeof *st);
    return NEXT(fstat)(fd, st);
}

CG_EXPORT int lstat(const char *path, struct stat *st)
{
    cg_before_kernel_write((uintptr_t)st, sizeof *st);
    return NEXT(lstat)(path, st);
}

CG_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    cg_before_kernel_write((uintptr_t)st, sizeof *st);
    return NEXT(fstatat)(dirfd, path, st, flags);
}

CG_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
    cg_before_kernel_write((uintptr_t)buf, n);
    return NEXT(readlink)(path, buf, n);
}

CG_EXPORT ssize_t getrandom(void *buf, size_t n, unsigned int flags)
{
    cg_before_kernel_write((uintptr_t)buf, n);
    return NEXT(getrandom)(buf, n, flags);
}
