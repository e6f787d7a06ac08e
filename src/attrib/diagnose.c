/* diagnose.c: COWGUARD_POLICY=abort's report of the one write that ends
 * the process, sanitizer style: who wrote, where, the block and who
 * allocated it. It runs in the fault handler, into a static buffer. Source
 * lines are looked up as the report does (libdw, which allocates and
 * takes the loader's lock): the process is about to abort, and a reader
 * needs file:line most here; a watchdog aborts it anyway should the lookup
 * wait on a lock this very thread holds. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attrib.h"

static const char *role(void)
{
    return cg_board && !cg_board_is_root() ? "child" : "root process";
}

/* Append a stack, one symbolized frame a line, with file:line where the
 * object's debug information has it. */
static size_t put_stack(char *buf, size_t size, int pid, const uintptr_t *frames, uint32_t n)
{
    size_t len = 0;
    for (uint32_t i = 0; i < n && len < size; i++) {
        cg_frame_t f;
        const char *file;
        int line;
        cg_symbolize(frames[i], &f);
        if (f.python)
            len += cg_fmt(buf + len, size - len, "==%d==    #%u %s:%d in %s\n", pid, i, f.object, f.line,
                          f.function ? f.function : "??");
        else if (cg_srcline(frames[i], &file, &line))
            len += cg_fmt(buf + len, size - len, "==%d==    #%u %p in %s %s:%d (%s+0x%lx)\n", pid, i,
                          (void *)(frames[i] - 1), f.function ? f.function : "??", file, line, f.object,
                          (unsigned long)f.offset);
        else
            len += cg_fmt(buf + len, size - len, "==%d==    #%u %p in %s %s+0x%lx\n", pid, i,
                          (void *)(frames[i] - 1), f.function ? f.function : "??", f.object,
                          (unsigned long)f.offset);
    }
    return len;
}

static void lookup_too_long(int sig)
{
    static const char said[] = "cowguard: looking up source lines for the diagnostic took too long; aborting\n";
    cg_write_all(2, said, sizeof said - 1);
    cg_signal_default(SIGABRT);
    abort();
}

/* The watchdog: SIGALRM, open in this thread, in 5 s. */
static void watchdog(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = lookup_too_long;
    cg_next.sigaction(SIGALRM, &sa, NULL);
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    cg_next.pthread_sigmask(SIG_UNBLOCK, &alarm_only, NULL);
    alarm(5);
}

/* A write to frozen memory at addr, by writer (the program's stack, or,
 * kernel, the stack of the call the kernel wrote for): say so, and abort. */
void cg_diagnose_write(uintptr_t addr, const uintptr_t *writer, uint32_t nwriter, bool kernel)
{
    static char buf[16384]; /* static: the stack may be small (sigaltstack) */
    size_t n = 0;
    int pid = (int)getpid();
    watchdog();
    n += cg_fmt(buf + n, sizeof buf - n,
                "==%d==ERROR: cowguard: write to frozen memory at %p in %s %d (parent %d)\n", pid,
                (void *)addr, role(), pid, (int)getppid());
    if (nwriter && n < sizeof buf) {
        n += cg_fmt(buf + n, sizeof buf - n, "==%d==  written by%s:\n", pid,
                    kernel ? " the kernel, for a read-family call made" : "");
        if (n < sizeof buf) n += put_stack(buf + n, sizeof buf - n, pid, writer, nwriter);
    }
    cg_block_info_t b;
    if (n < sizeof buf && cg_block_info(addr, &b)) {
        const cg_site_t *site = cg_site_get(b.site);
        n += cg_fmt(buf + n, sizeof buf - n,
                    "==%d==  %p is %zu bytes inside a %zu-byte %s marked block at %p%s\n", pid,
                    (void *)addr, (size_t)(addr - b.start), b.size, b.live ? "live" : "freed",
                    (void *)b.start, site ? ", allocated by:" : "");
        if (site && n < sizeof buf) n += put_stack(buf + n, sizeof buf - n, pid, site->frames, site->nframes);
    }
    if (n < sizeof buf)
        n += cg_fmt(buf + n, sizeof buf - n,
                    "==%d==  COWGUARD_POLICY=abort; with COWGUARD_POLICY=report the page would be "
                    "copied and the program would go on\n==%d==ABORTING\n",
                    pid, pid);
    alarm(0);
    cg_write_all(2, buf, n < sizeof buf ? n : sizeof buf - 1);
    cg_signal_default(SIGABRT);
    abort();
}
