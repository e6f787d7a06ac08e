/* signal_edges.c: the ugly cases of signal handling, with marked data
 * frozen (cowguard_freeze) so that cowguard's handler sits in front.
 *
 * usage: signal_edges MODE
 *   handler-write   the program's SIGSEGV handler (no SA_NODEFER), called
 *                   for a fault on a page it protected itself, writes frozen
 *                   data: trapped like any other write
 *   longjmp-segv    the program's handler leaves by siglongjmp, 100 times;
 *                   afterwards its view of SIGSEGV is unblocked, masks work,
 *                   its handler still gets the next fault, and fork returns
 *   longjmp-alarm   a SIGALRM handler fires every 100 us and jumps out with
 *                   siglongjmp while the program writes frozen pages (each
 *                   write traps into cowguard's handler, unwinding); then
 *                   fork must return and masks still work
 *   same-struct     sigaction(SIGSEGV, &sa, &sa) installs sa's handler and
 *                   returns the old action in sa
 *   fork-unwinding  threads take stacks (marked allocations with
 *                   backtraces) while the main thread forks 300 times;
 *                   every child takes a stack and exits
 * Prints "ok" and exits 0 when all held. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cowguard.h"

#define TABLE (1 << 20)

static unsigned char *table; /* marked and frozen */
static char *own;            /* a page the program protects itself */
static volatile sig_atomic_t calls;
static sigjmp_buf jb;

static void freeze_table(void)
{
    table = cowguard_malloc(TABLE);
    memset(table, 'p', TABLE);
    CHECK(!cowguard_active() || cowguard_freeze() == 0);
}

static void protect_own(void)
{
    own = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void on_segv_write(int sig, siginfo_t *si, void *uc)
{
    calls++;
    table[4096 * calls] = 'h'; /* a frozen page, from inside the handler */
    mprotect(own, 4096, PROT_READ | PROT_WRITE);
}

static int mode_handler_write(void)
{
    freeze_table();
    protect_own();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv_write;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    own[10] = 'x';
    CHECK(calls == 1 && own[10] == 'x' && table[4096] == 'h');
    return 0;
}

static void on_segv_jump(int sig)
{
    calls++;
    siglongjmp(jb, 1);
}

static int segv_blocked(void)
{
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, SIGSEGV);
}

static int child_exit_status(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        table[TABLE - 1] = 'c'; /* a frozen write in the child */
        _exit(table[TABLE - 1] == 'c' ? 0 : 1);
    }
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int mode_longjmp_segv(void)
{
    freeze_table();
    protect_own();
    signal(SIGSEGV, on_segv_jump);
    for (int i = 0; i < 100; i++) {
        if (sigsetjmp(jb, 1) == 0) {
            own[0] = 'x'; /* a real fault: the handler jumps back here */
            CHECK(0);
        }
        table[4096 * (i + 1)] = 'w'; /* a frozen write after each jump */
    }
    CHECK(calls == 100);
    CHECK(segv_blocked() == 0);
    /* A thread that blocks every signal still traps frozen writes (the
     * kernel kills on a fault with SIGSEGV really blocked). */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    table[TABLE - 4096] = 'b';
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK(table[TABLE - 4096] == 'b');
    /* Masks still work: SIGUSR1 blocked stays pending. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    signal(SIGUSR1, SIG_DFL); /* would kill if it got through */
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1);
    sigset_t pending;
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGUSR1) == 1);
    signal(SIGUSR1, SIG_IGN);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    /* The program's handler still gets the next fault. */
    if (sigsetjmp(jb, 1) == 0) own[0] = 'y';
    CHECK(calls == 101);
    CHECK(child_exit_status() == 0);
    return 0;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    alarms++;
    siglongjmp(jb, 1);
}

static int mode_longjmp_alarm(void)
{
    freeze_table();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);
    volatile size_t page = 0;
    while (alarms < 300 && page < TABLE / 4096) {
        if (sigsetjmp(jb, 1) == 0) {
            for (; page < TABLE / 4096; page++) table[page * 4096] = 'a';
        }
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    CHECK(segv_blocked() == 0);
    for (int i = 0; i < 20; i++) CHECK(child_exit_status() == 0); /* never hangs */
    return 0;
}

static void on_segv_once(int sig)
{
    calls++;
    mprotect(own, 4096, PROT_READ | PROT_WRITE);
}

static int mode_same_struct(void)
{
    freeze_table();
    protect_own();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv_once;
    /* Through a pointer without restrict: the aliasing is the point. */
    int (*install)(int, const struct sigaction *, struct sigaction *) = sigaction;
    CHECK(install(SIGSEGV, &sa, &sa) == 0);
    CHECK(sa.sa_handler == SIG_DFL); /* the old action came back in sa */
    own[1] = 'x';                    /* handled by on_segv_once, not killed */
    CHECK(calls == 1);
    struct sigaction now;
    CHECK(sigaction(SIGSEGV, NULL, &now) == 0 && now.sa_handler == on_segv_once);
    return 0;
}

static atomic_int stop;

static void *allocating(void *arg)
{
    while (!atomic_load(&stop)) {
        cowguard_readonly_begin();
        void *p = malloc(64 + (rand() & 255));
        cowguard_readonly_end();
        free(p);
    }
    return NULL;
}

static int mode_fork_unwinding(void)
{
    freeze_table();
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, allocating, NULL);
    for (int i = 0; i < 300; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            cowguard_readonly_begin();
            void *p = malloc(100); /* a stack taken in the child */
            cowguard_readonly_end();
            free(p);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *m = argv[1];
    int r = 2;
    if (strcmp(m, "handler-write") == 0) r = mode_handler_write();
    else if (strcmp(m, "longjmp-segv") == 0) r = mode_longjmp_segv();
    else if (strcmp(m, "longjmp-alarm") == 0) r = mode_longjmp_alarm();
    else if (strcmp(m, "same-struct") == 0) r = mode_same_struct();
    else if (strcmp(m, "fork-unwinding") == 0) r = mode_fork_unwinding();
    if (r != 0) return r;
    printf("%s\n", failures ? "BAD" : "ok");
    return failures ? 1 : 0;
}
