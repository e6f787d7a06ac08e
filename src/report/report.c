/* report.c: when a report is written, where to, and the numbers in it.
 *
 * Every process records its own exit (cg_process_exit, from on_exit or
 * _exit): it measures itself and, when it is the root of the tree, writes
 * the report for the whole tree; any other process writes a report of its
 * own when COWGUARD_REPORT is a file template with %p. The numbers are
 * gathered here into a cg_report_t that the text and JSON writers print.
 *
 * Nothing here allocates or uses stdio: _exit may be called from a signal
 * handler. A report file never replaces an existing name (a planted
 * symlink, another process's report) and never appears half written. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "sys.h"

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

/* Where a report goes: a descriptor to write, and how to finish it. */
typedef struct {
    int fd;
    enum { TO_FD, TO_TMPFILE, TO_PARTIAL } how; /* TO_FD: written in place (stderr, a device, a FIFO) */
    bool root;
    char path[4096];                           /* the file to publish */
} dest_t;

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
static bool dest_open(dest_t *d, bool root)
{
    const char *where = destination();
    d->root = root;
    d->how = TO_FD;
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
               cg_opt.report_format == 1 ? "json" : "txt");
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
            d->how = TO_TMPFILE;
            return true;
        }
        size_t n = strlen(d->path);
        memcpy(d->path + n, PARTIAL, sizeof PARTIAL);
        fd = open(d->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        d->path[n] = '\0';
        if (fd >= 0) {
            d->fd = fd;
            d->how = TO_PARTIAL;
            return true;
        }
        err = errno;
    } else if (fd == -2) {
        err = errno;
    }
    if (!root) return false;
    warn_once("cannot write the report to %s (%s); writing it to stderr", d->path, err);
    d->fd = stderr_fd;
    d->how = TO_FD;
    return true;
}

/* Give a finished report file its name: never over an existing file. false
 * when it could not be published (the caller then falls back). */
static bool dest_close(dest_t *d, bool failed)
{
    if (d->how == TO_FD) {
        if (d->fd > 2 && d->fd != stderr_fd) cg_sys_close(d->fd);
        return !failed;
    }
    bool ok = !failed;
    int err = ENOSPC;
    if (d->how == TO_TMPFILE) {
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
    return ok;
}

static bool per_process_files(void)
{
    return strstr(destination(), "%p") != NULL;
}

/* ---- what ----------------------------------------------------------------- */

static cg_row_t rows[CG_REPORT_ROWS];

static uint32_t row_hash(uint16_t w, uint16_t a, bool late)
{
    return ((uint32_t)w * 2654435761u ^ a * 40503u ^ (late ? 0x5bd1e995u : 0)) % CG_REPORT_ROWS;
}

static void add_write(const cg_write_t *e, uint16_t w, uint16_t a, bool late, void *arg)
{
    cg_report_t *r = arg;
    if (r->pid && atomic_load(&e->pid) != r->pid) return;
    for (uint32_t probe = 0; probe < CG_REPORT_ROWS; probe++) {
        cg_row_t *row = &rows[(row_hash(w, a, late) + probe) % CG_REPORT_ROWS];
        if (row->processes == 0) {
            row->writer = w;
            row->alloc = a;
            row->late = late;
            r->nrows++;
        } else if (row->writer != w || row->alloc != a || row->late != late) {
            continue;
        }
        row->writes += atomic_load(&e->writes);
        row->pages += atomic_load(&e->pages);
        row->processes++;
        return;
    }
    r->lost_rows++;
    r->lost_pages += atomic_load(&e->pages);
}

/* Rows rank by phase (while working first), pages copied, trapped writes. */
static bool row_before(const void *x, const void *y)
{
    const cg_row_t *a = x, *b = y;
    if (a->late != b->late) return !a->late;
    return a->pages != b->pages ? a->pages > b->pages : a->writes > b->writes;
}

/* The numbers of a slot as the report shows them. */
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
    p->copied_pages = atomic_load(&s->copies);
    p->copied_nostack = atomic_load(&s->copies_nostack);
    p->copied_estimated = atomic_load(&s->copies_estimated);
    p->exit_faults = atomic_load(&s->exit_faults);
    p->exit_copied = atomic_load(&s->exit_copies);
    p->pending = atomic_load(&s->pending);
    p->measured = atomic_load(&s->measured) != 0;
    /* Killed before it could settle its pending pages and measure: what
     * it copied is at least this. */
    p->lower_bound = !p->measured;
    p->private_dirty_kb = p->measured ? s->private_dirty_kb : -1;
    p->pss_kb = p->measured ? s->pss_kb : -1;
    p->own_kb = p->measured ? s->own_kb : -1;
    p->own_peak_kb = p->measured ? s->own_peak_kb : -1;
    p->shared_pages = p->measured ? s->shared_pages : -1;
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
        r->copied_nostack += p.copied_nostack;
        r->copied_estimated += p.copied_estimated;
        r->exit_faults += p.exit_faults;
        r->exit_copied += p.exit_copied;
        r->lower_bounds += p.lower_bound;
        if (!p.root) {
            r->children++;
            if (p.shared_pages >= 0) {
                r->shared_measured++;
                r->shared_pages += (uint64_t)p.shared_pages;
                r->own_kb += p.own_kb > 0 ? p.own_kb : 0;
                r->own_peak_kb += p.own_peak_kb > p.own_kb ? p.own_peak_kb : p.own_kb > 0 ? p.own_kb : 0;
            }
        }
        if (p.frozen_pages > r->frozen_pages) r->frozen_pages = p.frozen_pages;
    }
    if (!pid) {
        uint64_t max = atomic_load(&b->max_frozen_pages);
        if (max > r->frozen_pages) r->frozen_pages = max;
    }
    cg_write_each(add_write, r);
    /* Pack the used rows to the front, then sort them: while working, most
     * pages first; then during exit. */
    size_t k = 0;
    for (size_t i = 0; i < CG_REPORT_ROWS; i++)
        if (rows[i].processes) rows[k++] = rows[i];
    cg_sort(rows, k, sizeof *rows, row_before);
    r->rows = rows;
    r->nrows = k;
    for (size_t i = 0; i < k && !rows[i].late; i++) {
        r->nrows_work++;
        r->row_pages += rows[i].pages;
    }
    r->lost = atomic_load(&b->lost);
    r->lost_sites = atomic_load(&b->lost_sites);
    r->lost_writes = atomic_load(&b->lost_writes);
    r->lost_pages += atomic_load(&b->lost_pages);
}

