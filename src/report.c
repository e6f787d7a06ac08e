/* report.c: when the report is written and where to.
 *
 * The root of the process tree writes it from its destructor, once, when
 * anything was frozen. A report file is created with O_EXCL and O_NOFOLLOW:
 * never through a planted symlink, never over another process's file. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

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

/* The descriptor the report goes to, or -1 for none. path receives the file
 * name when it is a file. */
int cg_report_open(char *path, size_t size)
{
    const char *where = (const char *)(uintptr_t)cg_opt.report;
    path[0] = '\0';
    if (strcmp(where, "off") == 0) return -1;
    if (strcmp(where, "stderr") == 0) return 2;
    if (!expand(where, path, size)) {
        cg_message("COWGUARD_REPORT: file name too long; writing the report to stderr");
        return 2;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        cg_message("cannot create report file %s (%s); writing the report to stderr", path,
                   strerror(errno));
        return 2;
    }
    return fd;
}

void cg_report_at_exit(void)
{
    static _Atomic int done;
    if (!cg_board || getpid() != cg_board->root_pid) return;
    if (atomic_load(&cg_board->max_frozen_pages) == 0) return; /* nothing was ever frozen */
    if (atomic_exchange(&done, 1)) return;
    char path[4096];
    int fd = cg_report_open(path, sizeof path);
    if (fd < 0) return;
    static cg_sink_t out; /* static: exit paths get no large stack frames */
    out.fd = fd;
    out.len = 0;
    cg_report_text(&out);
    cg_sink_flush(&out);
    if (fd != 2) close(fd);
}
