/* destination.c: where a report goes (COWGUARD_REPORT).
 *
 * stderr, off, a descriptor the process has (/dev/stdout, /dev/fd/N), a
 * device or FIFO written in place, a directory (a file of its own inside),
 * or a file name in which %p stands for the pid. A report file never
 * replaces an existing name (a planted symlink, another process's report)
 * and never appears half written. Nothing here allocates. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
#include "sys.h"

static const char *destination(void)
{
    return (const char *)(uintptr_t)cg_opt.report;
}

/* Expand %p (pid) and %% in the COWGUARD_REPORT template. */
static bool expand(const char *tmpl, char *out, size_t size)
{
    size_t n = 0;
    for (const char *t = tmpl; *t; t++) {
        char num[24];
        const char *piece = t;
        size_t len = 1;
        if (t[0] == '%' && t[1] == 'p') {
            len = cg_fmt(num, sizeof num, "%d", (int)getpid());
            piece = num;
            t++;
        } else if (t[0] == '%' && t[1] == '%') {
            t++;
        }
        if (n + len >= size) return false;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return true;
}

#define PARTIAL ".partial"

static int stderr_fd = 2; /* a daemon's own stderr goes to /dev/null: see cg_report_keep_stderr */

/* daemon() is about to point the reporting process's stderr at /dev/null:
 * a report meant for stderr keeps the one the program started with. */
void cg_report_keep_stderr(void)
{
    if (strcmp(destination(), "stderr") != 0 || !cg_board_is_root()) return;
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 900);
    if (fd >= 0) stderr_fd = fd;
}

/* /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N name descriptors
 * this process already has: -1 for any other path. */
static int named_fd(const char *path)
{
    if (strcmp(path, "/dev/stdout") == 0) return 1;
    if (strcmp(path, "/dev/stderr") == 0) return stderr_fd;
    const char *n = strncmp(path, "/dev/fd/", 8) == 0 ? path + 8
                    : strncmp(path, "/proc/self/fd/", 14) == 0 ? path + 14 : NULL;
    if (!n || !*n) return -1;
    int fd = 0;
    for (; *n >= '0' && *n <= '9' && fd < 1000000; n++) fd = fd * 10 + (*n - '0');
    return *n ? -1 : fd == 2 ? stderr_fd : fd;
}

/* A device, FIFO or socket that exists: written in place. Opened without
 * blocking (a FIFO with no reader is an error, not a hang), then blocking
 * again for the writes. -1 when it is not one. */
