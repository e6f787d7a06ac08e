/* report_text.c: the text report, sanitizer style (==PID== on each line).
 * In order: what was frozen, how many processes shared it, what stayed
 * shared and what was copied, the top write sites, a table of processes,
 * warnings. See docs/report.md. */
#include <unistd.h>

#include "config.h"
#include "internal.h"

#define TOP_SITES 10

static const char *policy_name(void)
{
    static const char *names[] = { "report", "abort", "off" };
    return names[cg_opt.policy < 3 ? cg_opt.policy : 0];
}

static void stack(cg_sink_t *out, int me, const char *title, uint16_t id, bool lines)
{
    const cg_site_t *s = cg_site_get(id);
    if (!s) {
        cg_sink_printf(out, "==%d==     %s: (no stack recorded)\n", me, title);
        return;
    }
    cg_sink_printf(out, "==%d==     %s:\n", me, title);
    for (uint32_t i = 0; i < s->nframes; i++) {
        cg_frame_t f;
        cg_symbolize(s->frames[i], &f);
        const char *file;
        int line;
        if (lines && cg_srcline(s->frames[i], &file, &line))
            cg_sink_printf(out, "==%d==       #%u %p in %s %s:%d (%s+0x%lx)\n", me, i, (void *)(s->frames[i] - 1),
                           f.function ? f.function : "??", file, line, f.object, (unsigned long)f.offset);
        else
            cg_sink_printf(out, "==%d==       #%u %p in %s %s+0x%lx\n", me, i, (void *)(s->frames[i] - 1),
                           f.function ? f.function : "??", f.object, (unsigned long)f.offset);
    }
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

static void processes(const cg_report_t *r, cg_sink_t *out, int me)
{
    cg_board_t *b = cg_board;
    cg_sink_printf(out, "==%d== %8s %8s  %-6s %-12s %10s %10s %8s %14s %12s\n", me, "pid", "ppid", "role",
                   "exit", "frozen", "copied", "trapped", "Private_Dirty", "Pss");
    uint32_t n = atomic_load(&b->nslots);
    for (uint32_t i = 0; i < n; i++) {
        cg_proc_t p;
        if (!atomic_load(&b->slots[i].pid)) continue;
        cg_report_process(&b->slots[i], &p);
        if (r->pid && p.pid != r->pid) continue;
        char ex[32], frozen[24], copied[24], pd[24], pss[24];
        exit_text(&p, ex, sizeof ex);
        cg_bytes_text(p.frozen_pages * CG_PAGE, frozen, sizeof frozen);
        cg_bytes_text(p.copied_pages * CG_PAGE, copied, sizeof copied);
        kb_text(p.private_dirty_kb, pd, sizeof pd);
        kb_text(p.pss_kb, pss, sizeof pss);
        cg_sink_printf(out, "==%d== %8d %8d  %-6s %-12s %10s %10s %8llu %14s %12s\n", me, (int)p.pid,
                       (int)p.ppid, p.root ? "root" : "child", ex, frozen, copied,
                       (unsigned long long)p.faults, pd, pss);
    }
}

static void warnings(const cg_report_t *r, cg_sink_t *out, int me)
{
    cg_board_t *b = cg_board;
    uint32_t n = atomic_load(&b->nslots);
    for (uint32_t i = 0; i < n; i++) {
        cg_proc_t p;
        if (!atomic_load(&b->slots[i].pid)) continue;
        cg_report_process(&b->slots[i], &p);
        if ((r->pid && p.pid != r->pid) || p.measured) continue;
        if (p.how == CG_EXIT_SIGNAL)
            cg_sink_printf(out, "==%d== warning: child %d was killed by %s: counters are live values, "
                           "no exit measurement\n", me, (int)p.pid, cg_signal_name(p.signal));
        else if (p.how == CG_EXIT_RUNNING)
            cg_sink_printf(out, "==%d== warning: %s %d had not exited (or was not reaped) when this "
                           "report was written: its numbers are as far as they went\n", me,
                           p.root ? "process" : "child", (int)p.pid);
        else
            cg_sink_printf(out, "==%d== warning: child %d exited without cowguard seeing it (after "
                           "exec, say): counters are live values, no exit measurement\n", me, (int)p.pid);
    }
    if (r->lost)
        cg_sink_printf(out, "==%d== warning: %u processes found no slot on the board and are not counted\n",
                       me, r->lost);
    if (r->lost_sites || r->lost_writes || r->lost_rows)
        cg_sink_printf(out, "==%d== warning: the site tables were full: %u stacks and %u writes went "
                       "unattributed\n", me, r->lost_sites, r->lost_writes + r->lost_rows);
}

void cg_report_text(const cg_report_t *r, cg_sink_t *out)
{
    int me = (int)getpid();
    char frozen[32], marked[32], shared[32], copied[32];
    cg_bytes_text(r->frozen_pages * CG_PAGE, frozen, sizeof frozen);
    cg_bytes_text(r->marked_bytes, marked, sizeof marked);
    cg_bytes_text(r->shared_pages * CG_PAGE, shared, sizeof shared);
    cg_bytes_text(r->copied_pages * CG_PAGE, copied, sizeof copied);

    if (r->pid)
        cg_sink_printf(out, "==%d== cowguard %s: copy-on-write report for process %d of tree %d (policy %s)\n",
                       me, PACKAGE_VERSION, (int)r->pid, (int)r->root_pid, policy_name());
    else
        cg_sink_printf(out, "==%d== cowguard %s: copy-on-write report for process tree %d (policy %s)\n", me,
                       PACKAGE_VERSION, (int)r->root_pid, policy_name());
    cg_sink_printf(out, "==%d== frozen: %s (%llu pages) of marked data, %s of it in live blocks, at %llu fork%s\n",
                   me, frozen, (unsigned long long)r->frozen_pages, marked, (unsigned long long)r->forks,
                   r->forks == 1 ? "" : "s");
    cg_sink_printf(out, "==%d== processes: %u; stayed shared: %s; copied: %s (%llu page%s); trapped writes: %llu\n",
                   me, r->processes, shared, copied, (unsigned long long)r->copied_pages, r->copied_pages == 1 ? "" : "s",
                   (unsigned long long)r->faults);
    if (r->nrows) {
        cg_sink_printf(out, "==%d==\n==%d== top write sites:\n", me, me);
        for (size_t i = 0; i < r->nrows && i < TOP_SITES; i++) {
            const cg_row_t *row = &r->rows[i];
            cg_sink_printf(out, "==%d==   site %zu: %llu page%s copied, by %llu trapped write%s in %u process%s\n",
                           me, i + 1, (unsigned long long)row->pages, row->pages == 1 ? "" : "s",
                           (unsigned long long)row->writes, row->writes == 1 ? "" : "s", row->processes,
                           row->processes == 1 ? "" : "es");
            stack(out, me, "written by", row->writer, r->lines);
            stack(out, me, "into memory allocated by", row->alloc, r->lines);
        }
        if (r->nrows > TOP_SITES)
            cg_sink_printf(out, "==%d==   ... %zu more sites (COWGUARD_REPORT_FORMAT=json lists all)\n", me,
                           r->nrows - TOP_SITES);
    }
    cg_sink_printf(out, "==%d==\n", me);
    processes(r, out, me);
    warnings(r, out, me);
}
