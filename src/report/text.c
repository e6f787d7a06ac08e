/* text.c: the text report, sanitizer style (==PID== on each line).
 * In order: what was frozen, how many processes shared it, what stayed
 * shared and what was copied, the top write sites, a table of processes,
 * warnings. See docs/report.md. */
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "report.h"

#define TOP_SITES 10


/* A stack, innermost first. With Python frames, the interpreter's own
 * native frames are folded into one line (attrib's cg_site_shown; the
 * JSON report lists them). */
static void stack(cg_sink_t *out, int me, const char *title, cg_site_id_t id, bool lines)
{
    const cg_site_t *s = cg_site_get(id);
    if (!s) {
        cg_sink_printf(out, "==%d==     %s: %s\n", me, title,
                       id == CG_SITE_OTHER ? "(other stacks: the table of stacks was full)" : "(no stack recorded)");
        return;
    }
    cg_sink_printf(out, "==%d==     %s:\n", me, title);
    uint32_t shown = 0, folded = 0;
    for (uint32_t i = 0; i < s->nframes; i++) {
        if (!cg_site_shown(s, i)) {
            folded++;
            continue;
        }
        cg_frame_t f;
        cg_symbolize(s->frames[i], &f);
        const char *file;
        int line;
        if (f.python && f.line == 0) /* a module's body, run by an import (attrib/python.c) */
            cg_sink_printf(out, "==%d==       #%u %s (importing) in %s\n", me, shown, f.object,
                           f.function ? f.function : "??");
        else if (f.python)
            cg_sink_printf(out, "==%d==       #%u %s:%d in %s\n", me, shown, f.object, f.line,
                           f.function ? f.function : "??");
        else if (lines && cg_srcline(s->frames[i], &file, &line))
            cg_sink_printf(out, "==%d==       #%u %p in %s %s:%d (%s+0x%lx)\n", me, shown, (void *)(s->frames[i] - 1),
                           f.function ? f.function : "??", file, line, f.object, (unsigned long)f.offset);
        else
            cg_sink_printf(out, "==%d==       #%u %p in %s %s+0x%lx\n", me, shown, (void *)(s->frames[i] - 1),
                           f.function ? f.function : "??", f.object, (unsigned long)f.offset);
        shown++;
    }
    if (folded)
        cg_sink_printf(out, "==%d==       (%u native frame%s of the interpreter folded away; the JSON report lists them)\n",
                       me, folded, folded == 1 ? "" : "s");
}

static void causes(const uint64_t *pages, cg_sink_t *out, int me)
{
    uint64_t left[CG_CAUSES];
    memcpy(left, pages, sizeof left);
    for (;;) { /* most pages first */
        int best = -1;
        for (int c = 0; c < CG_CAUSES; c++)
            if (left[c] && (best < 0 || left[c] > left[best])) best = c;
        if (best < 0) return;
        cg_sink_printf(out, "==%d== %llu page%s copied by %s\n", me, (unsigned long long)left[best],
                       left[best] == 1 ? "" : "s", cg_cause_remedy(best));
        left[best] = 0;
    }
}

/* A CPython whose frames cowguard does not know: why the stacks are native. */
static void python_note(cg_sink_t *out, int me)
{
    bool frames;
    const char *v = cg_py_version(&frames);
    if (v && !frames)
        cg_sink_printf(out, "==%d== note: Python %s is not a version whose frames cowguard reads (3.9, 3.11, "
                       "3.13): stacks are the interpreter's native ones and causes are not told apart\n", me, v);
}

static void exit_text(const cg_proc_t *p, char *buf, size_t size)
{
    if (p->how == CG_EXIT_SIGNAL) cg_fmt(buf, size, "%s", cg_signal_name(p->signal));
    else if (p->how == CG_EXIT_RUNNING) cg_fmt(buf, size, "running");
    else cg_fmt(buf, size, "%s %d", cg_exit_how_name(p->how), p->code);
}

static void kb_text(int64_t kb, char *buf, size_t size)
{
    if (kb < 0) cg_fmt(buf, size, "-");
    else cg_fmt(buf, size, "%lld kB", (long long)kb);
}

