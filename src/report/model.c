/* model.c: the numbers of a report, gathered from the board into a
 * cg_report_t that the text and JSON writers print: totals over the
 * processes in scope, and one row per (writer, allocation site) pair,
 * ranked. Static storage, no allocation. */
#include <signal.h>
#include <string.h>

#include "report.h"

static cg_row_t rows[CG_REPORT_ROWS];

static uint32_t row_hash(cg_site_id_t w, cg_site_id_t a, cg_cause_t cause, bool late, bool watched)
{
    return ((uint32_t)w * 2654435761u ^ a * 40503u ^ (uint32_t)cause * 0x27d4eb2du ^ (late ? 0x5bd1e995u : 0) ^
            (watched ? 0x85ebca6bu : 0)) %
           CG_REPORT_ROWS;
}

static void add_write(const cg_write_t *e, cg_site_id_t w, cg_site_id_t a, cg_cause_t cause, bool late, void *arg)
{
    cg_report_t *r = arg;
    if (r->pid && atomic_load(&e->pid) != r->pid) return;
    bool watched = (cause & CG_CAUSE_WATCHED) != 0;
    cause = (cg_cause_t)(cause & ~CG_CAUSE_WATCHED);
    for (uint32_t probe = 0; probe < CG_REPORT_ROWS; probe++) {
        cg_row_t *row = &rows[(row_hash(w, a, cause, late, watched) + probe) % CG_REPORT_ROWS];
        if (row->processes == 0) {
            row->writer = w;
            row->alloc = a;
            row->cause = cause;
            row->late = late;
            row->watched = watched;
            r->nrows++;
        } else if (row->writer != w || row->alloc != a || row->cause != cause || row->late != late ||
                   row->watched != watched) {
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

/* Rows that show alike, next to each other. */
static bool row_alike_before(const void *x, const void *y)
{
    const cg_row_t *a = x, *b = y;
    if (a->late != b->late) return a->late < b->late;
    if (a->watched != b->watched) return a->watched < b->watched;
    if (a->cause != b->cause) return a->cause < b->cause;
    if (a->fold_writer != b->fold_writer) return a->fold_writer < b->fold_writer;
    return a->fold_alloc < b->fold_alloc;
}

/* Merge the rows whose stacks show alike: in a CPython, the writes at one
 * Python line through different interpreter paths are one site. The
 * merged row's processes are the most of its parts (a process may be in
 * several). k rows in, the number left out. */
static size_t merge_alike(size_t k)
{
    for (size_t i = 0; i < k; i++) {
        rows[i].fold_writer = cg_site_fold(rows[i].writer);
        rows[i].fold_alloc = cg_site_fold(rows[i].alloc);
    }
    cg_sort(rows, k, sizeof *rows, row_alike_before);
    size_t out = 0;
    for (size_t i = 0; i < k; i++) {
        cg_row_t *o = out ? &rows[out - 1] : NULL;
        if (o && o->late == rows[i].late && o->watched == rows[i].watched && o->cause == rows[i].cause &&
            o->fold_writer == rows[i].fold_writer &&
            o->fold_alloc == rows[i].fold_alloc) {
            if (rows[i].pages > o->pages) {
                o->writer = rows[i].writer;
                o->alloc = rows[i].alloc;
            }
            o->pages += rows[i].pages;
            o->writes += rows[i].writes;
            if (rows[i].processes > o->processes) o->processes = rows[i].processes;
            continue;
        }
        rows[out++] = rows[i];
    }
    return out;
}

/* Rows rank by phase (while working first), marked data before memory
 * watched in place, pages copied, trapped writes. */
static bool row_before(const void *x, const void *y)
{
    const cg_row_t *a = x, *b = y;
    if (a->late != b->late) return !a->late;
    if (a->watched != b->watched) return !a->watched;
    return a->pages != b->pages ? a->pages > b->pages : a->writes > b->writes;
}

/* The numbers of a slot as the report shows them. */
static void proc_of(const cg_slot_t *s, cg_proc_t *p)
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
    p->outside_pages = p->measured ? atomic_load(&s->outside_pages) : -1;
    p->outside_exit_pages = p->outside_pages >= 0 ? atomic_load(&s->outside_exit_pages) : -1;
    p->watch_faults = atomic_load(&s->watch_faults);
    p->watch_copied = atomic_load(&s->watch_copies);
}

typedef struct {
    const cg_report_t *r;
    void (*fn)(const cg_proc_t *p, void *arg);
    void *arg;
} each_t;

static void each_slot(const cg_slot_t *s, void *arg)
{
    each_t *e = arg;
    cg_proc_t p;
    proc_of(s, &p);
    if (!e->r->pid || p.pid == e->r->pid) e->fn(&p, e->arg);
}

/* fn for every process the report covers, in the order they started. */
void cg_report_each(const cg_report_t *r, void (*fn)(const cg_proc_t *p, void *arg), void *arg)
{
    each_t e = { r, fn, arg };
    cg_board_each(each_slot, &e);
}

static void add_process(const cg_proc_t *p, void *arg)
{
    cg_report_t *r = arg;
    r->processes++;
    r->faults += p->faults;
    r->copied_pages += p->copied_pages;
    r->copied_nostack += p->copied_nostack;
    r->copied_estimated += p->copied_estimated;
    r->exit_faults += p->exit_faults;
    r->exit_copied += p->exit_copied;
    r->lower_bounds += p->lower_bound;
    r->watch_faults += p->watch_faults;
    r->watch_copied += p->watch_copied;
    r->watch_children += !p->root && p->watch_copied;
    if (p->outside_pages >= 0) {
        r->outside_measured++;
        r->outside_pages += (uint64_t)p->outside_pages;
        r->outside_exit_pages += p->outside_exit_pages > 0 ? (uint64_t)p->outside_exit_pages : 0;
    }
    if (!p->root) {
        r->children++;
        if (p->shared_pages >= 0) {
            r->shared_measured++;
            r->shared_pages += (uint64_t)p->shared_pages;
            r->own_kb += p->own_kb > 0 ? p->own_kb : 0;
            r->own_peak_kb += p->own_peak_kb > p->own_kb ? p->own_peak_kb : p->own_kb > 0 ? p->own_kb : 0;
        }
    }
    if (p->frozen_pages > r->frozen_pages) r->frozen_pages = p->frozen_pages;
}

static bool space_before(const void *x, const void *y)
{
    return ((const cg_space_line_t *)x)->pages > ((const cg_space_line_t *)y)->pages;
}

/* The rows of pages copied outside marked data, most pages first. */
static void space_lines(cg_report_t *r, const cg_board_t *b)
{
    for (int i = 0; i < CG_SPACE_ROWS; i++) {
        const cg_spacerow_t *row = &b->space[i];
        if (atomic_load(&((cg_spacerow_t *)row)->state) != 2) continue;
        r->space[r->nspace++] = (cg_space_line_t){ (cg_space_kind_t)row->kind, row->name,
                                                   atomic_load(&((cg_spacerow_t *)row)->pages),
                                                   atomic_load(&((cg_spacerow_t *)row)->processes) };
    }
    cg_sort(r->space, r->nspace, sizeof *r->space, space_before);
}

const char *cg_space_kind_name(cg_space_kind_t kind)
{
    switch (kind) {
    case CG_SPACE_HEAP: return "heap";
    case CG_SPACE_ANON: return "anonymous";
    case CG_SPACE_STACK: return "stack";
    default: return "data";
    }
}

/* Was site written into, by a watched write of the processes in scope? */
static bool written(const cg_report_t *r, cg_site_id_t site)
{
    for (size_t i = r->nrows_marked; i < r->nrows_work; i++)
        if (rows[i].alloc == site || cg_site_fold(rows[i].alloc) == cg_site_fold(site)) return true;
    return false;
}

typedef struct {
    cg_report_t *r;
} advise_t;

static void add_advice(const cg_neighbour_t *n, cg_site_id_t w, cg_site_id_t bystander, void *arg)
{
    cg_report_t *r = arg;
    if (!bystander || (r->pid && atomic_load(&((cg_neighbour_t *)n)->pid) != r->pid)) return;
    size_t i = 0;
    while (i < r->nadvice && r->advice[i].site != bystander) i++;
    if (i == r->nadvice) {
        if (r->nadvice == CG_ADVICE_MAX || written(r, bystander)) return;
        r->advice[r->nadvice++] = (cg_advice_t){ bystander, 0, 0 };
    }
    r->advice[i].bytes += atomic_load(&((cg_neighbour_t *)n)->bytes);
    r->advice[i].pages += atomic_load(&((cg_neighbour_t *)n)->pages);
}

static bool advice_before(const void *x, const void *y)
{
    return ((const cg_advice_t *)x)->bytes > ((const cg_advice_t *)y)->bytes;
}

/* The sites whose blocks were never written but lay on copied pages:
 * marked, they would have pages of their own, which would stay shared. */
static void advise(cg_report_t *r)
{
    cg_board_neighbour_each(add_advice, r);
    cg_sort(r->advice, r->nadvice, sizeof *r->advice, advice_before);
}

typedef struct {
    const cg_report_t *r;
    cg_site_id_t written, best;
    uint64_t blocks, pages, best_blocks;
} beside_t;

static void beside_one(const cg_neighbour_t *n, cg_site_id_t w, cg_site_id_t bystander, void *arg)
{
    beside_t *b = arg;
    if (w != b->written || (b->r->pid && atomic_load(&((cg_neighbour_t *)n)->pid) != b->r->pid)) return;
    uint64_t blocks = atomic_load(&((cg_neighbour_t *)n)->blocks);
    if (blocks > b->best_blocks) {
        b->best = bystander;
        b->best_blocks = blocks;
        b->pages = atomic_load(&((cg_neighbour_t *)n)->pages);
    }
}

/* Of the blocks that shared the pages writes into site written copied,
 * the site with most, its blocks (*blocks) and the pages (returned). */
uint64_t cg_report_beside(const cg_report_t *r, cg_site_id_t written, cg_site_id_t *bystander, uint64_t *blocks)
{
    beside_t b = { r, written, 0, 0, 0, 0 };
    cg_board_neighbour_each(beside_one, &b);
    *bystander = b.best;
    *blocks = b.best_blocks;
    return b.pages;
}

/* Gather the report: the whole tree (pid 0), or only process pid. */
void cg_report_build(cg_report_t *r, int32_t pid)
{
    memset(r, 0, sizeof *r);
    memset(rows, 0, sizeof rows);
    cg_board_t *b = cg_board;
    r->pid = pid;
    r->root_pid = b->root_pid;
    r->forks = atomic_load(&b->forks);
    r->marked_bytes = atomic_load(&b->max_marked_bytes);
    cg_report_each(r, add_process, r);
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
    k = merge_alike(k);
    cg_sort(rows, k, sizeof *rows, row_before);
    r->rows = rows;
    r->nrows = k;
    for (size_t i = 0; i < k && !rows[i].late; i++) {
        r->nrows_work++;
        if (rows[i].watched) {
            r->watch_cause_pages[rows[i].cause] += rows[i].pages;
            continue;
        }
        r->nrows_marked++;
        r->row_pages += rows[i].pages;
        r->cause_pages[rows[i].cause] += rows[i].pages;
        r->cause_writes[rows[i].cause] += rows[i].writes;
    }
    if (!pid) space_lines(r, b);
    advise(r);
    r->lost = atomic_load(&b->lost);
    r->lost_sites = atomic_load(&b->lost_sites);
    r->lost_writes = atomic_load(&b->lost_writes);
    r->lost_pages += atomic_load(&b->lost_pages);
    r->heap_lost = atomic_load(&b->heap_lost);
}

/* Per cause, the pages it copied and what to do about it, in one line. */
static const char *const remedies[CG_CAUSES] = {
    [CG_CAUSE_DATA] = "writes into the data itself (the program writes it): see the sites below",
    [CG_CAUSE_REFCOUNT] = "reference-count writes (Python objects read by workers): keep the data in a buffer "
                          "(NumPy, array, bytes), or see cowguard.freeze() (Python 3.12 and later)",
    [CG_CAUSE_GC] = "the garbage collector: call gc.freeze() before forking (cowguard.prepare_fork() does)",
    [CG_CAUSE_HASH] = "hashes cached on first use (str, bytes, frozenset): hash them before forking",
    [CG_CAUSE_FIELD] = "writes to other fields of Python objects (the program changes them): make them after "
                       "the fork, or per worker",
    [CG_CAUSE_ALLOCATOR] = "cowguard's allocator freeing marked blocks: free marked data before forking, or "
                           "keep it",
    [CG_CAUSE_KERNEL] = "the kernel, for system calls into marked memory (read(2) into a marked buffer): read "
                        "into unmarked memory",
};

const char *cg_cause_remedy(cg_cause_t cause)
{
    return cause < CG_CAUSES ? remedies[cause] : remedies[CG_CAUSE_DATA];
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
