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
 * tree in which nothing was ever frozen. */
bool cg_report_wanted(void)
{
    /* Nothing marked: a report only when every child was measured, and
     * there were children. */
    return cg_board &&
           (atomic_load(&cg_board->max_frozen_pages) != 0 ||
            (cg_outside_wanted() && atomic_load(&cg_board->nslots) > 1)) &&
           !cg_dest_off();
}

/* Write the report of the whole tree (pid 0) or of process pid. lines:
 * file:line may be looked up (libdw allocates: not from a signal handler). */
void cg_report_write(int32_t pid, bool lines)
{
    static cg_report_t r; /* static: exit paths get no large stack frames */
    static cg_sink_t out;
    static cg_dest_t d;
    if (!cg_board || !cg_dest_open(&d, pid == 0)) return;
    cg_report_build(&r, pid);
    r.lines = lines;
    emit(&r, &out, d.fd);
    if (!cg_dest_close(&d, out.failed) && pid == 0) emit(&r, &out, cg_dest_stderr());
}
