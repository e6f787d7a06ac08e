/* sys.h: the system calls cowguard makes for itself.
 *
 * cowguard exports read, pread, fstat, readlink, _exit and others so that it
 * sees the program's calls. A call from inside the library to one of those
 * names would go through its own PLT and land in its own wrapper (with its
 * thawing, its counting and its errno traffic). So cowguard's own I/O goes
 * straight to the kernel through these; tests/integration/own_calls.sh
 * checks the library's relocations for stray calls. Each keeps errno as the
 * raw call leaves it: callers on user-facing paths save and restore it. */
#ifndef CG_SYS_H
#define CG_SYS_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline int cg_sys_open(const char *path, int flags)
{
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
}

static inline int cg_sys_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

static inline ssize_t cg_sys_read(int fd, void *buf, size_t n)
{
    return syscall(SYS_read, fd, buf, n);
}

static inline ssize_t cg_sys_pread(int fd, void *buf, size_t n, off_t off)
{
    return syscall(SYS_pread64, fd, buf, n, off);
}

static inline int cg_sys_fstat(int fd, struct stat *st)
{
    return (int)syscall(SYS_fstat, fd, st);
}

static inline int cg_sys_stat(const char *path, struct stat *st)
{
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

static inline int cg_sys_lstat(const char *path, struct stat *st)
{
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

static inline ssize_t cg_sys_readlink(const char *path, char *buf, size_t n)
{
    return syscall(SYS_readlinkat, AT_FDCWD, path, buf, n);
}

static inline int cg_sys_mprotect(void *addr, size_t len, int prot)
{
    return (int)syscall(SYS_mprotect, addr, len, prot);
}

/* ioctl and uname are cowguard's exported wrappers too (interpose/fill.c):
 * its own calls go to the kernel. */
static inline int cg_sys_ioctl(int fd, unsigned long request, void *arg)
{
    return (int)syscall(SYS_ioctl, fd, request, arg);
}

struct utsname;
static inline int cg_sys_uname(struct utsname *u)
{
    return (int)syscall(SYS_uname, u);
}

static inline pid_t cg_sys_getpid(void)
{
    return (pid_t)syscall(SYS_getpid);
}

static inline pid_t cg_sys_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static inline void __attribute__((noreturn)) cg_sys_exit_group(int code)
{
    for (;;) syscall(SYS_exit_group, code);
}

#endif /* CG_SYS_H */
