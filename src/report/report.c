/* report.c: a report, written.
 *
 * At its end each process measures itself (measure.c); the root of the
 * tree then writes the report for the whole tree, and any other process a
 * report of its own when COWGUARD_REPORT is a file template with %p (the
 * interpose layer's exit path decides when). The numbers come from
 * model.c, the form from text.c or json.c, the destination from
 * destination.c. Nothing here allocates or uses stdio: _exit may be
 * called from a signal handler. */
#include "report.h"

static void emit(const cg_report_t *r, cg_sink_t *out, int fd)
{
    out->fd = fd;
    out->len = 0;
    out->failed = false;
    if (cg_opt.report_format == CG_FORMAT_JSON) cg_report_json(r, out);
    else cg_report_text(r, out);
    cg_sink_flush(out);
}

/* Is there a report to write? Not with COWGUARD_REPORT=off, and not for a
 * tree in which nothing was ever frozen, unless every child was measured
 * (COWGUARD_MEASURE=all) and there were children. */
bool cg_report_wanted(void)
{
    return cg_board &&
           (atomic_load(&cg_board->max_frozen_pages) != 0 ||
            (cg_outside_wanted() && atomic_load(&cg_board->nslots) > 1)) &&
           !cg_dest_off();
}

/* Write the report of the whole tree (pid 0) or of process pid. lines:
 * file:line may be looked up (libdw allocates: not from a signal handler). */
static cg_report_t r; /* static: exit paths get no large stack frames */

void cg_report_write(int32_t pid, bool lines)
{
    static cg_sink_t out;
    static cg_dest_t d;
    if (!cg_board || !cg_dest_open(&d, pid == 0)) return;
    cg_report_build(&r, pid);
    r.lines = lines;
    emit(&r, &out, d.fd);
    if (!cg_dest_close(&d, out.failed) && pid == 0) emit(&r, &out, cg_dest_stderr());
}

typedef struct {
    int32_t pid;
    uint64_t pages;
} worst_t;

static void worst_process(const cg_proc_t *p, void *arg)
{
    worst_t *w = arg;
    uint64_t pages = p->copied_pages + (p->outside_pages > 0 ? (uint64_t)p->outside_pages : 0);
    if (pages > w->pages) *w = (worst_t){ p->pid, pages };
}

/* COWGUARD_MAX_COPIED, in the root at its end: did the tree copy more
 * than that, marked data and the rest? Then one line says so, naming the
 * process that copied most and the write site with most pages. */
bool cg_report_over_budget(void)
{
    if (!cg_opt.max_copied || !cg_board || !cg_board_is_root()) return false;
    cg_report_build(&r, 0);
    uint64_t pages = r.copied_pages + r.outside_pages, bytes = pages * CG_PAGE;
    if (bytes <= cg_opt.max_copied) return false;
    worst_t w = { 0, 0 };
    cg_report_each(&r, worst_process, &w);
    char total[32], max[32], most[32], where[256] = "";
    cg_bytes_text(bytes, total, sizeof total);
    cg_bytes_text(cg_opt.max_copied, max, sizeof max);
    cg_bytes_text(w.pages * CG_PAGE, most, sizeof most);
    if (r.nrows_work) {
        const cg_site_t *s = cg_site_get(r.rows[0].writer);
        for (uint32_t i = 0; s && i < s->nframes; i++) {
            if (!cg_site_shown(s, i)) continue;
            cg_frame_t f;
            cg_symbolize(s->frames[i], &f);
            if (f.python) cg_fmt(where, sizeof where, "; most pages written at %s:%d in %s", f.object, f.line,
                                 f.function ? f.function : "??");
            else cg_fmt(where, sizeof where, "; most pages written in %s (%s+0x%lx)", f.function ? f.function : "??",
                        f.object, (unsigned long)f.offset);
            break;
        }
    }
    if (!where[0] && r.nspace) {
        const cg_space_line_t *l = &r.space[0];
        if (l->kind == CG_SPACE_DATA) cg_fmt(where, sizeof where, "; most pages in the data of %s", l->name);
        else cg_fmt(where, sizeof where, "; most pages in %s memory", cg_space_kind_name(l->kind));
    }
    cg_message("the tree copied %s, more than COWGUARD_MAX_COPIED=%s: process %d copied most (%s)%s", total, max,
               (int)w.pid, most, where);
    return true;
}
