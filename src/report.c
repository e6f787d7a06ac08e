/* report.c: when a report is written, where to, and the numbers in it.
 *
 * Every process records its own exit (cg_process_exit, from on_exit or
 * _exit): it measures itself and, when it is the root of the tree, writes
 * the report for the whole tree; any other process writes a report of its
 * own when COWGUARD_REPORT is a file template with %p. The numbers are
 * gathered here into a cg_report_t that the text and JSON writers print.
 *
 * Nothing here allocates or uses stdio: _exit may be called from a signal
 * handler. Report files are created with O_EXCL and O_NOFOLLOW: never
 * through a planted symlink, never over another process's file. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* ---- where ---------------------------------------------------------------- */

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

/* The descriptor the report goes to, or -1 for none. A file report is
 * written under path + ".partial" and published by cg_report_close, so
 * nobody reads a half-written report. When the file cannot be made, the
 * root's report goes to stderr with one warning; another process's own
 * report is dropped without a word: the root's covers it, and forty
 * workers need not repeat the root's warning. */
int cg_report_open(char *path, size_t size, bool root)
{
    const char *where = destination();
    path[0] = '\0';
    if (strcmp(where, "off") == 0) return -1;
    if (strcmp(where, "stderr") == 0) return 2;
    if (!expand(where, path, size - sizeof PARTIAL)) {
        cg_message("COWGUARD_REPORT: file name too long; writing the report to stderr");
        path[0] = '\0';
        return 2;
    }
    size_t n = strlen(path);
    memcpy(path + n, PARTIAL, sizeof PARTIAL);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    path[n] = '\0';
    if (fd < 0) {
        if (!root) return -1;
        cg_message("cannot create report file %s%s (%s); writing the report to stderr", path, PARTIAL,
                   cg_strerror(errno));
        path[0] = '\0';
        return 2;
    }
    return fd;
}

/* Publish a finished report file: link never replaces an existing file. */
void cg_report_close(int fd, const char *path)
{
    if (fd == 2 || fd < 0) return;
    close(fd);
    char partial[4096 + sizeof PARTIAL];
    cg_fmt(partial, sizeof partial, "%s%s", path, PARTIAL);
    if (link(partial, path) != 0)
        cg_message("cannot create report file %s (%s); the report is in %s", path, cg_strerror(errno), partial);
    else
        unlink(partial);
}

static bool per_process_files(void)
{
    return strstr(destination(), "%p") != NULL;
}

/* ---- what ----------------------------------------------------------------- */

static cg_row_t rows[CG_REPORT_ROWS];

static uint32_t row_hash(uint16_t w, uint16_t a)
{
    return ((uint32_t)w * 2654435761u ^ a * 40503u) % CG_REPORT_ROWS;
}

static void add_write(const cg_write_t *e, uint16_t w, uint16_t a, void *arg)
{
    cg_report_t *r = arg;
    if (r->pid && atomic_load(&e->pid) != r->pid) return;
    for (uint32_t probe = 0; probe < CG_REPORT_ROWS; probe++) {
        cg_row_t *row = &rows[(row_hash(w, a) + probe) % CG_REPORT_ROWS];
        if (row->writes == 0) {
            row->writer = w;
            row->alloc = a;
            r->nrows++;
        } else if (row->writer != w || row->alloc != a) {
            continue;
        }
        row->writes += atomic_load(&e->writes);
        row->pages += atomic_load(&e->pages);
        row->processes++;
        return;
    }
    r->lost_rows++;
}

/* Rows rank by pages copied, then by trapped writes. */
static bool row_before(const void *x, const void *y)
{
    const cg_row_t *a = x, *b = y;
    return a->pages != b->pages ? a->pages > b->pages : a->writes > b->writes;
}

/* The numbers of a slot as the report shows them: the kernel's where the
 * process measured itself, cowguard's counters otherwise. */
void cg_report_process(const cg_slot_t *s, cg_proc_t *p)
{
    p->pid = atomic_load(&s->pid);
    p->ppid = s->ppid;
    p->root = cg_board && p->pid == cg_board->root_pid;
    p->how = (cg_exit_how_t)atomic_load(&s->exit_how);
    p->code = s->exit_code;
    p->signal = s->exit_signal;
    p->frozen_pages = atomic_load(&s->frozen_pages);
    p->faults = atomic_load(&s->faults);
    p->measured = atomic_load(&s->measured) != 0;
    p->copied_pages = p->measured ? s->copied_pages : atomic_load(&s->copies);
    p->private_dirty_kb = p->measured ? s->private_dirty_kb : -1;
    p->pss_kb = p->measured ? s->pss_kb : -1;
}

