/* measure.c: what the kernel says about this process: its resident set
 * as a forked child starts, and at its end Private_Dirty and Pss
 * (/proc/self/smaps_rollup), the high-water mark of its resident set
 * (/proc/self/status) and, from pagemap, which frozen pages it still shares
 * and which copies it holds (freeze.c). Plain system calls into static
 * buffers: this runs in _exit, which a signal handler may call. */
#include <fcntl.h>
#include <string.h>

#include "report.h"
#include "sys.h"

/* From /proc/self/status: the resident set now, its high-water mark, and
 * its part that is not private anonymous memory: files, and shared memory
 * (the tree's board, which the children write; a server's shared buffers). */
static void rss(int64_t *now_kb, int64_t *peak_kb, int64_t *file_kb)
{
    static char buf[4096];
    *now_kb = *peak_kb = *file_kb = -1;
    if (!cg_proc_read("/proc/self/status", buf, sizeof buf)) return;
    *now_kb = cg_proc_field_kb(buf, "VmRSS");
    *peak_kb = cg_proc_field_kb(buf, "VmHWM");
    int64_t file = cg_proc_field_kb(buf, "RssFile"), shmem = cg_proc_field_kb(buf, "RssShmem");
    *file_kb = file < 0 ? -1 : file + (shmem > 0 ? shmem : 0);
}

/* In a forked child: its resident set as it starts, so that what it adds
 * for itself can be told at its end. Copies of shared pages do not change
 * the resident set; new memory does, and so do the pages of files (the
 * program's code) a child faults in again, since a fork does not hand
 * those on, and of shared memory it touches: their growth is taken off at
 * the end, and so is cowguard's own memory. */
static uint64_t own_at_fork; /* cowguard's own pages resident as this child started */

void cg_measure_fork(cg_slot_t *s)
{
    /* The high-water mark comes with the parent's memory description: start
     * it afresh (clear_refs 5 resets it to the current size, nothing else). */
    int fd = cg_sys_open("/proc/self/clear_refs", O_WRONLY);
    bool reset = fd >= 0 && syscall(SYS_write, fd, "5", 1) == 1;
    if (fd >= 0) cg_sys_close(fd);
    int64_t now, peak, file;
    rss(&now, &peak, &file);
    (void)cg_own_transient(true); /* the parent's scratch memory is not this child's */
    (void)cg_space_own_pages(&own_at_fork);
    if (!s) return;
    s->rss_at_fork_kb = reset ? now : -1;
    s->file_at_fork_kb = file;
}

static bool rollup(int64_t *private_dirty_kb, int64_t *pss_kb)
{
    static char buf[4096]; /* once per process: no big frame on a small signal stack */
    if (!cg_proc_read("/proc/self/smaps_rollup", buf, sizeof buf)) return false;
    *private_dirty_kb = cg_proc_field_kb(buf, "Private_Dirty");
    *pss_kb = cg_proc_field_kb(buf, "Pss");
    return *private_dirty_kb >= 0 && *pss_kb >= 0;
}

/* The rows of one process, one per kind and object (an object's data and
 * bss are two mappings, anonymous memory many): added to the board's once. */
typedef struct {
    size_t n;
    int64_t total;
    struct {
        cg_space_kind_t kind;
        const char *name;
        uint64_t pages;
    } row[64];
} space_t;

static void space_row(cg_space_kind_t kind, const char *name, uint64_t pages, void *arg)
{
    space_t *sp = arg;
    sp->total += (int64_t)pages;
    size_t i = 0;
    while (i < sp->n && (sp->row[i].kind != kind || strcmp(sp->row[i].name, name) != 0)) i++;
    if (i == sp->n) {
        if (sp->n == sizeof sp->row / sizeof sp->row[0]) {
            cg_board_note_space(kind, name, pages);
            return;
        }
        sp->row[sp->n++] = (__typeof__(sp->row[0])){ kind, name, 0 };
    }
    sp->row[i].pages += pages;
}

/* Fill s with this process's numbers, as the kernel has them now. Pending
 * pages are settled first: its copies are all counted. A forked child
 * also measures what it copied outside marked data (freeze/space.c). */
void cg_measure_self(cg_slot_t *s)
{
    if (!s) return;
    cg_settle_all(true);
    static space_t sp; /* static: the exit path may run on a small signal stack */
    sp.n = 0;
    sp.total = 0;
    uint64_t late = 0;
    if (cg_space_measure(space_row, &sp, &late)) {
        for (size_t i = 0; i < sp.n; i++) cg_board_note_space(sp.row[i].kind, sp.row[i].name, sp.row[i].pages);
        atomic_store(&s->outside_pages, sp.total);
        atomic_store(&s->outside_exit_pages, (int64_t)late);
    }
    int64_t pd = -1, pss = -1;
    if (!rollup(&pd, &pss)) pd = pss = -1;
    uint64_t shared, held;
    cg_freeze_residency(&shared, &held);
    s->private_dirty_kb = pd;
    s->pss_kb = pss;
    s->shared_pages = (int64_t)shared;
    /* own: Private_Dirty but the copies it holds, of marked data and of
     * the rest, and but cowguard's own tables */
    uint64_t own_present;
    int64_t mine_kb = (int64_t)(cg_space_own_pages(&own_present) * (CG_PAGE / 1024));
    /* what cowguard's own memory added to the resident set since the fork */
    int64_t mine_grew_kb = own_present > own_at_fork ? (int64_t)((own_present - own_at_fork) * (CG_PAGE / 1024)) : 0;
    int64_t copies_kb = (int64_t)((held + late) * (CG_PAGE / 1024)) +
                        (sp.total > 0 ? sp.total * (int64_t)(CG_PAGE / 1024) : 0);
    s->own_kb = pd < 0 ? -1 : pd > copies_kb + mine_kb ? pd - copies_kb - mine_kb : 0;
    int64_t now, peak, file;
    rss(&now, &peak, &file);
    if (peak < 0 || s->rss_at_fork_kb < 0 || file < 0 || s->file_at_fork_kb < 0) {
        s->own_peak_kb = -1;
    } else {
        int64_t refaulted = file > s->file_at_fork_kb ? file - s->file_at_fork_kb : 0;
        int64_t transient_kb = (int64_t)(cg_own_transient(false) / 1024);
        int64_t grew = peak - s->rss_at_fork_kb - refaulted - mine_grew_kb - transient_kb;
        int64_t floor = s->own_kb > 0 ? s->own_kb : 0; /* its peak is no less than its end */
        s->own_peak_kb = grew > floor ? grew : floor;
    }
    atomic_store(&s->measured, 1);
}
