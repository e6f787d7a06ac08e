/* wait.c: the exported wait family. Only a reaper learns that a
 * child was killed by a signal (Pool.terminate's SIGTERM, the OOM killer's
 * SIGKILL); each status it collects is noted on the child's board slot.
 * The caller's arguments and results pass through unchanged. */
#include <errno.h>
#include <signal.h>

#include "interpose.h"

/* The last process that could share this one's frozen pages is gone:
 * thaw them all, so that the writes this process makes from now on (a
 * Python interpreter tearing down its objects: thousands of them) do not
 * each trap to copy nothing. They stay pending, and any that were still
 * shared are counted when settled. The next fork freezes again. Only for
 * a fork's freeze under the report policy: a program that froze with
 * cowguard_freeze(), or asked to abort on every write, keeps its pages
 * frozen. Skipped when another thread holds the arena (a SIGCHLD handler
 * may have interrupted this one in malloc). */
static void thaw_if_alone(void)
{
    if (cg_opt.policy != CG_POLICY_REPORT || !cg_frozen_by_fork() || !cg_frozen_pages() ||
        cg_board_others_alive() || !cg_arena_trylock())
        return;
    cg_thaw_all();
    cg_arena_unlock();
}

static void note(pid_t pid, int status)
{
    if (pid <= 0) return;
    int saved = errno;
    /* a child no slot knows: started by vfork, posix_spawn or clone */
    if (!cg_board || !cg_board_note_reaped(pid, status)) cg_exit_note_foreign();
    if (cg_board) {
        cg_exit_note_reaped(pid);
        thaw_if_alone();
    }
    errno = saved;
}

CG_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
    cg_init();
    int st = 0;
    pid_t r = cg_next.waitpid(pid, &st, options);
    if (r > 0 && status) *status = st;
    note(r, st);
    return r;
}

CG_EXPORT pid_t wait(int *status)
{
    cg_init();
    int st = 0;
    pid_t r = cg_next.wait(&st);
    if (r > 0 && status) *status = st;
    note(r, st);
    return r;
}

/* What the kernel fills for the caller (a wait's rusage or siginfo) is
 * kept writable while the call runs: a status reaped into an EFAULT would
 * be lost for good. */
#define KEEPING(dst, call)                                                   \
    __extension__({                                                          \
        int slot_ = cg_keep_call_begin((uintptr_t)(dst), (dst) ? sizeof *(dst) : 0); \
        __typeof__(call) r_ = (call);                                        \
        cg_keep_call_end(slot_);                                             \
        r_;                                                                  \
    })

CG_EXPORT pid_t wait3(int *status, int options, struct rusage *usage)
{
    cg_init();
    int st = 0;
    pid_t r = KEEPING(usage, cg_next.wait3(&st, options, usage));
    if (r > 0 && status) *status = st;
    note(r, st);
    return r;
}

CG_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *usage)
{
    cg_init();
    int st = 0;
    pid_t r = KEEPING(usage, cg_next.wait4(pid, &st, options, usage));
    if (r > 0 && status) *status = st;
    note(r, st);
    return r;
}

CG_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
    cg_init();
    int r = KEEPING(info, cg_next.waitid(idtype, id, info, options));
    if (r == 0 && info && info->si_pid > 0 && !(options & WNOWAIT)) {
        if (info->si_code == CLD_EXITED) note(info->si_pid, (info->si_status & 0xff) << 8);
        else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED) note(info->si_pid, info->si_status & 0x7f);
    }
    return r;
}