static void emit(const cg_report_t *r, cg_sink_t *out, int fd)
{
    out->fd = fd;
    out->len = 0;
    out->failed = false;
    if (cg_opt.report_format == 1) cg_report_json(r, out);
    else cg_report_text(r, out);
    cg_sink_flush(out);
}

static void write_report(int32_t pid, bool lines)
{
    static cg_report_t r; /* static: exit paths get no large stack frames */
    static cg_sink_t out;
    static dest_t d;
    if (!dest_open(&d, pid == 0)) return;
    build(&r, pid);
    r.lines = lines;
    emit(&r, &out, d.fd);
    if (!dest_close(&d, out.failed) && pid == 0) emit(&r, &out, stderr_fd);
}

/* ---- when ----------------------------------------------------------------- */

/* This process is leaving through exit (how = CG_EXIT_EXIT) or _exit.
 *
 * Signals are blocked meanwhile: without cowguard the process would already
 * be gone, and a SIGTERM its parent sends now (Pool.terminate does) must not
 * cut the report short or change how it ends. After _exit they stay blocked
 * (the process is leaving); after exit the program's mask comes back for
 * what exit still does. */
/* The process has begun to exit (exit(), or the start of the exit path):
 * copies so far were made while it worked; writes from now on are counted
 * apart. Async-signal-safe. */
void cg_begin_exit(void)
{
    if (cg_arena.ready) cg_settle(cg_arena.base, cg_arena.frozen_end, false);
    cg_fault_exiting();
}

typedef struct {
    cg_exit_how_t how;
    int code, sig;
} leaving_t;

static void leave(void *arg)
{
    const leaving_t *l = arg;
    pid_t me = getpid();
    cg_begin_exit();
    cg_measure_self(cg_self);
    cg_board_note_exit(cg_self, l->how, l->code & 0xff, l->sig);
    /* A tree in which nothing was ever frozen gets no report. */
    if (atomic_load(&cg_board->max_frozen_pages) != 0) {
        bool lines = l->how == CG_EXIT_EXIT; /* exit() is not called from signal handlers */
        if (cg_board_is_root()) write_report(0, lines);
        else if (per_process_files()) write_report((int32_t)me, lines);
    }
}

/* This process is leaving through exit (how = CG_EXIT_EXIT), _exit, or a
 * terminating signal whose default action the program left (sig).
 *
 * Signals are blocked meanwhile: without cowguard the process would already
 * be gone, and a SIGTERM its parent sends now (Pool.terminate does) must not
 * cut the report short or change how it ends. After _exit they stay blocked
 * (the process is leaving); after exit the program's mask comes back for
 * what exit still does. */
static void process_exit(cg_exit_how_t how, int code, int sig)
{
    static pid_t done; /* once per process; a forked child starts over */
    pid_t me = getpid();
    /* A vfork or posix_spawn child shares its parent's memory, slot included,
     * and ran no atfork handler: it is not a worker, and must not touch them. */
    if (done == me || !cg_board || !cg_self || atomic_load(&cg_self->pid) != me) return;
    done = me;
    int saved = errno;
    /* Every signal but the synchronous ones: a fault during the report (a
     * frozen page written while symbolizing, say) must reach cowguard's
     * handler, and a fault with SIGSEGV blocked would kill the process. */
    sigset_t all, old;
    cg_async_signals(&all);
    cg_next.pthread_sigmask(SIG_BLOCK, &all, &old);
    /* _exit may be called from a signal handler that interrupted cowguard:
     * locks are only tried, as in the fault handler; and the handler may
     * run on a small alternate stack. */
    cg_tls.in_fault++;
    leaving_t l = { how, code, sig };
    cg_run_on_big_stack(leave, &l);
    cg_tls.in_fault--;
    if (how == CG_EXIT_EXIT) cg_next.pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
}

void cg_process_exit(cg_exit_how_t how, int code)
{
    process_exit(how, code, 0);
}

/* Killed by sig, a terminating signal the program left at its default
 * action: measured and reported as it dies. */
void cg_process_killed(int sig)
{
    process_exit(CG_EXIT_SIGNAL, 0, sig);
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
