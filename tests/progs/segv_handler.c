/* segv_handler.c: a program with SIGSEGV handling of its own, run with
 * marked data frozen, so that cowguard's handler sits in front of it.
 *
 * usage: segv_handler MODE
 *   sigaction-after   the program installs its SA_SIGINFO handler after
 *                     cowguard has frozen data (and installed its own)
 *   sigaction-before  ... before anything is frozen
 *   signal-after      the handler is installed with signal()
 *   resethand         SA_RESETHAND: the first fault is handled, the second kills
 *   raise             raise(SIGSEGV) reaches the program's handler as SI_TKILL
 *   raise-default     raise(SIGSEGV) without a handler kills by SIGSEGV
 *   default           a write to a read-only page without a handler kills by SIGSEGV
 *   nodefer, defer    with and without SA_NODEFER: prints whether SIGSEGV was
 *                     blocked while the handler ran ("blocked=0" or "=1")
 *   ignore-raise      SIG_IGN, then raise(SIGSEGV): ignored, the program goes on
 *   ignore-fault      SIG_IGN, then a real fault: the kernel kills by SIGSEGV
 *
 * The handled modes fault on a page the program protected itself; the
 * handler checks what it received, unprotects the page and returns, so the
 * write completes. Then the program writes its frozen marked data, which must
 * not reach its handler. Prints "ok" and exits 0 when all held. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cowguard.h"

static char *own_page;                 /* the page the program protects itself */
static volatile sig_atomic_t calls;    /* handler invocations */
static volatile sig_atomic_t bad_info; /* a handler saw the wrong siginfo */
static volatile int expect_code;
static volatile sig_atomic_t blocked = -1; /* SIGSEGV blocked inside the handler */

static void on_segv_info(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    calls++;
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    blocked = sigismember(&now, SIGSEGV);
    if (sig != SIGSEGV || si->si_code != expect_code) bad_info = 1;
    if (expect_code == SEGV_ACCERR) {
        if (si->si_addr != own_page + 100) bad_info = 1;
        mprotect(own_page, 4096, PROT_READ | PROT_WRITE);
    }
}

static void on_segv_plain(int sig)
{
    calls++;
    if (sig != SIGSEGV) bad_info = 1;
    mprotect(own_page, 4096, PROT_READ | PROT_WRITE);
}

static void install(const char *how, int flags)
{
    if (strcmp(how, "signal") == 0) {
        if (signal(SIGSEGV, on_segv_plain) == SIG_ERR) exit(10);
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv_info;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0) exit(10);
}

static char *frozen_data(void)
{
    char *d = cowguard_malloc(64 * 1024);
    memset(d, 'd', 64 * 1024);
    cowguard_freeze(); /* as a fork would; cowguard now handles SIGSEGV */
    return d;
}

static void fault_own_page(void)
{
    mprotect(own_page, 4096, PROT_READ);
    expect_code = SEGV_ACCERR;
    *(volatile char *)(own_page + 100) = 'x'; /* faults once; the handler unprotects */
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *mode = argv[1];
    own_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (own_page == MAP_FAILED) return 2;
    char *data;

    if (strcmp(mode, "default") == 0) {
        data = frozen_data();
        mprotect(own_page, 4096, PROT_READ);
        *(volatile char *)(own_page + 100) = 'x'; /* no handler: must die by SIGSEGV */
        return 20;
    }
    if (strcmp(mode, "raise-default") == 0) {
        data = frozen_data();
        raise(SIGSEGV);
        return 20;
    }
    if (strncmp(mode, "ignore-", 7) == 0) {
        data = frozen_data();
        if (signal(SIGSEGV, SIG_IGN) == SIG_ERR) return 10;
        if (strcmp(mode, "ignore-raise") == 0) {
            raise(SIGSEGV); /* ignored */
            printf("ok\n");
            return 0;
        }
        mprotect(own_page, 4096, PROT_READ);
        *(volatile char *)(own_page + 100) = 'x'; /* a fault cannot be ignored */
        return 20;
    }
    if (strcmp(mode, "nodefer") == 0 || strcmp(mode, "defer") == 0) {
        data = frozen_data();
        install("sigaction", strcmp(mode, "nodefer") == 0 ? SA_NODEFER : 0);
        fault_own_page();
        printf("calls=%d blocked=%d\n", (int)calls, (int)blocked);
        return calls == 1 && !bad_info ? 0 : 1;
    }
    if (strcmp(mode, "sigaction-before") == 0) {
        install("sigaction", 0);
        data = frozen_data();
    } else {
        data = frozen_data();
        install(strncmp(mode, "signal", 6) == 0 ? "signal" : "sigaction",
                strcmp(mode, "resethand") == 0 ? SA_RESETHAND : 0);
    }

    if (strcmp(mode, "raise") == 0) {
        expect_code = SI_TKILL;
        raise(SIGSEGV);
    } else {
        fault_own_page();
    }
    if (calls != 1 || bad_info || (strcmp(mode, "raise") != 0 && own_page[100] != 'x')) {
        printf("handler calls=%d bad_info=%d\n", (int)calls, (int)bad_info);
        return 1;
    }

    /* The program asks what is installed: its own handler, not cowguard's. */
    struct sigaction cur;
    sigaction(SIGSEGV, NULL, &cur);
    void *mine = strcmp(mode, "signal-after") == 0 ? (void *)on_segv_plain : (void *)on_segv_info;
    void *want = strcmp(mode, "resethand") == 0 ? (void *)SIG_DFL : mine;
    void *got = (cur.sa_flags & SA_SIGINFO) ? (void *)cur.sa_sigaction : (void *)cur.sa_handler;
    if (got != want) {
        printf("sigaction reports %p, expected %p\n", got, want);
        return 1;
    }

    /* A write to frozen marked data is cowguard's: the page is thawed and the
     * program's handler is not involved. */
    *(volatile char *)(data + 5000) = 'w';
    if (data[5000] != 'w' || calls != 1) {
        printf("frozen write: data=%c calls=%d\n", data[5000], (int)calls);
        return 1;
    }

    if (strcmp(mode, "resethand") == 0) {
        fault_own_page(); /* the handler was reset: this kills */
        return 21;
    }
    printf("ok\n");
    return 0;
}
