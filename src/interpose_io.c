/* interpose_io.c: the exported read family. The kernel writes these calls'
 * buffers itself; a frozen page there makes the call fail with EFAULT
 * instead of faulting, so the destination's frozen pages are thawed first
 * (and counted as trapped writes). Writes that reach the kernel another way
 * are listed in docs/limitations.md. */
#include <sys/socket.h>
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
