/* report_text.c: the text report, sanitizer style (==PID== on each line). */
#include <unistd.h>

#include "config.h"

#include "internal.h"

static const char *policy_name(void)
{
    static const char *names[] = { "report", "abort", "off" };
    return names[cg_opt.policy < 3 ? cg_opt.policy : 0];
}

void cg_report_text(cg_sink_t *out)
{
    cg_board_t *b = cg_board;
    int pid = (int)getpid();
    uint32_t n = atomic_load(&b->nslots);
    uint64_t total_faults = 0, writers = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t f = atomic_load(&b->slots[i].faults);
        total_faults += f;
        writers += f != 0;
    }
    char frozen[32], live[32];
    uint64_t pages = atomic_load(&b->max_frozen_pages);
    cg_bytes_text(pages * CG_PAGE, frozen, sizeof frozen);
    cg_bytes_text(atomic_load(&b->max_frozen_bytes), live, sizeof live);
    uint64_t forks = atomic_load(&b->forks);

    cg_sink_printf(out, "==%d== cowguard %s: copy-on-write report (policy %s)\n", pid,
                   PACKAGE_VERSION, policy_name());
    cg_sink_printf(out, "==%d== frozen: %s in %llu pages, holding %s of marked blocks, at %llu fork%s\n",
                   pid, frozen, (unsigned long long)pages, live, (unsigned long long)forks,
                   forks == 1 ? "" : "s");
    cg_sink_printf(out, "==%d== processes: %u; trapped writes: %llu, in %llu process%s\n", pid, n,
                   (unsigned long long)total_faults, (unsigned long long)writers,
                   writers == 1 ? "" : "es");
    cg_sink_printf(out, "==%d==\n==%d==  %8s %8s  %-6s %14s\n", pid, pid, "pid", "ppid", "role",
                   "trapped writes");
    for (uint32_t i = 0; i < n; i++) {
        cg_slot_t *s = &b->slots[i];
        int32_t spid = atomic_load(&s->pid);
        if (!spid) continue;
        cg_sink_printf(out, "==%d==  %8d %8d  %-6s %14llu\n", pid, (int)spid, (int)s->ppid,
                       spid == b->root_pid ? "root" : "child",
                       (unsigned long long)atomic_load(&s->faults));
    }
    uint32_t lost = atomic_load(&b->lost);
    if (lost)
        cg_sink_printf(out, "==%d== warning: %u processes found no slot on the board and are not counted\n",
                       pid, lost);
}
