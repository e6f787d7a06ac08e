/* json.c: the JSON report. The core fields and their meaning are
 * fixed (docs/report.md); more may be added, none renamed. */
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "report.h"
#include "sys.h"

/* The length of the valid UTF-8 sequence at p (shortest form, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    if (c >= 0xf5) n = 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))) return 0; /* overlong, surrogate */
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))) return 0; /* overlong, > U+10FFFF */
    return n;
}

/* A JSON string. Paths and symbol names are bytes: a byte that is not part
 * of valid UTF-8 is written as the escape \udcXX (a lone low surrogate,
 * as Python's surrogateescape decodes it), so the document stays valid
 * and the original bytes can be recovered. */
static void str(cg_sink_t *out, const char *s)
{
    char buf[256];
    size_t n = 0;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (n > sizeof buf - 16) {
            buf[n] = '\0';
            cg_sink_printf(out, "%s", buf);
            n = 0;
        }
        if (*p == '"' || *p == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)*p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            n += cg_fmt(buf + n, sizeof buf - n, "\\u%04x", *p++);
        } else if (*p < 0x80) {
            buf[n++] = (char)*p++;
        } else {
            size_t len = utf8_len(p);
            if (len == 0) {
                n += cg_fmt(buf + n, sizeof buf - n, "\\udc%02x", *p++);
            } else {
                for (size_t i = 0; i < len; i++) buf[n++] = (char)*p++;
            }
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    cg_sink_printf(out, "%s", buf);
}

static void frames(cg_sink_t *out, cg_site_id_t id, bool lines)
{
    const cg_site_t *s = cg_site_get(id);
    cg_sink_printf(out, "[");
    for (uint32_t i = 0; s && i < s->nframes; i++) {
        cg_frame_t f;
        cg_symbolize(s->frames[i], &f);
        cg_sink_printf(out, "%s{\"function\": ", i ? ", " : "");
        if (f.function) str(out, f.function);
        else cg_sink_printf(out, "null");
        cg_sink_printf(out, ", \"object\": ");
        str(out, f.object);
        cg_sink_printf(out, ", \"offset\": \"0x%lx\"", (unsigned long)f.offset);
        if (f.python) { /* object is the .py file; offset means nothing */
            cg_sink_printf(out, ", \"python\": true, \"file\": ");
            str(out, f.object);
            cg_sink_printf(out, ", \"line\": %d}", f.line);
            continue;
        }
        if (f.interpreter) cg_sink_printf(out, ", \"interpreter\": true");
        const char *file;
        int line;
        if (lines && cg_srcline(s->frames[i], &file, &line)) {
            cg_sink_printf(out, ", \"file\": ");
            str(out, file);
            cg_sink_printf(out, ", \"line\": %d", line);
        }
        cg_sink_printf(out, "}");
    }
    cg_sink_printf(out, "]");
}

static void num_or_null(cg_sink_t *out, const char *name, int64_t v, bool known)
{
    if (known) cg_sink_printf(out, "\"%s\": %lld", name, (long long)v);
    else cg_sink_printf(out, "\"%s\": null", name);
}

typedef struct {
    cg_sink_t *out;
    bool first;
} each_t;

static void process(const cg_proc_t *p, void *arg)
{
    each_t *e = arg;
    cg_sink_t *out = e->out;
    cg_sink_printf(out, "%s", e->first ? "" : ",\n");
    e->first = false;
    cg_sink_printf(out, "    {\"pid\": %d, \"ppid\": %d, \"role\": \"%s\", \"exit\": {\"how\": \"%s\", ",
                   (int)p->pid, (int)p->ppid, p->root ? "root" : "child", cg_exit_how_name(p->how));
    bool exited = p->how != CG_EXIT_RUNNING && p->how != CG_EXIT_SIGNAL;
    num_or_null(out, "code", p->code, exited);
    cg_sink_printf(out, ", ");
    num_or_null(out, "signal", p->signal, p->how == CG_EXIT_SIGNAL);
    cg_sink_printf(out, "},\n     \"frozen_bytes\": %llu, \"faults\": %llu, \"copied_pages\": %llu, "
                        "\"copied_bytes\": %llu, \"copied_lower_bound\": %s,\n     ",
                   (unsigned long long)(p->frozen_pages * CG_PAGE), (unsigned long long)p->faults,
                   (unsigned long long)p->copied_pages, (unsigned long long)(p->copied_pages * CG_PAGE),
                   p->lower_bound ? "true" : "false");
    cg_sink_printf(out, "\"copied_nostack_pages\": %llu, \"copied_estimated_pages\": %llu, \"pending_pages\": %llu, "
                        "\"exit_faults\": %llu, \"exit_copied_pages\": %llu,\n     ",
                   (unsigned long long)p->copied_nostack, (unsigned long long)p->copied_estimated,
                   (unsigned long long)p->pending, (unsigned long long)p->exit_faults,
                   (unsigned long long)p->exit_copied);
    num_or_null(out, "shared_bytes", p->shared_pages * (int64_t)CG_PAGE, p->shared_pages >= 0);
    cg_sink_printf(out, ", ");
    num_or_null(out, "private_dirty_kb", p->private_dirty_kb, p->private_dirty_kb >= 0);
    cg_sink_printf(out, ", ");
    num_or_null(out, "pss_kb", p->pss_kb, p->pss_kb >= 0);
    cg_sink_printf(out, ", ");
    num_or_null(out, "own_kb", p->own_kb, p->own_kb >= 0);
    cg_sink_printf(out, ", ");
    num_or_null(out, "own_peak_kb", p->own_peak_kb, p->own_peak_kb >= 0);
    cg_sink_printf(out, ",\n     ");
    num_or_null(out, "outside_copied_pages", p->outside_pages, p->outside_pages >= 0);
    cg_sink_printf(out, ", ");
    num_or_null(out, "outside_exit_copied_pages", p->outside_exit_pages, p->outside_exit_pages >= 0);
    cg_sink_printf(out, ", \"watched_writes\": %llu, \"watched_copied_pages\": %llu",
                   (unsigned long long)p->watch_faults, (unsigned long long)p->watch_copied);
    cg_sink_printf(out, ", \"measured\": %s}", p->measured ? "true" : "false");
}