static int open_special(const char *path)
{
    struct stat st;
    if (cg_sys_stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return -1;
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -2;
    if (cg_sys_fstat(fd, &st) != 0 || S_ISREG(st.st_mode)) { /* replaced meanwhile */
        cg_sys_close(fd);
        return -2;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* The directory part of path, for O_TMPFILE. */
static void dir_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash) cg_fmt(out, size, ".");
    else if (slash == path) cg_fmt(out, size, "/");
    else cg_fmt(out, size, "%.*s", (int)(slash - path), path);
}

/* Say once for the tree why the report went to stderr (or nowhere). */
static void warn_once(const char *fmt, const char *path, int err)
{
    static _Atomic int said;
    _Atomic uint32_t *tree = cg_board ? &cg_board->dest_warned : NULL;
    if (atomic_exchange(&said, 1) || (tree && atomic_exchange(tree, 1))) return;
    cg_message(fmt, path, cg_strerror(err));
}

/* Open the destination of a report. A file report is written into an
 * unnamed file (O_TMPFILE) in the destination's directory and given its
 * name only when complete, so nobody reads a half-written report and a
 * process killed meanwhile leaves nothing behind; where the file system
 * has no O_TMPFILE, under path + ".partial", removed if it cannot be
 * published. A name that exists already is never replaced. When the file
 * cannot be made, the root's report goes to stderr with one warning;
 * another process's own report is dropped: the root's covers it. false:
 * no report. */
bool cg_dest_open(cg_dest_t *d, bool root)
{
    const char *where = destination();
    d->root = root;
    d->how = CG_DEST_FD;
    d->named = false;
    d->path[0] = '\0';
    if (strcmp(where, "off") == 0) return false;
    d->fd = stderr_fd;
    if (strcmp(where, "stderr") == 0) return true;
    if (!expand(where, d->path, sizeof d->path - sizeof PARTIAL - 32)) {
        warn_once("cannot write the report to %.64s... (%s); writing it to stderr", where, ENAMETOOLONG);
        return root;
    }
    int fd = named_fd(d->path);
    if (fd >= 0) {
        d->fd = fd;
        return true;
    }
    struct stat st;
    if (cg_sys_stat(d->path, &st) == 0 && S_ISDIR(st.st_mode)) { /* a directory: a file of its own inside */
        size_t n = strlen(d->path);
        cg_fmt(d->path + n, sizeof d->path - n, "/cowguard.%d.%s", (int)getpid(),
               cg_opt.report_format == CG_FORMAT_JSON ? "json" : "txt");
        d->named = true;
    }
    fd = open_special(d->path);
    if (fd >= 0) {
        d->fd = fd;
        return true;
    }
    int err = EEXIST;
    if (fd == -1 && cg_sys_lstat(d->path, &st) != 0) { /* a new file, as it should be */
        char dir[4096];
        dir_of(d->path, dir, sizeof dir);
        fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) {
            d->fd = fd;
            d->how = CG_DEST_TMPFILE;
            return true;
        }
        size_t n = strlen(d->path);
        memcpy(d->path + n, PARTIAL, sizeof PARTIAL);
        fd = open(d->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        d->path[n] = '\0';
        if (fd >= 0) {
            d->fd = fd;
            d->how = CG_DEST_PARTIAL;
            return true;
        }
        err = errno;
    } else if (fd == -2) {
        err = errno;
    }
    if (!root) return false;
    warn_once("cannot write the report to %s (%s); writing it to stderr", d->path, err);
    d->fd = stderr_fd;
    d->how = CG_DEST_FD;
    return true;
}

/* Give a finished report file its name: never over an existing file. false
 * when it could not be published (the caller then falls back). */
bool cg_dest_close(cg_dest_t *d, bool failed)
{
    if (d->how == CG_DEST_FD) {
        if (d->fd > 2 && d->fd != stderr_fd) cg_sys_close(d->fd);
        return !failed;
    }
    bool ok = !failed;
    int err = ENOSPC;
    if (d->how == CG_DEST_TMPFILE) {
        char proc[64];
        cg_fmt(proc, sizeof proc, "/proc/self/fd/%d", d->fd);
        if (ok && linkat(AT_FDCWD, proc, AT_FDCWD, d->path, AT_SYMLINK_FOLLOW) != 0) {
            ok = false;
            err = errno;
        }
        cg_sys_close(d->fd);
    } else {
        char partial[sizeof d->path + sizeof PARTIAL];
        cg_fmt(partial, sizeof partial, "%s%s", d->path, PARTIAL);
        cg_sys_close(d->fd);
        if (ok && link(partial, d->path) != 0) {
            ok = false;
            err = errno;
        }
        unlink(partial);
    }
    if (!ok && d->root) warn_once("cannot write the report to %s (%s); writing it to stderr", d->path, err);
    if (ok && d->root && d->named) cg_message("the report is in %s", d->path); /* a name the user did not give */
    return ok;
}

/* Does every process write a report of its own (a %p in the file name)? */
bool cg_dest_off(void)
{
    return strcmp(destination(), "off") == 0;
}

bool cg_dest_per_process(void)
{
    return strstr(destination(), "%p") != NULL;
}

/* Where a report goes when its own destination failed. */
int cg_dest_stderr(void)
{
    return stderr_fd;
}