/* Where a line goes, and its ==PID== prefix. */
typedef struct {
    cg_sink_t *out;
    int me;
} line_t;

static void process_row(const cg_proc_t *p, void *arg)
{
    const line_t *l = arg;
    char ex[32], frozen[24], copied[24], lower[32], shared[24], pd[24], pss[24], own[24], outside[24];
    exit_text(p, ex, sizeof ex);
    cg_bytes_text(p->frozen_pages * CG_PAGE, frozen, sizeof frozen);
    cg_bytes_text(p->copied_pages * CG_PAGE, copied, sizeof copied);
    cg_fmt(lower, sizeof lower, "%s%s", p->lower_bound ? ">=" : "", copied);
    if (p->shared_pages >= 0) cg_bytes_text((uint64_t)p->shared_pages * CG_PAGE, shared, sizeof shared);
    else cg_fmt(shared, sizeof shared, "-");
    kb_text(p->private_dirty_kb, pd, sizeof pd);
    kb_text(p->pss_kb, pss, sizeof pss);
    kb_text(p->own_kb, own, sizeof own);
    if (p->outside_pages >= 0) cg_bytes_text((uint64_t)p->outside_pages * CG_PAGE, outside, sizeof outside);
    else cg_fmt(outside, sizeof outside, "-");
    cg_sink_printf(l->out, "==%d== %8d %8d  %-6s %-12s %10s %11s %10s %8llu %10s %14s %12s %10s\n", l->me, (int)p->pid,
                   (int)p->ppid, p->root ? "root" : "child", ex, frozen, lower, shared,
                   (unsigned long long)(p->faults + p->watch_faults), outside, pd, pss, own);
}

static void processes(const cg_report_t *r, cg_sink_t *out, int me)
{
    cg_sink_printf(out, "==%d== %8s %8s  %-6s %-12s %10s %11s %10s %8s %10s %14s %12s %10s\n", me, "pid", "ppid",
                   "role", "exit", "frozen", "copied", "shared", "trapped", "outside", "Private_Dirty", "Pss", "own");
    line_t l = { out, me };
    cg_report_each(r, process_row, &l);
}

/* A process that did not measure itself: why its numbers may be short. */
static void unmeasured(const cg_proc_t *p, void *arg)
{
    const line_t *l = arg;
    if (p->measured) return;
    /* a child that ran another program had nothing frozen to copy after */
    if (p->how == CG_EXIT_REAPED && !p->frozen_pages) return;
    char pending[48] = "";
    if (p->pending)
        cg_fmt(pending, sizeof pending, " (%llu more pages may have been copied)", (unsigned long long)p->pending);
    if (p->how == CG_EXIT_SIGNAL)
        cg_sink_printf(l->out, "==%d== warning: child %d was killed by %s before it could measure itself: its "
                       "copies are a lower bound%s\n", l->me, (int)p->pid, cg_signal_name(p->signal), pending);
    else if (p->how == CG_EXIT_RUNNING)
        cg_sink_printf(l->out, "==%d== warning: %s %d had not exited (or was not reaped) when this "
                       "report was written: its numbers are as far as they went%s\n", l->me,
                       p->root ? "process" : "child", (int)p->pid, pending);
    else
        cg_sink_printf(l->out, "==%d== warning: child %d exited without cowguard seeing it (after exec, say): "
                       "its copies are a lower bound%s\n", l->me, (int)p->pid, pending);
}

static void warnings(const cg_report_t *r, cg_sink_t *out, int me)
{
    line_t l = { out, me };
    cg_report_each(r, unmeasured, &l);
    if (r->copied_estimated)
        cg_sink_printf(out, "==%d== warning: %llu of the copied pages are estimated: the kernel keeps no record "
                       "of writes here (userfaultfd write-protection, Linux 6.7), so pages thawed without a trap "
                       "were counted by whether they are private\n", me, (unsigned long long)r->copied_estimated);
    if (r->lost)
        cg_sink_printf(out, "==%d== warning: %u processes found no slot on the board and are not counted\n",
                       me, r->lost);
    if (r->heap_lost)
        cg_sink_printf(out, "==%d== warning: %llu heap blocks were not recorded for the watch (no memory for its "
                       "table): writes into them name no allocation\n", me, (unsigned long long)r->heap_lost);
    if (r->lost_sites || r->lost_writes || r->lost_rows)
        cg_sink_printf(out, "==%d== warning: the site tables were full: %u stacks went to \"other stacks\" and "
                       "%u writes went unattributed\n", me, r->lost_sites, r->lost_writes + r->lost_rows);
}