/* What the children copied outside marked data, and what marking would
 * keep shared. */
static void outside(const cg_report_t *r, cg_sink_t *out)
{
    char mode[16];
    cg_option_word(CG_OPTION_ROW(watch), cg_opt.watch, mode, sizeof mode);
    cg_sink_printf(out, " \"outside\": {\"measured_children\": %u, \"copied_pages\": %llu, \"copied_bytes\": %llu, "
                        "\"exit_copied_pages\": %llu, "
                        "\"watch\": \"%s\", \"watched_writes\": %llu, \"watched_copied_pages\": %llu,\n  \"mappings\": [",
                   r->outside_measured, (unsigned long long)r->outside_pages,
                   (unsigned long long)(r->outside_pages * CG_PAGE), (unsigned long long)r->outside_exit_pages, mode, (unsigned long long)r->watch_faults,
                   (unsigned long long)r->watch_copied);
    for (size_t i = 0; i < r->nspace; i++) {
        cg_sink_printf(out, "%s{\"kind\": \"%s\", \"object\": ", i ? ", " : "", cg_space_kind_name(r->space[i].kind));
        if (r->space[i].kind == CG_SPACE_DATA) str(out, r->space[i].name);
        else cg_sink_printf(out, "null");
        cg_sink_printf(out, ", \"pages\": %llu, \"processes\": %u}", (unsigned long long)r->space[i].pages,
                       r->space[i].processes);
    }
    uint32_t workers = r->watch_children ? r->watch_children : 1;
    cg_sink_printf(out, "],\n  \"advice\": [");
    for (size_t i = 0; i < r->nadvice; i++) {
        const cg_advice_t *a = &r->advice[i];
        cg_sink_printf(out, "%s\n   {\"bytes\": %llu, \"pages_per_worker\": %llu, \"allocated\": ", i ? "," : "",
                       (unsigned long long)a->bytes,
                       (unsigned long long)((a->bytes / CG_PAGE + workers / 2) / workers));
        frames(out, a->site, r->lines);
        cg_sink_printf(out, "}");
    }
    cg_sink_printf(out, "%s]},\n", r->nadvice ? "\n  " : "");
}

