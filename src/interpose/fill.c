/* fill.c: the exported calls that fill a structure or buffer of the
 * program's: the working directory, the system's and the process's
 * figures, file system statistics, signal sets, entropy, ioctl's
 * argument. They are seldom called with marked data, but under
 * COWGUARD_WATCH a buffer made before the fork (a global, a field of a
 * structure on the heap) is watched in place, and a watched page makes
 * the call fail with EFAULT instead of faulting: so each keeps its
 * destination writable while it runs, as the read wrappers (io.c) do. */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "interpose.h"

/* A call through the next definition, its destination kept writable; a C
 * library without it fails the way a missing function would. */
#define FILLS(name, failed, buf, n, ...)                                     \
    do {                                                                     \
        NEXT_LAZY(name);                                                     \
        if (!next_) {                                                        \
            errno = ENOSYS;                                                  \
            return failed;                                                   \
        }                                                                    \
        INTO(buf, n, next_(__VA_ARGS__));                                    \
    } while (0)

CG_EXPORT char *getcwd(char *buf, size_t size)
{
    FILLS(getcwd, NULL, buf, buf ? size : 0, buf, size); /* NULL: the C library allocates */
}

CG_EXPORT int uname(struct utsname *u)
{
    FILLS(uname, -1, u, sizeof *u, u);
}

CG_EXPORT int getrusage(int who, struct rusage *u)
{
    FILLS(getrusage, -1, u, sizeof *u, who, u);
}

CG_EXPORT int getrlimit(__rlimit_resource_t resource, struct rlimit *r)
{
    FILLS(getrlimit, -1, r, sizeof *r, resource, r);
}

CG_EXPORT int getrlimit64(__rlimit_resource_t resource, struct rlimit64 *r)
{
    FILLS(getrlimit64, -1, r, sizeof *r, resource, r);
}

CG_EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *set, struct rlimit *old)
{
    FILLS(prlimit, -1, old, old ? sizeof *old : 0, pid, resource, set, old);
}

CG_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *set, struct rlimit64 *old)
{
    FILLS(prlimit64, -1, old, old ? sizeof *old : 0, pid, resource, set, old);
}

CG_EXPORT int sysinfo(struct sysinfo *info)
{
    FILLS(sysinfo, -1, info, sizeof *info, info);
}

/* The file system statistics, under each of their names. */
#define FS_STATS(name, decl, args)                                           \
    CG_EXPORT int name decl                                                  \
    {                                                                        \
        FILLS(name, -1, st, sizeof *st, args);                               \
    }
#define ARGS(...) __VA_ARGS__
FS_STATS(statfs, (const char *path, struct statfs *st), ARGS(path, st))
FS_STATS(fstatfs, (int fd, struct statfs *st), ARGS(fd, st))
FS_STATS(statfs64, (const char *path, struct statfs64 *st), ARGS(path, st))
FS_STATS(fstatfs64, (int fd, struct statfs64 *st), ARGS(fd, st))
FS_STATS(statvfs, (const char *path, struct statvfs *st), ARGS(path, st))
FS_STATS(fstatvfs, (int fd, struct statvfs *st), ARGS(fd, st))
FS_STATS(statvfs64, (const char *path, struct statvfs64 *st), ARGS(path, st))
FS_STATS(fstatvfs64, (int fd, struct statvfs64 *st), ARGS(fd, st))

CG_EXPORT int sigpending(sigset_t *set)
{
    FILLS(sigpending, -1, set, sizeof *set, set);
}

CG_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
    FILLS(sigtimedwait, -1, info, info ? sizeof *info : 0, set, info, timeout);
}

CG_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    FILLS(sigwaitinfo, -1, info, info ? sizeof *info : 0, set, info);
}

CG_EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *mask)
{
    FILLS(sched_getaffinity, -1, mask, size, pid, size, mask);
}

CG_EXPORT int getentropy(void *buf, size_t n)
{
    FILLS(getentropy, -1, buf, n, buf, n);
}

CG_EXPORT clock_t times(struct tms *t)
{
    FILLS(times, (clock_t)-1, t, t ? sizeof *t : 0, t);
}

CG_EXPORT int getitimer(__itimer_which_t which, struct itimerval *value)
{
    FILLS(getitimer, -1, value, sizeof *value, which, value);
}

CG_EXPORT int setitimer(__itimer_which_t which, const struct itimerval *set, struct itimerval *old)
{
    FILLS(setitimer, -1, old, old ? sizeof *old : 0, which, set, old);
}

/* ioctl: the request encodes the size of what it fills when it is one of
 * the newer kind (_IOR, _IOWR); for the older ones (FIONREAD, TCGETS,
 * TIOCGWINSZ) 256 bytes covers the structures they fill. The third
 * argument may be a number rather than a pointer: a number is no address
 * cowguard watches, and nothing is done for it. */
CG_EXPORT int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    size_t n = (_IOC_DIR(request) & _IOC_READ) && _IOC_SIZE(request) ? _IOC_SIZE(request) : 256;
    FILLS(ioctl, -1, arg, arg ? n : 0, fd, request, arg);
}