/* A write site; a watched one's writes are first writes to each page. */
static void site(const cg_report_t *r, cg_sink_t *out, int me, size_t i, size_t number)
{
    const cg_row_t *row = &r->rows[i];
    cg_sink_printf(out, "==%d==   site %zu: %llu page%s copied (%s), by %llu %s write%s in %u process%s\n", me,
                   number, (unsigned long long)row->pages, row->pages == 1 ? "" : "s", cg_cause_name(row->cause),
                   (unsigned long long)row->writes, row->watched ? "first" : "trapped", row->writes == 1 ? "" : "s",
                   row->processes, row->processes == 1 ? "" : "es");
    stack(out, me, "written by", row->writer, r->lines);
    stack(out, me, "into memory allocated by", row->alloc, r->lines);
}

/* The innermost frame of a site as a name a user can mark by: a native
 * function (for COWGUARD_SITES), or a Python line. false: none. */
static bool site_name(cg_site_id_t id, char *buf, size_t size, bool *python)
{
    const cg_site_t *s = cg_site_get(id);
    for (uint32_t i = 0; s && i < s->nframes; i++) {
        if (!cg_site_shown(s, i)) continue;
        cg_frame_t f;
        cg_symbolize(s->frames[i], &f);
        *python = f.python;
        if (f.python && f.line == 0) cg_fmt(buf, size, "%s (importing)", f.object);
        else if (f.python) cg_fmt(buf, size, "%s:%d", f.object, f.line);
        else if (f.function) cg_fmt(buf, size, "%s", f.function);
        else continue;
        if (!f.python) { /* a compiler's clone (build.constprop.0) is marked by its name */
            char *dot = strchr(buf, '.');
            if (dot && dot > buf) *dot = 0;
        }
        return true;
    }
    return false;
}

/* A watched site, and the site with most blocks beside it. */
static void watched_site(const cg_report_t *r, cg_sink_t *out, int me, size_t i, size_t number)
{
    const cg_row_t *row = &r->rows[i];
    site(r, out, me, i, number);
    cg_site_id_t by;
    uint64_t blocks, pages = cg_report_beside(r, row->alloc, &by, &blocks);
    char name[160];
    bool py;
    if (pages && blocks && site_name(by, name, sizeof name, &py))
        cg_sink_printf(out, "==%d==     beside it on the copied pages: %llu block%s a page allocated by %s, never "
                       "written\n", me, (unsigned long long)((blocks + pages / 2) / pages),
                       (blocks + pages / 2) / pages == 1 ? "" : "s", name);
}

/* Advice i in words ("mark build_table (COWGUARD_SITES=build_table), and
 * 1172 pages per worker stay shared"), when it is worth the change: 8
 * pages a worker, and a twentieth of what a worker copied. */
static bool advice_text(const cg_report_t *r, size_t i, char *buf, size_t size)
{
    uint32_t workers = r->watch_children ? r->watch_children : 1;
    uint64_t floor = r->watch_copied / workers / 20 > 8 ? r->watch_copied / workers / 20 : 8;
    const cg_advice_t *a = &r->advice[i];
    uint64_t each = (a->bytes / CG_PAGE + workers / 2) / workers;
    char name[160];
    bool py;
    if (each < floor || !site_name(a->site, name, sizeof name, &py)) return false;
    if (py)
        cg_fmt(buf, size, "allocate what %s allocates inside `with cowguard.readonly():`, and %llu page%s per worker "
               "stay shared", name, (unsigned long long)each, each == 1 ? "" : "s");
    else
        cg_fmt(buf, size, "mark %s (COWGUARD_SITES=%s), and %llu page%s per worker stay shared", name, name,
               (unsigned long long)each, each == 1 ? "" : "s");
    return true;
}