/* Gather the report: the whole tree, or only process pid. */
static void build(cg_report_t *r, int32_t pid)
{
    memset(r, 0, sizeof *r);
    memset(rows, 0, sizeof rows);
    cg_board_t *b = cg_board;
    r->pid = pid;
    r->root_pid = b->root_pid;
    r->forks = atomic_load(&b->forks);
    r->marked_bytes = atomic_load(&b->max_marked_bytes);
    uint32_t n = atomic_load(&b->nslots);
    for (uint32_t i = 0; i < n; i++) {
        cg_proc_t p;
        if (!atomic_load(&b->slots[i].pid)) continue;
        cg_report_process(&b->slots[i], &p);
        if (pid && p.pid != pid) continue;
        r->processes++;
        r->faults += p.faults;
        r->copied_pages += p.copied_pages;
        if (!p.root && p.frozen_pages > p.copied_pages)
            r->shared_pages += p.frozen_pages - p.copied_pages;
        if (p.frozen_pages > r->frozen_pages) r->frozen_pages = p.frozen_pages;
    }
    if (!pid) {
        uint64_t max = atomic_load(&b->max_frozen_pages);
        if (max > r->frozen_pages) r->frozen_pages = max;
    }
    cg_write_each(add_write, r);
    /* Pack the used rows to the front, then sort them, most pages first. */
    size_t k = 0;
    for (size_t i = 0; i < CG_REPORT_ROWS; i++)
        if (rows[i].writes) rows[k++] = rows[i];
    cg_sort(rows, k, sizeof *rows, row_before);
    r->rows = rows;
    r->nrows = k;
    r->lost = atomic_load(&b->lost);
    r->lost_sites = atomic_load(&b->lost_sites);
    r->lost_writes = atomic_load(&b->lost_writes);
}

static void write_report(int32_t pid, bool lines)
{
    static cg_report_t r; /* static: exit paths get no large stack frames */
    static cg_sink_t out;
    char path[4096];
    int fd = cg_report_open(path, sizeof path, pid == 0);
    if (fd < 0) return;
    build(&r, pid);
    r.lines = lines;
    out.fd = fd;
    out.len = 0;
    if (cg_opt.report_format == 1) cg_report_json(&r, &out);
    else cg_report_text(&r, &out);
    cg_sink_flush(&out);
    cg_report_close(fd, path);
}

/* ---- when ----------------------------------------------------------------- */

/* This process is leaving through exit (how = CG_EXIT_EXIT) or _exit.
 *
 * Signals are blocked meanwhile: without cowguard the process would already
 * be gone, and a SIGTERM its parent sends now (Pool.terminate does) must not
 * cut the report short or change how it ends. After _exit they stay blocked
 * (the process is leaving); after exit the program's mask comes back for
 * what exit still does. */
void cg_process_exit(cg_exit_how_t how, int code)
{
    static pid_t done; /* once per process; a forked child starts over */
    pid_t me = getpid();
    /* A vfork or posix_spawn child shares its parent's memory, slot included,
     * and ran no atfork handler: it is not a worker, and must not touch them. */
    if (done == me || !cg_board || !cg_self || atomic_load(&cg_self->pid) != me) return;
    done = me;
    int saved = errno;
    sigset_t all, old;
    sigfillset(&all);
    cg_next.pthread_sigmask(SIG_BLOCK, &all, &old);
    /* _exit may be called from a signal handler that interrupted cowguard:
     * locks are only tried, as in the fault handler. */
    cg_tls.in_fault++;
    cg_measure_self(cg_self);
    cg_board_note_exit(cg_self, how, code & 0xff, 0);
    /* A tree in which nothing was ever frozen gets no report. */
    if (atomic_load(&cg_board->max_frozen_pages) != 0) {
        bool lines = how == CG_EXIT_EXIT; /* exit() is not called from signal handlers */
        if (cg_board_is_root()) write_report(0, lines);
        else if (per_process_files()) write_report((int32_t)me, lines);
    }
    cg_tls.in_fault--;
    if (how == CG_EXIT_EXIT) cg_next.pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
}

const char *cg_exit_how_name(cg_exit_how_t how)
{
    switch (how) {
    case CG_EXIT_EXIT: return "exit";
    case CG_EXIT_UNDERSCORE: return "_exit";
    case CG_EXIT_SIGNAL: return "signal";
    case CG_EXIT_REAPED: return "exit";
    default: return "running";
    }
}

/* "SIGKILL"; sigabbrev_np is not in every libc, and these are the ones
 * that end processes. */
const char *cg_signal_name(int sig)
{
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "a signal";
    }
}
