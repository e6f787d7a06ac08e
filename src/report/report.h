/* report.h: what the kernel says at a process's end, and the report of
 * the tree (above attrib). Nothing here allocates or uses stdio: a report
 * may be written from _exit, which a signal handler may call. */
#ifndef CG_REPORT_H
#define CG_REPORT_H

#include "attrib.h"

#pragma GCC visibility push(hidden) /* as in base.h */

#define CG_REPORT_ROWS 8192

/* One (writer site, allocation site) pair, over the processes in scope. */
typedef struct cg_row_s {
    cg_site_id_t writer, alloc; /* of the rows merged into this one, the one with most pages */
    cg_cause_t cause;
    bool late;       /* writes made after the processes began to exit */
    bool watched;    /* into memory watched in place (COWGUARD_WATCH), not marked data */
    uint64_t fold_writer, fold_alloc; /* the stacks as shown (attrib's cg_site_fold): rows alike merge */
    uint32_t processes;
    uint64_t pages;  /* copied */
    uint64_t writes; /* trapped */
} cg_row_t;

/* One process, as reported. */
typedef struct cg_proc_s {
    int32_t pid, ppid;
    bool root;
    bool measured;           /* the kernel's numbers, read as it ended */
    bool lower_bound;        /* copied_pages may be short: killed before it could settle its pending pages */
    cg_exit_how_t how;
    int code, signal;
    uint64_t frozen_pages, faults, copied_pages;
    uint64_t copied_nostack, copied_estimated, exit_faults, exit_copied, pending;
    int64_t private_dirty_kb, pss_kb, own_kb, own_peak_kb, shared_pages; /* -1: not measured */
    int64_t outside_pages;   /* copied outside marked data while it worked; -1: not measured */
    int64_t outside_exit_pages; /* and after it began to exit */
    uint64_t watch_faults, watch_copied;
} cg_proc_t;

/* Pages copied outside marked data, of one kind of mapping and object. */
typedef struct cg_space_line_s {
    cg_space_kind_t kind;
    const char *name;
    uint64_t pages;
    uint32_t processes;
} cg_space_line_t;

/* What marking one allocation site would keep shared: its blocks lay on
 * pages that writes into other blocks copied, and were never written. */
typedef struct cg_advice_s {
    cg_site_id_t site;
    uint64_t bytes;   /* of its blocks on the copied pages, over the tree */
    uint64_t pages;   /* copied pages they lay on */
} cg_advice_t;
#define CG_ADVICE_MAX 8

typedef struct cg_report_s {
    int32_t pid;             /* 0: the whole tree; else this process only */
    int32_t root_pid;
    uint32_t processes;
    uint64_t forks, marked_bytes, frozen_pages, faults;
    uint64_t copied_pages;   /* while the processes worked */
    uint64_t copied_nostack, copied_estimated, exit_faults, exit_copied;
    uint64_t shared_pages;   /* resident and shared, in the children that measured it */
    uint32_t shared_measured, children; /* children that measured themselves, of all children */
    int64_t own_kb;          /* the children's own memory at their end, summed over those measured */
    int64_t own_peak_kb;     /* the children's own memory at its largest, summed likewise */
    uint32_t lower_bounds;   /* processes whose copies are a lower bound */
    cg_row_t *rows;          /* while working first, most pages first; then during exit */
    size_t nrows, nrows_work;
    uint64_t row_pages;      /* pages in the working rows */
    uint64_t cause_pages[CG_CAUSES], cause_writes[CG_CAUSES]; /* the working rows, by cause */
    uint32_t lost, lost_sites, lost_writes, lost_rows;
    uint64_t lost_pages;
    bool lines;              /* may look up file:line (allocates: not in signal context) */
    /* Outside marked data (freeze/space.c): */
    uint64_t outside_pages;  /* copied while working, summed over the children that measured it */
    uint64_t outside_exit_pages; /* copied after they began to exit (their teardown) */
    uint32_t outside_measured;
    cg_space_line_t space[CG_SPACE_ROWS];
    size_t nspace;
    uint64_t watch_faults, watch_copied; /* first writes to watched pages, and those that copied */
    uint32_t watch_children;             /* children with a watched copy */
    uint64_t watch_cause_pages[CG_CAUSES]; /* the watched rows' pages, by cause */
    size_t nrows_marked;     /* of the working rows, those into marked data (first) */
    cg_advice_t advice[CG_ADVICE_MAX];
    size_t nadvice;
    uint64_t heap_lost;      /* heap blocks the watch left unrecorded */
} cg_report_t;

/* ---- "measure.c": this process, as the kernel has it ---------------------- */
void cg_measure_fork(cg_slot_t *s);
void cg_measure_self(cg_slot_t *s);

/* ---- "destination.c": where a report goes ------------------------------------ */
typedef struct cg_dest_s {
    int fd;
    enum { CG_DEST_FD, CG_DEST_TMPFILE, CG_DEST_PARTIAL } how; /* FD: written in place (stderr, a device, a FIFO) */
    bool root;
    bool named;                                                 /* cowguard chose the file's name (in a directory) */
    char path[4096];                                            /* the file to publish */
} cg_dest_t;
bool cg_dest_open(cg_dest_t *d, bool root);
bool cg_dest_close(cg_dest_t *d, bool failed);
int cg_dest_stderr(void);
bool cg_dest_per_process(void);
bool cg_dest_off(void);
void cg_report_keep_stderr(void);

/* ---- "model.c": the numbers, gathered --------------------------------------- */
void cg_report_build(cg_report_t *r, int32_t pid);
void cg_report_each(const cg_report_t *r, void (*fn)(const cg_proc_t *p, void *arg), void *arg);
const char *cg_exit_how_name(cg_exit_how_t how);
const char *cg_cause_remedy(cg_cause_t cause);
const char *cg_signal_name(int sig);

/* ---- "text.c", "json.c": the two forms --------------------------------------- */
void cg_report_text(const cg_report_t *r, cg_sink_t *out);
void cg_report_json(const cg_report_t *r, cg_sink_t *out);
#define CG_SUMMARY_LINE 640
void cg_report_summary(const cg_report_t *r, char lines[3][CG_SUMMARY_LINE]);

/* ---- "report.c": a report, written --------------------------------------------- */
bool cg_report_wanted(void);
bool cg_report_over_budget(void);
const char *cg_space_kind_name(cg_space_kind_t kind);
uint64_t cg_report_beside(const cg_report_t *r, cg_site_id_t written, cg_site_id_t *bystander, uint64_t *blocks);
void cg_report_write(int32_t pid, bool lines);

#pragma GCC visibility pop
#endif /* CG_REPORT_H */