static void advice(const cg_report_t *r, cg_sink_t *out, int me)
{
    char text[400];
    for (size_t i = 0; i < r->nadvice && i < 3; i++)
        if (advice_text(r, i, text, sizeof text)) cg_sink_printf(out, "==%d== to keep it shared: %s\n", me, text);
}

/* What the children copied outside marked data, by kind of mapping. */
static void outside(const cg_report_t *r, cg_sink_t *out, int me)
{
    if (!r->outside_measured && !r->nspace) return;
    char total[32];
    cg_bytes_text(r->outside_pages * CG_PAGE, total, sizeof total);
    cg_sink_printf(out, "==%d==\n==%d== copied outside marked data: %s (%llu page%s) in the %u child%s that measured "
                   "%s (pagemap, at %s end)\n", me, me, total, (unsigned long long)r->outside_pages,
                   r->outside_pages == 1 ? "" : "s", r->outside_measured, r->outside_measured == 1 ? "" : "ren",
                   r->outside_measured == 1 ? "itself" : "themselves", r->outside_measured == 1 ? "its" : "their");
    for (size_t i = 0; i < r->nspace; i++) {
        const cg_space_line_t *l = &r->space[i];
        char bytes[32], what[96];
        cg_bytes_text(l->pages * CG_PAGE, bytes, sizeof bytes);
        if (l->kind == CG_SPACE_DATA) cg_fmt(what, sizeof what, "data of %s", l->name);
        else cg_fmt(what, sizeof what, "%s", cg_space_kind_name(l->kind));
        cg_sink_printf(out, "==%d==   %-40s %10s (%llu page%s) in %u process%s\n", me, what, bytes,
                       (unsigned long long)l->pages, l->pages == 1 ? "" : "s", l->processes,
                       l->processes == 1 ? "" : "es");
    }
    if (r->nrows_work > r->nrows_marked) {
        char mode[16];
        cg_option_word(CG_OPTION_ROW(watch), cg_opt.watch, mode, sizeof mode);
        cg_sink_printf(out, "==%d==\n==%d== writes to memory watched in place (COWGUARD_WATCH=%s): %llu first "
                       "writes, %llu of them to shared pages\n", me, me, mode, (unsigned long long)r->watch_faults,
                       (unsigned long long)r->watch_copied);
        causes(r->watch_cause_pages, out, me);
        for (size_t i = r->nrows_marked; i < r->nrows_work && i < r->nrows_marked + TOP_SITES; i++)
            watched_site(r, out, me, i, i - r->nrows_marked + 1);
        if (r->nrows_work - r->nrows_marked > TOP_SITES)
            cg_sink_printf(out, "==%d==   ... %zu more sites (COWGUARD_REPORT_FORMAT=json lists all)\n", me,
                           r->nrows_work - r->nrows_marked - TOP_SITES);
    }
    advice(r, out, me);
}

/* Copied pages the sites do not name (thawed in bulk, stacks off or not
 * kept): one line, so that the sites and it add up to the total. */
static void unattributed(const cg_report_t *r, cg_sink_t *out, int me)
{
    uint64_t rest = r->copied_pages > r->row_pages ? r->copied_pages - r->row_pages : 0;
    if (!rest) return;
    cg_sink_printf(out, "==%d==   and %llu page%s copied without a writer stack%s\n", me,
                   (unsigned long long)rest, rest == 1 ? "" : "s",
                   r->copied_nostack ? ": thawed in bulk when mappings ran short, then written" : "");
}

/* A write site in a few words: "serve at table_counters.c:69", "func at
 * prog.py:22", or "serve (lookup_table+0x17b8)" without line tables. */