void cg_report_json(const cg_report_t *r, cg_sink_t *out)
{
    char policy[16];
    struct utsname u;
    if (cg_sys_uname(&u) != 0) u.nodename[0] = '\0';
    cg_sink_printf(out, "{\"cowguard\": \"%s\", \"root_pid\": %d, \"policy\": \"%s\",\n", PACKAGE_VERSION,
                   (int)r->root_pid, cg_option_word(CG_OPTION_ROW(policy), cg_opt.policy, policy, sizeof policy));
    cg_sink_printf(out, " \"scope\": \"%s\", \"pid\": %d, \"host\": ", r->pid ? "process" : "tree",
                   (int)getpid());
    str(out, u.nodename);
    cg_sink_printf(out, ", \"page_size\": %zu,\n", CG_PAGE);
    uint64_t unattributed = r->copied_pages > r->row_pages ? r->copied_pages - r->row_pages : 0;
    cg_sink_printf(out, " \"totals\": {\"processes\": %u, \"frozen_bytes\": %llu, \"shared_bytes\": %llu, "
                        "\"copied_bytes\": %llu, \"copied_pages\": %llu, \"faults\": %llu, "
                        "\"marked_bytes\": %llu, \"forks\": %llu, \"outside_copied_pages\": %llu, "
                        "\"all_copied_pages\": %llu, \"all_copied_bytes\": %llu,\n            ",
                   r->processes, (unsigned long long)(r->frozen_pages * CG_PAGE),
                   (unsigned long long)(r->shared_pages * CG_PAGE),
                   (unsigned long long)(r->copied_pages * CG_PAGE), (unsigned long long)r->copied_pages,
                   (unsigned long long)r->faults, (unsigned long long)r->marked_bytes,
                   (unsigned long long)r->forks, (unsigned long long)r->outside_pages,
                   (unsigned long long)(r->copied_pages + r->outside_pages),
                   (unsigned long long)((r->copied_pages + r->outside_pages) * CG_PAGE));
    cg_sink_printf(out, "\"shared_measured_children\": %u, \"children\": %u, \"own_bytes\": %lld, "
                        "\"own_peak_bytes\": %lld, "
                        "\"copied_lower_bound\": %s, \"copied_unattributed_pages\": %llu, "
                        "\"copied_nostack_pages\": %llu, \"copied_estimated_pages\": %llu, "
                        "\"exit_faults\": %llu, \"exit_copied_pages\": %llu},\n",
                   r->shared_measured, r->children, (long long)r->own_kb * 1024, (long long)r->own_peak_kb * 1024,
                   r->lower_bounds ? "true" : "false",
                   (unsigned long long)unattributed, (unsigned long long)r->copied_nostack,
                   (unsigned long long)r->copied_estimated, (unsigned long long)r->exit_faults,
                   (unsigned long long)r->exit_copied);
    static char lines[3][CG_SUMMARY_LINE]; /* static: exit paths get no large stack frames */
    cg_report_summary(r, lines);
    cg_sink_printf(out, " \"summary\": [");
    for (int i = 0; i < 3; i++) {
        if (i) cg_sink_printf(out, ", ");
        str(out, lines[i]);
    }
    cg_sink_printf(out, "],\n");
    cg_sink_printf(out, " \"causes\": {");
    for (int c = 0, n = 0; c < CG_CAUSES; c++) {
        if (!r->cause_pages[c] && !r->cause_writes[c]) continue;
        cg_sink_printf(out, "%s\"%s\": {\"pages\": %llu, \"writes\": %llu, \"remedy\": ", n++ ? ", " : "",
                       cg_cause_name(c), (unsigned long long)r->cause_pages[c], (unsigned long long)r->cause_writes[c]);
        str(out, cg_cause_remedy(c));
        cg_sink_printf(out, "}");
    }
    bool pyframes;
    const char *pyv = cg_py_version(&pyframes);
    cg_sink_printf(out, "},\n \"python\": ");
    if (pyv) cg_sink_printf(out, "{\"version\": \"%s\", \"frames\": %s},\n", pyv, pyframes ? "true" : "false");
    else cg_sink_printf(out, "null,\n");

    outside(r, out);
    cg_sink_printf(out, " \"processes\": [\n");
    each_t e = { out, true };
    cg_report_each(r, process, &e);
    cg_sink_printf(out, "\n ],\n \"sites\": [");
    for (size_t i = 0; i < r->nrows; i++) {
        const cg_row_t *row = &r->rows[i];
        cg_sink_printf(out, "%s\n  {\"pages\": %llu, \"writes\": %llu, \"processes\": %u, \"phase\": \"%s\", "
                            "\"cause\": \"%s\", \"watched\": %s,\n   \"writer\": ",
                       i ? "," : "", (unsigned long long)row->pages, (unsigned long long)row->writes,
                       row->processes, row->late ? "exit" : "work", cg_cause_name(row->cause),
                       row->watched ? "true" : "false");
        frames(out, row->writer, r->lines);
        cg_sink_printf(out, ",\n   \"allocated\": ");
        frames(out, row->alloc, r->lines);
        cg_site_id_t by;
        uint64_t blocks, pages = row->watched ? cg_report_beside(r, row->alloc, &by, &blocks) : 0;
        if (pages) {
            cg_sink_printf(out, ",\n   \"beside\": {\"blocks\": %llu, \"pages\": %llu, \"allocated\": ",
                           (unsigned long long)blocks, (unsigned long long)pages);
            frames(out, by, r->lines);
            cg_sink_printf(out, "}");
        }
        cg_sink_printf(out, "}");
    }
    cg_sink_printf(out, "%s],\n \"lost\": {\"processes\": %u, \"stacks\": %u, \"writes\": %u, \"pages\": %llu}\n}\n",
                   r->nrows ? "\n " : "", r->lost, r->lost_sites, r->lost_writes + r->lost_rows,
                   (unsigned long long)r->lost_pages);
}
