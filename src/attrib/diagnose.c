/* diagnose.c: COWGUARD_POLICY=abort's report of the one write that ends
 * the process, sanitizer style: who wrote, where, the block and who
 * allocated it. It runs in the fault handler, into a static buffer. Source
 * lines are looked up as the report does (libdw, which allocates and
 * takes the loader's lock): the process is about to abort, and a reader
 * needs file:line most here; a watchdog aborts it anyway should the lookup
 * wait on a lock this very thread holds. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attrib.h"

static const char *role(void)
{
    return cg_board && !cg_board_is_root() ? "child" : "root process";
}

/* The diagnostic, built here (static: the stack may be small, sigaltstack),
 * and how much of it is whole lines: what the watchdog writes, should the
 * lookup of source lines never return. */
static char buf[16384];
static volatile size_t whole;

/* Append a stack, one symbolized frame a line, with file:line where the
 * object's debug information has it. */
static size_t put_stack(size_t len, int pid, const uintptr_t *frames, uint32_t n)
{
    const size_t size = sizeof buf;
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
        if (len < size) whole = len;
    }
    return len;
}

static struct timespec deadline;

/* SIGALRM: the watchdog's, or a timer of the program's own (a POSIX timer
 * alarm() does not cancel) before it, which is not a reason to give up. */
static void lookup_too_long(int sig)
{
    (void)sig;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec < deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec)) return;
    char said[256];
    int pid = (int)getpid();
    size_t n = cg_fmt(said, sizeof said, "==%d==  (looking up source lines took too long: the rest is left out)\n"
                      "==%d==ABORTING\n", pid, pid);
    cg_write_all(2, buf, whole);
    cg_write_all(2, said, n < sizeof said ? n : sizeof said - 1);
    cg_signal_default(SIGABRT);
    abort();
}

/* The watchdog: SIGALRM, open in this thread, in 5 s. A SIGALRM of the
 * program's, pending while the fault handler blocked it (a signalfd loop,
 * an interval timer), is discarded first (SIG_IGN does that), and alarm()
 * replaces the program's own timer before the handler goes in. */
static void watchdog(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    cg_next.sigaction(SIGALRM, &sa, NULL);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 5;
    alarm(5);
    sa.sa_handler = lookup_too_long;
    cg_next.sigaction(SIGALRM, &sa, NULL);
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    cg_next.pthread_sigmask(SIG_UNBLOCK, &alarm_only, NULL);
}

/* A write to frozen memory at addr, by writer (the program's stack, or,
 * kernel, the stack of the call the kernel wrote for): say so, and abort. */
void cg_diagnose_write(uintptr_t addr, const uintptr_t *writer, uint32_t nwriter, bool kernel)
{
    size_t n = 0;
    int pid = (int)getpid();
    whole = 0;
    n += cg_fmt(buf + n, sizeof buf - n,
                "==%d==ERROR: cowguard: write to frozen memory at %p in %s %d (parent %d)\n", pid,
                (void *)addr, role(), pid, (int)getppid());
    if (n < sizeof buf) whole = n;
    watchdog();
    if (nwriter && n < sizeof buf) {
        n += cg_fmt(buf + n, sizeof buf - n, "==%d==  written by%s:\n", pid,
                    kernel ? " the kernel, for a read-family call made" : "");
        if (n < sizeof buf) whole = n;
        if (n < sizeof buf) n = put_stack(n, pid, writer, nwriter);
    }
    cg_block_info_t b;
    if (n < sizeof buf && cg_block_info(addr, &b)) {
        const cg_site_t *site = cg_site_get(b.site);
        n += cg_fmt(buf + n, sizeof buf - n,
                    "==%d==  %p is %zu bytes inside a %zu-byte %s marked block at %p%s\n", pid,
                    (void *)addr, (size_t)(addr - b.start), b.size, b.live ? "live" : "freed",
                    (void *)b.start, site ? ", allocated by:" : "");
        if (n < sizeof buf) whole = n;
        if (site && n < sizeof buf) n = put_stack(n, pid, site->frames, site->nframes);
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