static void site_words(const cg_report_t *r, cg_site_id_t id, char *buf, size_t size)
{
    const cg_site_t *s = cg_site_get(id);
    for (uint32_t i = 0; s && i < s->nframes; i++) {
        if (!cg_site_shown(s, i)) continue;
        cg_frame_t f;
        cg_symbolize(s->frames[i], &f);
        const char *fn = f.function ? f.function : "??", *file, *base = strrchr(f.object, '/');
        int line;
        /* a long (C++) name is cut so that file:line always fits */
        if (f.python && f.line == 0) cg_fmt(buf, size, "%s (importing)", f.object);
        else if (f.python) cg_fmt(buf, size, "%.120s at %s:%d", fn, f.object, f.line);
        else if (r->lines && cg_srcline(s->frames[i], &file, &line)) cg_fmt(buf, size, "%.120s at %s:%d", fn, file, line);
        else cg_fmt(buf, size, "%.120s (%s+0x%lx)", fn, base ? base + 1 : f.object, (unsigned long)f.offset);
        return;
    }
    cg_fmt(buf, size, "an unrecorded stack");
}

/* What a cause is, as the subject of "copied by". */
static const char *cause_words(cg_cause_t c)
{
    static const char *const words[CG_CAUSES] = {
        [CG_CAUSE_DATA] = "writes into the data",          [CG_CAUSE_REFCOUNT] = "reference counts",
        [CG_CAUSE_GC] = "the garbage collector",           [CG_CAUSE_HASH] = "cached hashes",
        [CG_CAUSE_FIELD] = "writes to objects' fields",    [CG_CAUSE_ALLOCATOR] = "cowguard's allocator",
        [CG_CAUSE_KERNEL] = "the kernel (system calls)",
    };
    return c < CG_CAUSES ? words[c] : words[CG_CAUSE_DATA];
}

static int top_cause(const uint64_t *pages)
{
    int best = 0;
    for (int c = 1; c < CG_CAUSES; c++)
        if (pages[c] > pages[best]) best = c;
    return best;
}

/* Where most pages outside marked data were copied: "the heap (36.6 MiB)". */
static void space_words(const cg_report_t *r, char *buf, size_t size)
{
    const cg_space_line_t *l = &r->space[0];
    char bytes[32];
    cg_bytes_text(l->pages * CG_PAGE, bytes, sizeof bytes);
    if (l->kind == CG_SPACE_DATA) cg_fmt(buf, size, "the data of %s (%s)", l->name, bytes);
    else if (l->kind == CG_SPACE_ANON) cg_fmt(buf, size, "anonymous memory (%s)", bytes);
    else cg_fmt(buf, size, "the %s (%s)", cg_space_kind_name(l->kind), bytes);
}

#define SMALL_COPY 32 /* pages a child: 128 KiB */

/* The one step most worth taking next: fix what copied most. */
static void next_step(const cg_report_t *r, char *buf, size_t size)
{
    char who[256], what[256];
    uint64_t outside = r->outside_pages;
    if (!r->copied_pages && !outside) {
        if (r->frozen_pages) cg_fmt(buf, size, "nothing to do: the marked data stayed shared");
        else cg_fmt(buf, size, "mark what the workers only read (--min-size SIZE, --sites FUNCTION, --prefork; "
                               "in Python `with cowguard.readonly():`)");
        return;
    }
    if (r->copied_pages >= outside) {
        int c = top_cause(r->cause_pages);
        if (c != CG_CAUSE_DATA || !r->nrows_marked) {
            cg_fmt(buf, size, "%s", cg_cause_remedy((cg_cause_t)c));
            return;
        }
        site_words(r, r->rows[0].writer, who, sizeof who);
        site_words(r, r->rows[0].alloc, what, sizeof what);
        cg_fmt(buf, size, "%s writes what %s allocated (site 1): leave that allocation unmarked, or stop the write",
               who, what);
        return;
    }
    for (size_t i = 0; i < r->nadvice && i < 3; i++)
        if (advice_text(r, i, buf, size)) return;
    /* A few dozen pages a child are what any fork costs: its stack, the C
     * library's and the loader's data. */
    uint64_t each = r->outside_measured ? outside / r->outside_measured : outside;
    if (!r->copied_pages && each < SMALL_COPY) {
        cg_fmt(buf, size, "nothing to do: %llu page%s a child is what any fork costs (stacks, the C library's data)",
               (unsigned long long)each, each == 1 ? "" : "s");
        return;
    }
    if (r->nrows_work > r->nrows_marked) {
        int c = top_cause(r->watch_cause_pages);
        if (c != CG_CAUSE_DATA) {
            cg_fmt(buf, size, "%s", cg_cause_remedy((cg_cause_t)c));
            return;
        }
        site_words(r, r->rows[r->nrows_marked].writer, who, sizeof who);
        cg_fmt(buf, size, "%s writes the copied pages (the first watched site): keep what it writes apart from "
                          "what the workers only read", who);
        return;
    }
    if (r->nspace && r->space[0].kind == CG_SPACE_STACK) cg_fmt(buf, size, "nothing to do: stacks are each worker's own");
    else if (r->nspace && r->space[0].kind == CG_SPACE_DATA)
        cg_fmt(buf, size, "run again with --watch all: it names who writes the copied pages");
    else cg_fmt(buf, size, "run again with --watch heap: it names who writes the copied pages");
}

/* The answer first: what was frozen, what was copied and by which cause,
 * and the next step, one line each (also the JSON report's "summary"). */
void cg_report_summary(const cg_report_t *r, char lines[3][CG_SUMMARY_LINE])
{
    char frozen[32], copied[32], part[2][320], where[256], who[256];
    if (r->frozen_pages && r->pid) {
        cg_bytes_text(r->frozen_pages * CG_PAGE, frozen, sizeof frozen);
        cg_fmt(lines[0], CG_SUMMARY_LINE, "frozen %s of marked data in process %d", frozen, (int)r->pid);
    } else if (r->frozen_pages) {
        cg_bytes_text(r->frozen_pages * CG_PAGE, frozen, sizeof frozen);
        cg_fmt(lines[0], CG_SUMMARY_LINE, "frozen %s of marked data at %llu fork%s, shared by %u child%s", frozen,
               (unsigned long long)r->forks, r->forks == 1 ? "" : "s", r->children, r->children == 1 ? "" : "ren");
    } else if (cg_opt.policy == CG_POLICY_OFF) {
        cg_fmt(lines[0], CG_SUMMARY_LINE, "frozen nothing: COWGUARD_POLICY=off");
    } else {
        cg_fmt(lines[0], CG_SUMMARY_LINE, "frozen nothing: no data was marked");
    }

    /* "1.2 MiB of marked data, most by serve at lookup_table.c:83" and "36.8 MiB
     * outside it, most in the heap (36.6 MiB), written first by ...": the
     * sizes are left out when only one of the two copied. */
    uint64_t total = r->copied_pages + r->outside_pages;
    bool both = r->copied_pages && r->outside_pages;
    char size[2][32] = { "", "" }, by[2][300] = { "", "" };
    part[0][0] = part[1][0] = 0;
    if (r->copied_pages) {
        int c = top_cause(r->cause_pages);
        if (both) cg_bytes_text(r->copied_pages * CG_PAGE, size[0], sizeof size[0]);
        if (r->nrows_marked) site_words(r, r->rows[0].writer, who, sizeof who);
        else cg_fmt(who, sizeof who, "writes without a stack");
        if (c == CG_CAUSE_DATA) cg_fmt(by[0], sizeof by[0], "%s", who);
        else cg_fmt(by[0], sizeof by[0], "%s (%s)", who, cause_words((cg_cause_t)c));
        cg_fmt(part[0], sizeof part[0], "%s%sof marked data, most by %s", size[0], both ? " " : "", by[0]);
    }
    if (r->outside_pages) {
        int c = top_cause(r->watch_cause_pages);
        if (both) cg_bytes_text(r->outside_pages * CG_PAGE, size[1], sizeof size[1]);
        where[0] = 0;
        if (r->nspace) {
            cg_fmt(where, sizeof where, ", most in ");
            space_words(r, where + strlen(where), sizeof where - strlen(where));
        }
        if (r->nrows_work > r->nrows_marked) {
            site_words(r, r->rows[r->nrows_marked].writer, who, sizeof who);
            if (c == CG_CAUSE_DATA) cg_fmt(by[1], sizeof by[1], ", written first by %s", who);
            else cg_fmt(by[1], sizeof by[1], ", written first by %s (%s)", who, cause_words((cg_cause_t)c));
        }
        cg_fmt(part[1], sizeof part[1], "%s%s%s%s", both ? size[1] : "all",
               both ? " outside it" : " outside marked data", where, by[1]);
    }
    if (!total) {
        cg_fmt(lines[1], CG_SUMMARY_LINE, "copied nothing%s", r->outside_measured ? ", marked data or other" : "");
    } else {
        cg_bytes_text(total * CG_PAGE, copied, sizeof copied);
        cg_fmt(lines[1], CG_SUMMARY_LINE, "copied %s%s (%llu page%s)%s%s%s%s", r->lower_bounds ? "at least " : "",
               copied, (unsigned long long)total, total == 1 ? "" : "s", both ? ": " : r->copied_pages ? " " : ", ",
               part[0], both ? "; " : "", part[1]);
    }
    char step[CG_SUMMARY_LINE - 8];
    next_step(r, step, sizeof step);
    cg_fmt(lines[2], CG_SUMMARY_LINE, "next: %s", step);
}

void cg_report_text(const cg_report_t *r, cg_sink_t *out)
{
    int me = (int)getpid();
    char frozen[32], marked[32], shared[32], copied[32], late[32], policy[16];
    cg_option_word(CG_OPTION_ROW(policy), cg_opt.policy, policy, sizeof policy);
    cg_bytes_text(r->frozen_pages * CG_PAGE, frozen, sizeof frozen);
    cg_bytes_text(r->marked_bytes, marked, sizeof marked);
    cg_bytes_text(r->shared_pages * CG_PAGE, shared, sizeof shared);
    cg_bytes_text(r->copied_pages * CG_PAGE, copied, sizeof copied);
    cg_bytes_text(r->exit_copied * CG_PAGE, late, sizeof late);

    if (!r->pid && !r->frozen_pages && !r->outside_pages && !r->watch_faults && !r->faults) {
        /* Nothing marked, and the workers copied nothing: one line. */
        uint32_t ran = r->children > r->outside_measured ? r->children - r->outside_measured : 0;
        if (ran == r->children) /* every child ran another program: nothing was shared to copy */
            cg_sink_printf(out, "==%d== cowguard %s: process tree %d (%u processes): nothing marked, and every "
                           "child ran another program (exec), which shares no memory with it\n", me, PACKAGE_VERSION,
                           (int)r->root_pid, r->processes);
        else
            cg_sink_printf(out, "==%d== cowguard %s: process tree %d (%u processes): nothing marked, and the "
                           "children copied nothing outside marked data%s\n", me, PACKAGE_VERSION, (int)r->root_pid,
                           r->processes, ran ? " (some ran another program, which shares nothing)" : "");
        return;
    }
    if (r->pid)
        cg_sink_printf(out, "==%d== cowguard %s: copy-on-write report for process %d of tree %d (policy %s)\n",
                       me, PACKAGE_VERSION, (int)r->pid, (int)r->root_pid, policy);
    else
        cg_sink_printf(out, "==%d== cowguard %s: copy-on-write report for process tree %d (policy %s)\n", me,
                       PACKAGE_VERSION, (int)r->root_pid, policy);
    static char lines[3][CG_SUMMARY_LINE]; /* static: exit paths get no large stack frames */
    cg_report_summary(r, lines);
    for (int i = 0; i < 3; i++) cg_sink_printf(out, "==%d== summary: %s\n", me, lines[i]);
    cg_sink_printf(out, "==%d==\n", me);
    if (r->frozen_pages)
        cg_sink_printf(out, "==%d== frozen: %s (%llu pages) of marked data, %s of it in live blocks, at %llu fork%s\n",
                       me, frozen, (unsigned long long)r->frozen_pages, marked, (unsigned long long)r->forks,
                       r->forks == 1 ? "" : "s");
    else
        cg_sink_printf(out, "==%d== frozen: nothing (no data was marked)\n", me);
    if (r->frozen_pages || r->faults)
        cg_sink_printf(out, "==%d== processes: %u; copied: %s%s (%llu page%s) while working; trapped writes: %llu\n",
                       me, r->processes, r->lower_bounds ? "at least " : "", copied,
                       (unsigned long long)r->copied_pages, r->copied_pages == 1 ? "" : "s",
                       (unsigned long long)r->faults);
    else
        cg_sink_printf(out, "==%d== processes: %u\n", me, r->processes);
    if (r->children && r->frozen_pages)
        cg_sink_printf(out, "==%d== stayed shared: %s, resident in the %u of %u children that measured "
                       "themselves\n", me, shared, r->shared_measured, r->children);
    causes(r->cause_pages, out, me);
    python_note(out, me);
    if (r->exit_copied || r->exit_faults)
        cg_sink_printf(out, "==%d== during exit: %s (%llu pages) copied by %llu trapped writes, not counted "
                       "above\n", me, late, (unsigned long long)r->exit_copied,
                       (unsigned long long)r->exit_faults);
    if (r->outside_exit_pages) {
        char teardown[32];
        cg_bytes_text(r->outside_exit_pages * CG_PAGE, teardown, sizeof teardown);
        cg_sink_printf(out, "==%d== during exit: %s (%llu pages) copied outside marked data by the program's own "
                       "teardown (after exit() began, or its interpreter began to finalize), not counted below\n", me,
                       teardown, (unsigned long long)r->outside_exit_pages);
    }
    /* Memory a worker allocated for itself is not copy-on-write's doing:
     * said when it is large (16 MiB a worker, and a quarter of what was
     * frozen) and outweighs what was copied. */
    if (r->shared_measured && r->own_peak_kb > 0) {
        uint64_t own_each = (uint64_t)r->own_peak_kb * 1024 / r->shared_measured;
        uint64_t copied_each = r->copied_pages * CG_PAGE / (r->children ? r->children : 1);
        uint64_t large = r->frozen_pages * CG_PAGE / 4;
        if (own_each > copied_each && own_each >= ((uint64_t)16 << 20) && own_each >= large) {
            char own[32];
            cg_bytes_text(own_each, own, sizeof own);
            cg_sink_printf(out, "==%d== workers' own memory grew up to %s each: allocated in the worker, not "
                           "copied\n", me, own);
        }
    }
    if (r->outside_measured) {
        char all[32];
        cg_bytes_text((r->copied_pages + r->outside_pages) * CG_PAGE, all, sizeof all);
        cg_sink_printf(out, "==%d== copied in all: %s (%llu pages): %llu of marked data, %llu outside it\n", me, all,
                       (unsigned long long)(r->copied_pages + r->outside_pages), (unsigned long long)r->copied_pages,
                       (unsigned long long)r->outside_pages);
    }
    if (r->nrows_marked || r->copied_pages) {
        cg_sink_printf(out, "==%d==\n==%d== top write sites:\n", me, me);
        for (size_t i = 0; i < r->nrows_marked && i < TOP_SITES; i++) site(r, out, me, i, i + 1);
        if (r->nrows_marked > TOP_SITES)
            cg_sink_printf(out, "==%d==   ... %zu more sites (COWGUARD_REPORT_FORMAT=json lists all)\n", me,
                           r->nrows_marked - TOP_SITES);
        unattributed(r, out, me);
    }
    outside(r, out, me);
    if (r->nrows > r->nrows_work) {
        cg_sink_printf(out, "==%d==\n==%d== write sites during exit:\n", me, me);
        for (size_t i = r->nrows_work; i < r->nrows && i < r->nrows_work + 3; i++)
            site(r, out, me, i, i - r->nrows_work + 1);
        if (r->nrows - r->nrows_work > 3)
            cg_sink_printf(out, "==%d==   ... %zu more (COWGUARD_REPORT_FORMAT=json lists all)\n", me,
                           r->nrows - r->nrows_work - 3);
    }
    cg_sink_printf(out, "==%d==\n", me);
    processes(r, out, me);
    warnings(r, out, me);
}
